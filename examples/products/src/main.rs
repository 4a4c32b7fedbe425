//! The Products table (key `productId`) kept in sync with an OpenSearch index.
//!
//! Configuration comes from the environment (see the README and `template.yaml`).

use stream2search_lambda::{Handler, lambda_runtime};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    stream2search_lambda::init_logging();
    let handler = Handler::from_env()?;
    stream2search_lambda::run(handler).await
}
