//! Reading a DynamoDB export (DYNAMODB_JSON) from a local directory or S3.
