//! What the planner is told: where documents go, how ids and versions are made, what is renamed.

/// What to do with deletes that DynamoDB's TTL made (`userIdentity` = the DynamoDB service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtlPolicy {
    /// Delete the document, as for any other REMOVE.
    #[default]
    Delete,
    /// Keep the document in the index (an archive of expired items); the record counts as done.
    Skip,
}

/// What to do with top-level attributes whose names OpenSearch keeps for metadata (`_id`...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReservedNames {
    /// Prefix the name: with prefix `ddb`, `_id` becomes `ddb_id`.
    Rename {
        /// Put in front of the name.
        prefix: String,
    },
    /// Fail the record.
    Reject,
}

impl ReservedNames {
    /// The prefix of the default policy, [`ReservedNames::Rename`] with `ddb`.
    pub const DEFAULT_PREFIX: &str = "ddb";
}

impl Default for ReservedNames {
    fn default() -> Self {
        ReservedNames::Rename {
            prefix: Self::DEFAULT_PREFIX.into(),
        }
    }
}

/// What to do with ids longer than OpenSearch's 512-byte limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongIdPolicy {
    /// Replace with a readable prefix, `\#` and the SHA-256 of the full id in hex (≤ 512 bytes).
    #[default]
    Hash,
    /// Fail the record.
    Reject,
}

/// Everything the planner needs. Build with struct update syntax over [`Config::default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// A fixed index name, or a template such as `products-{category}` whose placeholders are
    /// top-level S, N or B attributes, taken from the image or the keys as their text (values are
    /// lower-cased; the result is validated). Default: `documents`.
    pub index: String,
    /// Templated names must start with this; by default, the template's text before its first
    /// placeholder (which must then be non-empty).
    pub index_prefix: Option<String>,
    /// Key attributes in the order they make the id; `None`: all `Keys`, ordered by name.
    pub id_keys: Option<Vec<String>>,
    /// Send `version_type=external_gte` with `version` = the record's `ApproximateCreationDateTime`
    /// in microseconds, at the precision the record gives (default: on).
    pub versioning: bool,
    /// Deletes made by TTL (default: [`TtlPolicy::Delete`]).
    pub ttl: TtlPolicy,
    /// Top-level attributes named like OpenSearch metadata fields (default: renamed with prefix
    /// `ddb`).
    pub reserved: ReservedNames,
    /// Ids over 512 bytes (default: [`LongIdPolicy::Hash`]).
    pub long_ids: LongIdPolicy,
    /// Dotted attribute paths (`price`, `dims.weight`) whose N values become JSON strings, for
    /// numbers beyond what the index's mapping holds. A path to a list or set covers its members.
    pub numbers_as_strings: Vec<String>,
    /// Only these top-level attributes go into documents (`None`: all).
    pub include: Option<Vec<String>>,
    /// These top-level attributes never go into documents.
    pub exclude: Vec<String>,
    /// Name of a field set to the timestamp passed to [`crate::Planner::plan`].
    pub indexed_at: Option<String>,
    /// Top-level S, N or B attribute whose text is the shard routing.
    pub routing: Option<String>,
    /// Most bytes in one bulk request body (a single larger action goes alone; default 5 MiB).
    pub max_chunk_bytes: usize,
    /// Most actions in one bulk request (default 1000).
    pub max_chunk_actions: usize,
}

impl Config {
    /// The default [`Config::index`].
    pub const DEFAULT_INDEX: &str = "documents";
    /// The default [`Config::max_chunk_bytes`]: 5 MiB.
    pub const DEFAULT_MAX_CHUNK_BYTES: usize = 5 * 1024 * 1024;
    /// The default [`Config::max_chunk_actions`].
    pub const DEFAULT_MAX_CHUNK_ACTIONS: usize = 1000;
}

impl Default for Config {
    fn default() -> Self {
        Config {
            index: Self::DEFAULT_INDEX.into(),
            index_prefix: None,
            id_keys: None,
            versioning: true,
            ttl: TtlPolicy::Delete,
            reserved: ReservedNames::default(),
            long_ids: LongIdPolicy::Hash,
            numbers_as_strings: Vec::new(),
            include: None,
            exclude: Vec::new(),
            indexed_at: None,
            routing: None,
            max_chunk_bytes: Self::DEFAULT_MAX_CHUNK_BYTES,
            max_chunk_actions: Self::DEFAULT_MAX_CHUNK_ACTIONS,
        }
    }
}
