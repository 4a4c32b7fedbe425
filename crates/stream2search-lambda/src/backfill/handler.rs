//! The Lambda backfill handler: one invocation runs one [`Job`](super::Job) for a time slice.
