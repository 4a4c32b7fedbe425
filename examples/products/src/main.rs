//! The Products table (key `productId`) kept in sync with an OpenSearch index, without the
//! staff's `internalNotes` (see `lib.rs`).
//!
//! Configuration comes from the environment (see the README and `template.yaml`).

use std::process::ExitCode;

use stream2search_lambda::Handler;

#[tokio::main]
async fn main() -> ExitCode {
    stream2search_lambda::run(Handler::builder().hook(products::hide_internal_notes)).await
}
