//! The S3 calls an export read makes: ListObjectsV2 and ranged GetObject, signed SigV4 `s3`.
