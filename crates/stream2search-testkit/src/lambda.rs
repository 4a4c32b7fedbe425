//! A function of this workspace as Lambda runs it: under `cargo lambda watch`, the Lambda
//! Runtime API emulator, invoked over HTTP or with `cargo lambda invoke`.
//!
//! ```no_run
//! use stream2search_testkit::lambda::CargoLambda;
//!
//! let Some(cargo_lambda) = CargoLambda::find("my test") else {
//!     return; // printed "SKIPPED: ..." (or panicked, under STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1)
//! };
//! let watch = cargo_lambda.watch(
//!     &stream2search_testkit::workspace().join("examples/products"),
//!     [("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9200")],
//!     &std::env::temp_dir().join("watch.log"),
//! );
//! // The first invocation builds the function; the emulator waits for it.
//! let answer = watch.invoke("products", ["--data-ascii", "{\"Records\":[]}"]);
//! assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
//! // Stopped, with the function it runs, when `watch` is dropped.
//! ```
//!
//! `cargo lambda` comes from the project's Python venv (`.dev/venv/bin`, where `dev/moto start`
//! installs it) or else `PATH`. Without it the test prints `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1`, which makes it a failure. The emulator builds the
//! function into its own target directory (`target/cargo-lambda-watch`), so it never waits on
//! the lock of the build running the tests.

use std::ffi::{OsStr, OsString};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `cargo lambda watch` may take to listen.
const START_LIMIT: Duration = Duration::from_secs(120);

/// The directory holding the `cargo-lambda` executable.
#[derive(Debug, Clone)]
pub struct CargoLambda {
    dir: PathBuf,
}

impl CargoLambda {
    /// `cargo-lambda` in the project's venv, else on `PATH`; `None` after a loud
    /// `SKIPPED: TEST: ...`, or a panic under `STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1`.
    pub fn find(test: &str) -> Option<CargoLambda> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let venv = crate::workspace().join(".dev/venv/bin");
        for dir in std::iter::once(venv).chain(std::env::split_paths(&path)) {
            if dir.join("cargo-lambda").is_file() {
                return Some(CargoLambda { dir });
            }
        }
        let why = "cargo-lambda is not installed (pip install cargo-lambda, or dev/moto start)";
        let required = std::env::var("STREAM2SEARCH_REQUIRE_CARGO_LAMBDA").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "cargo-lambda is required (STREAM2SEARCH_REQUIRE_CARGO_LAMBDA=1): {why}"
        );
        eprintln!("SKIPPED: {test}: {why}");
        None
    }

    /// `cargo`, with `cargo-lambda`'s directory first on `PATH`.
    pub fn cargo(&self) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path: OsString = std::env::join_paths(
            std::iter::once(self.dir.clone()).chain(std::env::split_paths(&path)),
        )
        .expect("PATH with cargo-lambda's directory");
        let mut cargo = Command::new("cargo");
        cargo.env("PATH", path);
        cargo
    }

    /// Starts `cargo lambda watch` for the package in `package` on a free loopback port, with
    /// `envs` set, its output (stdout and stderr) in the file `log`; returns once it listens.
    /// Panics when it does not within two minutes.
    pub fn watch<K, V>(
        &self,
        package: &Path,
        envs: impl IntoIterator<Item = (K, V)>,
        log: &Path,
    ) -> Watch
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let out = std::fs::File::create(log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let err = out.try_clone().expect("the log file, twice");
        let mut command = self.cargo();
        command
            .env(
                "CARGO_TARGET_DIR",
                crate::workspace().join("target/cargo-lambda-watch"),
            )
            .envs(envs)
            .current_dir(package)
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: dropping the watch stops the function it runs too.
            .process_group(0);
        let watch = Watch {
            child: command.spawn().expect("cargo lambda watch starts"),
            cargo: self.clone(),
            package: package.to_path_buf(),
            port,
            log: log.to_path_buf(),
        };
        let limit = Instant::now() + START_LIMIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < limit,
                "cargo lambda watch did not listen within {START_LIMIT:?}: {}",
                watch.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        watch
    }
}

/// `cargo lambda watch` and the function it runs (one process group), stopped when dropped.
#[derive(Debug)]
pub struct Watch {
    child: Child,
    cargo: CargoLambda,
    package: PathBuf,
    port: u16,
    log: PathBuf,
}

impl Watch {
    /// The emulator's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL that invokes `function` (Lambda's Invoke API, as a function URL client calls it).
    pub fn invocation_url(&self, function: &str) -> String {
        format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations",
            self.port
        )
    }

    /// `cargo lambda invoke FUNCTION DATA...` (`DATA`: `--data-file PATH`, `--data-ascii JSON`):
    /// the function's answer. Panics when the invocation fails or the answer is not JSON.
    pub fn invoke(
        &self,
        function: &str,
        data: impl IntoIterator<Item = impl AsRef<OsStr>>,
    ) -> serde_json::Value {
        let out = self
            .cargo
            .cargo()
            .current_dir(&self.package)
            .args([
                "lambda",
                "invoke",
                function,
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &self.port.to_string()])
            .args(data)
            .output()
            .expect("cargo lambda invoke runs");
        assert!(
            out.status.success(),
            "cargo lambda invoke {function}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// The last 3,000 bytes of the emulator's output, for a failing assertion's message.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(&log[log.len().saturating_sub(3000)..]).into_owned()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
