//! Finding the project's moto server (`dev/moto start`, `MOTO_URL`), with the same rule as
//! OpenSearch: under `STREAM2SEARCH_REQUIRE_MOTO=1` a missing server fails the test, otherwise
//! the test prints `SKIPPED: ...` and goes on.

use std::path::Path;

use crate::http;

/// moto's URL (`MOTO_URL`, answering on `/moto-api/`), when every path in `needs` exists too
/// (e.g. the project's Python venv); `None` after a loud skip, or a panic when moto is required.
pub fn moto_url(needs: &[&Path]) -> Option<String> {
    let why = match std::env::var("MOTO_URL") {
        Err(_) => "MOTO_URL is not set".to_string(),
        Ok(url) => match needs.iter().find(|p| !p.exists()) {
            Some(missing) => format!("{} is missing", missing.display()),
            None => {
                let authority = url.trim_start_matches("http://").trim_end_matches('/');
                match http::request(authority, "GET", "/moto-api/", &[], b"") {
                    Ok(r) if r.status == 200 => return Some(url),
                    Ok(r) => format!("{url} answered {}", r.status),
                    Err(e) => format!("{url} does not answer: {e}"),
                }
            }
        },
    };
    let required = std::env::var("STREAM2SEARCH_REQUIRE_MOTO").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "moto is required (STREAM2SEARCH_REQUIRE_MOTO=1): {why}; run dev/moto start"
    );
    eprintln!("SKIPPED: moto: {why}; run dev/moto start and export MOTO_URL");
    None
}
