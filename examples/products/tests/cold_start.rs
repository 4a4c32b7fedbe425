//! The example binary with a configuration that cannot work: it writes one log line with the
//! mistake (JSON when Lambda's JSON log format is on) and exits with status 1, so the
//! function's init fails. No runtime API is needed: the cold start fails before it is used.

use std::process::{Command, Output};

fn cold_start(log_format: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_products"));
    command
        .env_clear()
        .env("OPENSEARCH_ENDPOINT", "https://search.example")
        .env("OPENSEARCH_INDEX", "Products")
        .env("OPENSEARCH_AUTH", "none");
    if let Some(format) = log_format {
        command.env("AWS_LAMBDA_LOG_FORMAT", format);
    }
    command.output().unwrap()
}

/// Every line the process wrote, on stdout and stderr.
fn lines(out: &Output) -> Vec<String> {
    [&out.stdout, &out.stderr]
        .iter()
        .flat_map(|bytes| {
            String::from_utf8_lossy(bytes)
                .into_owned()
                .lines()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn a_failed_cold_start_is_one_text_line_naming_the_variable() {
    let out = cold_start(None);
    assert_eq!(out.status.code(), Some(1));
    let lines = lines(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains(r#"cold start failed: OPENSEARCH_INDEX: index "Products": index name must be lower case"#),
        "{line}"
    );
    assert!(line.contains("Stream2Search.Config"), "{line}");
    for debug in ["Error:", "ConfigError", "Config("] {
        assert!(!line.contains(debug), "{line}");
    }
}

#[test]
fn a_failed_cold_start_is_one_json_line_under_lambda_json_logging() {
    let out = cold_start(Some("JSON"));
    assert_eq!(out.status.code(), Some(1));
    let lines = lines(&out);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(
        line["fields"]["error_type"], "Stream2Search.Config",
        "{line}"
    );
    assert_eq!(
        line["fields"]["message"],
        r#"cold start failed: OPENSEARCH_INDEX: index "Products": index name must be lower case"#
    );
}
