//! Backfill: the unit of work (one Scan segment of a live table, or one data file of a DynamoDB
//! export), runnable by the CLI (one process, many units) and by one Lambda invocation.

pub mod export;
pub mod s3;
