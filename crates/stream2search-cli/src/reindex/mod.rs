//! `stream2search reindex NAME`: the next generation of a live index, with a new mapping, while
//! the stream keeps running (`docs/reindex.md`).
//!
//! Steps, each recorded in a state file once done, so that a rerun goes on from there:
//! 1. create `NAME-00000N+1` with the new mapping (the body `index create` sends, no aliases);
//! 2. put the alias `NAME-mirror` on it: the stream function writes every change there too;
//! 3. wait until every function instance mirrors, then run `stream2search backfill --index
//!    NAME-00000N+1` with the options given after `--` (a failed backfill stops here; a rerun
//!    resumes it from its checkpoint);
//! 4. verify the new generation against the table (`stream2search verify`); differences are
//!    repaired (`verify --repair`) and verified again, and one that is left stops here, before
//!    the switch, with searches still on the old generation (a rerun verifies again);
//! 5. add the old generation to `NAME-mirror`, wait until every instance mirrors to both, then
//!    one `_aliases` call moves `NAME` and `NAME-read` to the new generation and leaves
//!    `NAME-mirror` on the old one only, which so stays fresh;
//! 6. with `--delete-old`, delete the old generation (and with it `NAME-mirror`).
//!
//! Steps 3 and 4 are this program's `backfill` and `verify`, as subprocesses (`child`).

mod child;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use stream2search_client::Client;

use crate::index::mapping::{self, Options, UserMapping};
use crate::{AuthKind, Connection};

/// Arguments of `stream2search reindex`.
#[derive(clap::Args)]
pub struct Reindex {
    /// The write alias given to `index create`.
    name: String,
    /// Mappings for named attributes of the new generation, as `index create --mapping` takes
    /// them.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Primary shards of the new generation (default: the server's).
    #[arg(long)]
    shards: Option<u32>,
    /// Replicas of the new generation (default: the server's).
    #[arg(long)]
    replicas: Option<u32>,
    /// How long the new generation remembers a delete (index.gc_deletes).
    #[arg(long, default_value = mapping::DEFAULT_GC_DELETES)]
    gc_deletes: String,
    /// Most fields in the new generation's mapping (index.mapping.total_fields.limit).
    #[arg(long)]
    field_limit: Option<u32>,
    #[command(flatten)]
    connection: Connection,
    /// The stream functions' STREAM2SEARCH_MIRROR_REFRESH_SECS (and `poll`'s).
    #[arg(long, default_value_t = 30)]
    mirror_refresh: u64,
    /// The stream function's timeout: the longest one invocation may still write with the
    /// mirror it learned before an alias change.
    #[arg(long, default_value_t = 900)]
    function_timeout: u64,
    /// Wait this many seconds after each alias change instead of the safe times computed from
    /// --mirror-refresh and --function-timeout. Only safe when no stream function runs.
    #[arg(long)]
    settle: Option<u64>,
    /// The state file: the generations and the steps done (default
    /// stream2search-reindex-NAME.json).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Delete the old generation once searches and writes use the new one.
    #[arg(long)]
    delete_old: bool,
    /// Limit for each request, in seconds.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The backfill's options (after `--`): the table and how to read it, the planner options
    /// the stream function uses. `--index` is the new generation; `--endpoint`, `--allow-http`,
    /// `--auth` and `--region` are this command's. Step 4's verify gets the table and the
    /// options it shares with the backfill: `--table` is required, with `--export` too.
    #[arg(last = true)]
    backfill: Vec<String>,
}

/// How far a reindex got. Each step is done when the state says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Step {
    Created,
    Mirrored,
    Backfilled,
    Verified,
    Widened,
    Switched,
    Deleted,
}

/// The state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    name: String,
    old: String,
    new: String,
    step: Step,
    /// When `NAME-mirror` was put on the new generation (seconds since the epoch).
    mirrored_at: Option<u64>,
    /// When the old generation was added to `NAME-mirror`.
    widened_at: Option<u64>,
}

/// Seconds to wait after the mirror is put on the new generation before the backfill starts:
/// every change an instance may still handle without mirroring was made before the refresh
/// ran out, and the backfill's version is its scan start less 300 s; one more minute for the
/// clocks.
fn backfill_wait(refresh: u64) -> u64 {
    refresh + 300 + 60
}

/// Seconds to wait after the mirror is widened to both generations before the switch: every
/// instance has looked the mirror up again, and every invocation that started before has ended.
fn switch_wait(refresh: u64, function_timeout: u64) -> u64 {
    refresh + function_timeout + 30
}

/// The generation after `index` (`products-000001` → `products-000002`), if it is one of
/// `name`'s.
fn next_generation(name: &str, index: &str) -> Option<String> {
    let n: u32 = index
        .strip_prefix(name)?
        .strip_prefix('-')
        .filter(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()?;
    (n < 999_999).then(|| format!("{name}-{:06}", n + 1))
}

/// The one `_aliases` call of the switch.
fn switch_actions(name: &str, old: &str, new: &str) -> Value {
    let read = format!("{name}-read");
    let mirror = format!("{name}-mirror");
    json!({"actions": [
        {"remove": {"index": old, "alias": name}},
        {"add": {"index": new, "alias": name, "is_write_index": true}},
        {"remove": {"index": old, "alias": read}},
        {"add": {"index": new, "alias": read}},
        {"remove": {"index": new, "alias": mirror}},
    ]})
}

/// A failure: said on stderr, with the exit status.
struct Stop(u8, String);

fn failed(message: impl Into<String>) -> Stop {
    Stop(2, message.into())
}

/// The server, for one command.
struct Api {
    runtime: tokio::runtime::Runtime,
    client: Client,
    timeout: Duration,
}

impl Api {
    /// `METHOD path`: the status and the JSON answer (`Null` when empty).
    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(u16, Value), Stop> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let what = format!("{method} /{path}");
        let (status, answer) = self
            .runtime
            .block_on(
                self.client
                    .call(method, path, bytes.as_deref(), self.timeout),
            )
            .map_err(|e| failed(format!("{what}: {e}")))?;
        let json = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer).into()));
        Ok((status, json))
    }

    /// Like [`Api::call`], any status but 2xx a failure.
    fn ok(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Stop> {
        let what = format!("{method} /{path}");
        let (status, json) = self.call(method, path, body)?;
        if (200..300).contains(&status) {
            Ok(json)
        } else {
            let text = json.to_string();
            Err(failed(format!(
                "{what}: {status} {}",
                text.chars().take(300).collect::<String>()
            )))
        }
    }

    /// The indexes the alias `alias` names (none for a 404).
    fn alias(&self, alias: &str) -> Result<Vec<String>, Stop> {
        let path = format!("_alias/{alias}");
        let (status, json) = self.call(Method::GET, &path, None)?;
        match status {
            404 => Ok(Vec::new()),
            200 => {
                let mut indexes: Vec<String> = json
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                indexes.sort();
                Ok(indexes)
            }
            _ => Err(failed(format!("GET /{path}: {status} {json}"))),
        }
    }
}

/// Runs `stream2search reindex ...`.
pub fn reindex(args: Reindex) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop(code, message)) => {
            eprintln!("stream2search: {message}");
            ExitCode::from(code)
        }
    }
}

fn run(args: &Reindex) -> Result<(), Stop> {
    let name = &args.name;
    if name.is_empty() || name.contains(['/', ',', '*', '{', '}']) {
        return Err(failed(format!("{name:?} is not a write alias name")));
    }
    if args
        .backfill
        .iter()
        .any(|a| a == "--index" || a.starts_with("--index="))
    {
        return Err(failed(
            "--index after `--`: the backfill's index is the new generation",
        ));
    }
    let verify_options = child::verify_options(&args.backfill).map_err(failed)?;
    mapping::check_gc_deletes(&args.gc_deletes).map_err(failed)?;
    let user = match &args.mapping {
        None => None,
        Some(path) => {
            let text =
                std::fs::read(path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
            Some(
                UserMapping::parse(&text)
                    .map_err(|e| failed(format!("{}: {e}", path.display())))?,
            )
        }
    };
    let serverless = args.connection.auth == AuthKind::SigV4Aoss;
    let options = Options {
        shards: args.shards,
        replicas: args.replicas,
        gc_deletes: args.gc_deletes.clone(),
        field_limit: args.field_limit,
        serverless,
    };
    let state_path = args
        .state
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("stream2search-reindex-{name}.json")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("starting the runtime: {e}")))?;
    let client = {
        let _entered = runtime.enter();
        args.connection.client(true).map_err(failed)?
    };
    let api = Api {
        runtime,
        client,
        timeout: Duration::from_secs(args.timeout),
    };
    let mirror = format!("{name}-mirror");

    let mut state = match read_state(&state_path)? {
        Some(state) if state.name == *name => {
            println!(
                "reindex: resuming {} → {} after step {:?} ({})",
                state.old,
                state.new,
                state.step,
                state_path.display()
            );
            state
        }
        Some(state) => {
            return Err(failed(format!(
                "{} is the state of a reindex of {}, not {name}",
                state_path.display(),
                state.name
            )));
        }
        None => {
            // Step 1: the next generation, made as `index create` makes one, without aliases.
            let old = match api.alias(name)?.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(failed(format!(
                        "there is no alias {name}: run `index create {name}` first"
                    )));
                }
                more => {
                    return Err(failed(format!(
                        "the alias {name} names {}, not one index",
                        more.join(", ")
                    )));
                }
            };
            let new = next_generation(name, &old).ok_or_else(|| {
                failed(format!(
                    "the alias {name} names {old}, not a generation {name}-NNNNNN"
                ))
            })?;
            let body = mapping::body(user.as_ref(), &options, None);
            let (status, answer) = api.call(Method::PUT, &new, Some(&body))?;
            if status == 400
                && answer
                    .to_string()
                    .contains("resource_already_exists_exception")
            {
                return Err(Stop(
                    1,
                    format!(
                        "{new} exists already: a reindex begun elsewhere? (its --state file resumes it); nothing changed"
                    ),
                ));
            }
            if !(200..300).contains(&status) {
                return Err(failed(format!("PUT /{new}: {status} {answer}")));
            }
            println!("reindex: created {new} (step 1)");
            let state = State {
                name: name.clone(),
                old,
                new,
                step: Step::Created,
                mirrored_at: None,
                widened_at: None,
            };
            write_state(&state_path, &state)?;
            state
        }
    };

    // Step 2: the stream writes the new generation too.
    if state.step < Step::Mirrored {
        let add = json!({"actions": [{"add": {"index": state.new, "alias": mirror}}]});
        api.ok(Method::POST, "_aliases", Some(&add))?;
        state.mirrored_at = Some(now());
        state.step = Step::Mirrored;
        write_state(&state_path, &state)?;
        println!(
            "reindex: {mirror} names {} (step 2): the stream writes both",
            state.new
        );
    }

    // Step 3: once every instance mirrors, the backfill.
    if state.step < Step::Backfilled {
        let wait = args.settle.unwrap_or(backfill_wait(args.mirror_refresh));
        sleep_until(state.mirrored_at.unwrap_or(0) + wait, "the backfill");
        child::backfill(args, &state.new)?;
        state.step = Step::Backfilled;
        write_state(&state_path, &state)?;
        println!("reindex: backfilled {} (step 3)", state.new);
    }

    // Step 4: searches move only to a generation equal to the table.
    if state.step < Step::Verified {
        verify(args, &verify_options, &state)?;
        state.step = Step::Verified;
        write_state(&state_path, &state)?;
        println!("reindex: {} equals the table (step 4)", state.new);
    }

    // Step 5: both generations mirrored, then one alias call.
    if state.step < Step::Widened {
        let add = json!({"actions": [{"add": {"index": state.old, "alias": mirror}}]});
        api.ok(Method::POST, "_aliases", Some(&add))?;
        state.widened_at = Some(now());
        state.step = Step::Widened;
        write_state(&state_path, &state)?;
        println!("reindex: {mirror} names both generations (step 5)");
    }
    if state.step < Step::Switched {
        let wait = args
            .settle
            .unwrap_or(switch_wait(args.mirror_refresh, args.function_timeout));
        sleep_until(state.widened_at.unwrap_or(0) + wait, "the switch");
        // A switch made before the state was written is not made twice.
        if api.alias(name)? != [state.new.clone()] {
            let actions = switch_actions(name, &state.old, &state.new);
            api.ok(Method::POST, "_aliases", Some(&actions))?;
        }
        state.step = Step::Switched;
        write_state(&state_path, &state)?;
        println!(
            "reindex: {name} and {name}-read name {}; {mirror} names {}, which stays fresh (step 5)",
            state.new, state.old
        );
    }

    // Step 6.
    if state.step < Step::Deleted {
        if !args.delete_old {
            println!(
                "reindex: kept {} (rerun with --delete-old to delete it)",
                state.old
            );
            return Ok(());
        }
        let (status, answer) = api.call(Method::DELETE, &state.old, None)?;
        if !(200..300).contains(&status) && status != 404 {
            return Err(failed(format!("DELETE /{}: {status} {answer}", state.old)));
        }
        state.step = Step::Deleted;
        write_state(&state_path, &state)?;
        println!(
            "reindex: deleted {} and with it {mirror} (step 6)",
            state.old
        );
    } else {
        println!("reindex: {name} was reindexed into {} already", state.new);
    }
    Ok(())
}

/// Step 4: verify the new generation; when it differs, repair it and verify again. Still
/// different: stop (status 1) before the switch, searches on the old generation.
fn verify(args: &Reindex, options: &[String], state: &State) -> Result<(), Stop> {
    let (old, new) = (&state.old, &state.new);
    println!("reindex: verifying {new} against the table (step 4)");
    if child::verify(args, options, old, new, false)? {
        return Ok(());
    }
    println!("reindex: {new} differs from the table: repairing it (step 4)");
    child::verify(args, options, old, new, true)?;
    println!("reindex: verifying {new} again after the repair (step 4)");
    if child::verify(args, options, old, new, false)? {
        return Ok(());
    }
    Err(Stop(
        1,
        format!(
            "{new} still differs from the table after a repair (see above): not switched, \
             searches stay on {old}; rerun this command to verify again"
        ),
    ))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Sleeps until `at` (seconds since the epoch), saying so.
fn sleep_until(at: u64, what: &str) {
    let left = at.saturating_sub(now());
    if left > 0 {
        println!("reindex: waiting {left} s before {what}, until every stream function mirrors");
        std::thread::sleep(Duration::from_secs(left));
    }
}

fn read_state(path: &Path) -> Result<Option<State>, Stop> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| failed(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(format!("{}: {e}", path.display()))),
    }
}

/// Writes the state whole (a temporary file renamed over it).
fn write_state(path: &Path, state: &State) -> Result<(), Stop> {
    let mut text = serde_json::to_vec_pretty(state).unwrap_or_default();
    text.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, &text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|e| failed(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_generation_counts_up_from_the_one_the_alias_names() {
        assert_eq!(
            next_generation("products", "products-000001").as_deref(),
            Some("products-000002")
        );
        assert_eq!(
            next_generation("products", "products-000099").as_deref(),
            Some("products-000100")
        );
        assert_eq!(next_generation("products", "products-1"), None);
        assert_eq!(next_generation("products", "other-000001"), None);
        assert_eq!(next_generation("products", "products-999999"), None);
    }

    #[test]
    fn the_waits_cover_the_refresh_the_version_margin_and_running_invocations() {
        // 30 s refresh + the backfill's 300 s version margin + 60 s for clocks.
        assert_eq!(backfill_wait(30), 390);
        // 30 s refresh + a 900 s function timeout + 30 s.
        assert_eq!(switch_wait(30, 900), 960);
    }

    #[test]
    fn the_switch_is_one_call_that_leaves_the_mirror_on_the_old_generation() {
        assert_eq!(
            switch_actions("p", "p-000001", "p-000002"),
            json!({"actions": [
                {"remove": {"index": "p-000001", "alias": "p"}},
                {"add": {"index": "p-000002", "alias": "p", "is_write_index": true}},
                {"remove": {"index": "p-000001", "alias": "p-read"}},
                {"add": {"index": "p-000002", "alias": "p-read"}},
                {"remove": {"index": "p-000002", "alias": "p-mirror"}},
            ]})
        );
    }

    #[test]
    fn the_state_file_reads_back_what_was_written() {
        let dir = std::env::temp_dir().join(format!("s2s-reindex-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        let state = State {
            name: "p".into(),
            old: "p-000001".into(),
            new: "p-000002".into(),
            step: Step::Widened,
            mirrored_at: Some(1),
            widened_at: Some(2),
        };
        write_state(&path, &state).unwrap_or_else(|Stop(_, m)| panic!("{m}"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""step": "widened""#), "{text}");
        let back = read_state(&path).unwrap_or_else(|Stop(_, m)| panic!("{m}"));
        assert_eq!(back, Some(state));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
