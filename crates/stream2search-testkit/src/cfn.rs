//! CloudFormation templates in tests, read by `cfn-lint` (PyPI; `dev/moto start` installs it
//! into `.dev/venv`, where these look first, then on `PATH`). Without it a test prints
//! `SKIPPED: ...`, unless `STREAM2SEARCH_REQUIRE_CFN_LINT=1`, which makes it a failure.

use std::path::Path;
use std::process::Command;

fn required() -> bool {
    std::env::var("STREAM2SEARCH_REQUIRE_CFN_LINT").is_ok_and(|v| v == "1")
}

/// Runs `cfn-lint TEMPLATE`; panics with what it found unless the template passes.
pub fn lint(template: &Path) {
    let venv = crate::workspace().join(".dev/venv/bin/cfn-lint");
    let program = if venv.is_file() {
        venv.into_os_string()
    } else {
        "cfn-lint".into()
    };
    let output = match Command::new(&program).arg(template).output() {
        Ok(output) => output,
        Err(e) => {
            assert!(!required(), "cfn-lint is required: {e}");
            eprintln!(
                "SKIPPED: cfn-lint {}: cfn-lint not found ({e})",
                template.display()
            );
            return;
        }
    };
    assert!(
        output.status.success(),
        "cfn-lint {}:\n{}{}",
        template.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The template as JSON, decoded by cfn-lint's own CloudFormation YAML reader (it knows `!Ref`,
/// `!GetAtt`, `!If`, `!Sub`), or `None` after a loud skip when cfn-lint's Python is missing.
pub fn decode(template: &Path) -> Option<serde_json::Value> {
    let python = crate::moto::python();
    let output = Command::new(&python)
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import decode\ntemplate, errors = decode(sys.argv[1])\nif errors:\n    sys.exit(str(errors))\nprint(json.dumps(template, default=str))",
        ])
        .arg(template)
        .output();
    match output {
        Ok(o) if o.status.success() => Some(
            serde_json::from_slice(&o.stdout)
                .unwrap_or_else(|e| panic!("cfn-lint's decoding is not JSON: {e}")),
        ),
        Ok(o) if python.is_file() => panic!(
            "decoding {}: {}",
            template.display(),
            String::from_utf8_lossy(&o.stderr)
        ),
        other => {
            assert!(!required(), "cfn-lint's Python is required: {other:?}");
            eprintln!(
                "SKIPPED: cfn-lint's Python not found at {}",
                python.display()
            );
            None
        }
    }
}
