//! Writes a generated DynamoDB table export (`DYNAMODB_JSON`) for the backfill benchmarks.
//!
//! usage: `export OUTDIR --items N [--files F] [--item-bytes B] [--seed S]`
//!
//! OUTDIR becomes what DynamoDB writes to `<prefix>/AWSDynamoDB/<export id>/`:
//! `manifest-summary.json`, `manifest-files.json`, `data/*.json.gz`, `_started`
//! (`stream2search_benches::export` says what is in them). Defaults: 8 files, 1000-byte items,
//! the fixed seed. Prints one line: items, files, bytes uncompressed and gzipped, export id.

use std::path::PathBuf;
use std::process::ExitCode;

use stream2search_benches::export::{self, Spec};

const USAGE: &str = "usage: export OUTDIR --items N [--files F] [--item-bytes B] [--seed S]";

fn parse(args: &[String]) -> Result<(PathBuf, Spec), String> {
    let mut dir = None;
    let mut items = None;
    let mut spec = Spec::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let text = it.next().ok_or(format!("{name} needs a value"))?;
            text.replace('_', "")
                .parse()
                .map_err(|_| format!("{name} {text:?}: not a whole number"))
        };
        match arg.as_str() {
            "--items" => items = Some(value("--items")?),
            "--files" => {
                let files = value("--files")?;
                spec.files = u32::try_from(files)
                    .ok()
                    .filter(|&f| f >= 1)
                    .ok_or(format!("--files {files}: 1 to {}", u32::MAX))?;
            }
            "--item-bytes" => {
                spec.item_bytes = usize::try_from(value("--item-bytes")?)
                    .map_err(|_| "--item-bytes: too large".to_string())?;
            }
            "--seed" => spec.seed = value("--seed")?,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            path if dir.is_none() => dir = Some(PathBuf::from(path)),
            extra => return Err(format!("one OUTDIR only ({extra:?})")),
        }
    }
    spec.items = items.ok_or("--items is required")?;
    Ok((dir.ok_or("OUTDIR is required")?, spec))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dir, spec) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("export: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match export::write(&dir, &spec) {
        Ok(written) => {
            let raw: u64 = written.files.iter().map(|f| f.raw_bytes).sum();
            let gz: u64 = written.files.iter().map(|f| f.bytes).sum();
            println!(
                "export {}: {} items in {} files, {raw} bytes of lines, {gz} gzipped, id {}",
                dir.display(),
                spec.items,
                written.files.len(),
                written.export_id
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("export: writing {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
