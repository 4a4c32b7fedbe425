//! The two steps `reindex` hands to this program's other commands, each a subprocess with this
//! command's connection and the options given after `--`: step 3's `backfill` and step 4's
//! `verify`.
//!
//! The options after `--` are the backfill's. Verify gets the ones it shares with the backfill
//! (the table, `--segments`, `--concurrency`, `--page-size`, `--consistent-read`,
//! `--dynamodb-endpoint`, `--timeout` and the planner options); the backfill's own are left out
//! ([`BACKFILL_ONLY`]). Verify always scans the table, even after a backfill from an export:
//! the stream has changed the table since the export was made.

use std::process::Command;

use super::{Reindex, Stop, failed};
use crate::AuthKind;

/// The backfill's options verify does not take, each with whether it takes a value.
const BACKFILL_ONLY: [(&str, bool); 9] = [
    ("--checkpoint", true),
    ("--dead-letters", true),
    ("--max-rcu", true),
    ("--function-url", true),
    ("--no-gzip", false),
    ("--export", true),
    ("--export-time", true),
    ("--keys", true),
    ("--s3-endpoint", true),
];

/// Verify's options from the backfill's (`options`, as given after `--`), or why there are
/// none: verify needs `--table`.
pub(super) fn verify_options(options: &[String]) -> Result<Vec<String>, String> {
    let mut kept = Vec::with_capacity(options.len());
    let mut words = options.iter();
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((name, _)) if name.starts_with("--") => (name, true),
            _ => (word.as_str(), false),
        };
        match BACKFILL_ONLY.iter().find(|(only, _)| *only == name) {
            Some((_, takes_value)) => {
                if *takes_value && !inline {
                    words.next();
                }
            }
            None => kept.push(word.clone()),
        }
    }
    if kept
        .iter()
        .any(|w| w == "--table" || w.starts_with("--table="))
    {
        Ok(kept)
    } else {
        Err(
            "step 4 verifies the new generation against the table: give --table after `--` \
             (with --export too: the stream has changed the table since the export)"
                .into(),
        )
    }
}

/// This program, with `command` and this command's connection options.
fn this_program(args: &Reindex, command: &str, index: &str) -> Result<Command, Stop> {
    let program = std::env::current_exe()
        .map_err(|e| failed(format!("finding this program for the {command}: {e}")))?;
    let mut child = Command::new(program);
    child
        .args([command, "--index", index])
        .args(["--endpoint", &args.connection.endpoint]);
    if args.connection.allow_http {
        child.arg("--allow-http");
    }
    let auth = match args.connection.auth {
        AuthKind::None => "none",
        AuthKind::Basic => "basic",
        AuthKind::SigV4Es => "sigv4-es",
        AuthKind::SigV4Aoss => "sigv4-aoss",
    };
    child.args(["--auth", auth]);
    if let Some(region) = &args.connection.region {
        child.args(["--region", region]);
    }
    Ok(child)
}

/// Step 3: `stream2search backfill --index NEW` with the options after `--`, resumable from
/// its checkpoint.
pub(super) fn backfill(args: &Reindex, new: &str) -> Result<(), Stop> {
    let mut command = this_program(args, "backfill", new)?;
    if !args
        .backfill
        .iter()
        .any(|a| a == "--checkpoint" || a.starts_with("--checkpoint="))
    {
        command.args([
            "--checkpoint",
            &format!("stream2search-reindex-{new}-backfill.json"),
        ]);
    }
    command.args(&args.backfill);
    println!("reindex: backfilling {new} (step 3)");
    let status = command
        .status()
        .map_err(|e| failed(format!("running the backfill: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Stop(
            1,
            format!(
                "the backfill of {new} did not finish ({status}); rerun this command to resume it"
            ),
        ))
    }
}

/// Step 4's `stream2search verify --index NEW` (with `--repair` when `repair`): whether `new`
/// equals the table (with `--repair`: whether every difference found was repaired). Its report
/// goes to this command's stdout. Its usage or configuration error (status 2) stops with
/// status 2; no verdict (3, or a signal) stops with status 1; `old` is still searched.
pub(super) fn verify(
    args: &Reindex,
    options: &[String],
    old: &str,
    new: &str,
    repair: bool,
) -> Result<bool, Stop> {
    let mut command = this_program(args, "verify", new)?;
    if repair {
        command.arg("--repair");
    }
    command.args(options);
    let status = command
        .status()
        .map_err(|e| failed(format!("running verify: {e}")))?;
    match status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        Some(2) => Err(failed(format!(
            "verify of {new} could not start ({status}: its options or configuration, see \
             above); searches stay on {old}"
        ))),
        _ => Err(Stop(
            1,
            format!(
                "verify of {new} reached no verdict ({status}); searches stay on {old}; rerun \
                 this command to verify again"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    #[test]
    fn verify_gets_the_table_and_planner_options_without_the_backfills_own() {
        let given = words(
            "--table T --checkpoint c.json --segments 8 --max-rcu=50 --no-gzip \
             --dynamodb-endpoint http://127.0.0.1:5055 --dead-letters d.jsonl --id-keys a,b \
             --function-url http://127.0.0.1:9000 --concurrency 4 --page-size 100 --timeout 30",
        );
        assert_eq!(
            verify_options(&given).unwrap(),
            words(
                "--table T --segments 8 --dynamodb-endpoint http://127.0.0.1:5055 --id-keys a,b \
                 --concurrency 4 --page-size 100 --timeout 30"
            )
        );
    }

    #[test]
    fn after_a_backfill_from_an_export_verify_scans_the_table() {
        let given = words(
            "--export s3://b/AWSDynamoDB/0170-ab/ --table=T --export-time 2026-01-01T00:00:00Z \
             --s3-endpoint http://127.0.0.1:5055 --consistent-read",
        );
        assert_eq!(
            verify_options(&given).unwrap(),
            words("--table=T --consistent-read")
        );
    }

    #[test]
    fn an_export_with_keys_and_no_table_cannot_be_verified() {
        let given = words("--export /tmp/export --keys productId");
        let error = verify_options(&given).unwrap_err();
        assert!(error.contains("--table"), "{error}");
    }
}
