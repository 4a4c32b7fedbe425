//! Writes the benchmark corpus and prints the directory holding it.
//!
//! usage: `corpus [DIR]` (default: `target/bench-corpus/` of the workspace). Files already
//! there with the pinned digests are left alone.

use std::path::PathBuf;
use std::process::ExitCode;

use stream2search_benches::corpus;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.as_slice() {
        [] => corpus::default_dir(),
        [dir] if !dir.starts_with('-') => PathBuf::from(dir),
        _ => {
            eprintln!("usage: corpus [DIR]");
            return ExitCode::from(2);
        }
    };
    match corpus::write(&dir) {
        Ok(written) => {
            for name in written {
                eprintln!("wrote {}", dir.join(format!("{name}.json")).display());
            }
            println!("{}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("writing the corpus to {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
