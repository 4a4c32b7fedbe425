//! The whole-process baseline for `stream2search encode`: validates FILE with serde_json's
//! `IgnoredAny` and writes as many bytes (FILE itself) to stdout. `dev/encode-ratio` times it
//! against `stream2search encode --index products FILE`.
//!
//! usage: `ignored FILE`

use std::io::Write;

fn main() {
    let path = std::env::args_os().nth(1).expect("usage: ignored FILE");
    let bytes = std::fs::read(path).expect("read");
    let _: serde::de::IgnoredAny = serde_json::from_slice(&bytes).expect("json");
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes).expect("write");
    out.flush().expect("flush");
}
