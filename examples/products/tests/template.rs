//! `template.yaml` passes `cfn-lint` (PyPI; `dev/moto start` installs it into `.dev/venv`).
//! Without cfn-lint the test prints `SKIPPED: ...`, unless `STREAM2SEARCH_REQUIRE_CFN_LINT=1`.

use std::path::Path;
use std::process::Command;

#[test]
fn template_passes_cfn_lint() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = manifest.join("../../.dev/venv/bin/cfn-lint");
    let program = if venv.is_file() {
        venv.into_os_string()
    } else {
        "cfn-lint".into()
    };
    let output = match Command::new(&program)
        .arg(manifest.join("template.yaml"))
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            if std::env::var("STREAM2SEARCH_REQUIRE_CFN_LINT").is_ok_and(|v| v == "1") {
                panic!("cfn-lint is required: {e}");
            }
            eprintln!("SKIPPED: template_passes_cfn_lint: cfn-lint not found ({e})");
            return;
        }
    };
    assert!(
        output.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn template_sets_what_the_handler_relies_on() {
    let t = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
        .unwrap();
    for needle in [
        "StreamViewType: NEW_AND_OLD_IMAGES",
        "- ReportBatchItemFailures",
        "BisectBatchOnFunctionError: true",
        "MaximumRetryAttempts:",
        "MaximumRecordAgeInSeconds:",
        "OnFailure:",
        "Runtime: provided.al2023",
        "- arm64",
        "STREAM2SEARCH_DLQ_URL:",
    ] {
        assert!(t.contains(needle), "template.yaml lacks {needle:?}");
    }
}
