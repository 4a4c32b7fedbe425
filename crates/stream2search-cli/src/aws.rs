//! What `poll` and `verify` need for DynamoDB's and DynamoDB Streams' JSON 1.0 APIs: a client
//! signing for service `dynamodb`, and (from `stream2search_client::aws`) reading an answer or
//! the exception AWS named. (`backfill` reads tables and exports through
//! `stream2search_lambda::backfill`.)

use aws_credential_types::Credentials;
use stream2search_client::{Client, Service, SigV4};

pub(crate) use stream2search_client::aws::answer;

/// A client for `endpoint` (an AWS endpoint, or a local mock over plain `http://`), signing for
/// `region` with `credentials`. Bodies are sent uncompressed.
pub(crate) fn client(
    endpoint: &str,
    region: String,
    credentials: Credentials,
) -> Result<Client, stream2search_client::Error> {
    stream2search_client::aws::client(endpoint, SigV4::new(Service::DynamoDb, region, credentials))
}
