//! Release builds of `stream2search` link as a position-dependent executable (`-no-pie`).
//!
//! A position-independent one has about 5,200 relative relocations that the dynamic loader
//! applies at every start, writing a private copy of each page they fall in: 20 of the ~210
//! page faults of `stream2search encode` on a small event (docs/performance.md, "Whole
//! process"). The price is that the binary itself loads at a fixed address (its libraries,
//! heap and stack are still placed at random). Only this binary, only with the release
//! profile, only for Linux (measured there): tests, debug builds and other targets link as
//! before.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if release && linux {
        println!("cargo::rustc-link-arg-bin=stream2search=-no-pie");
    }
}
