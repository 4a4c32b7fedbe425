//! Reading a DynamoDB export (`DYNAMODB_JSON`, a full export) from a local directory or from
//! `s3://bucket/prefix/AWSDynamoDB/<export-id>/`: which data files it has ([`Export::open`]),
//! and one data file page by page from any line on ([`Reader`]).
//!
//! The layout, as AWS writes it ("DynamoDB table export output format"):
//!
//! ```text
//! <export-id>/manifest-summary.json   one object: exportTime, itemCount, outputFormat, ...
//! <export-id>/manifest-files.json     JSON lines: itemCount, md5Checksum, etag, dataFileS3Key
//! <export-id>/data/<name>.json.gz     gzip, JSON lines {"Item":{...DynamoDB JSON...}}
//! ```
//!
//! Without the manifests (moto writes none) the data files are whatever is under `data/`, by
//! name, and the item count and export time are unknown.
//!
//! A data file is streamed: S3 ranged GETs ([`S3::range_size`] bytes each) or 1 MiB local reads
//! are fed, 64 KiB at a time, into a multi-member gzip push decoder, whose output is cut into
//! lines as the page needs them. A whole file is never held; a line longer than [`MAX_LINE`] is
//! reported as a bad line without being held either.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::s3::{self, S3};

/// The longest line kept: longer ones are bad lines (DynamoDB items are at most 400 KB).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// How much of a bad line's text is kept.
const BAD_TEXT: usize = 64 * 1024;

/// Compressed bytes fed to the decoder at once (bounds the decoded bytes waiting in memory).
const FEED: usize = 64 * 1024;

/// Bytes read from a local file at once.
const LOCAL_READ: usize = 1024 * 1024;

/// An export: where it is, what its manifests say, and its data files in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Export {
    /// The location as given, ending in `/`.
    pub location: String,
    /// `exportTime` of `manifest-summary.json`, in whole seconds since the epoch (rounded
    /// down); `None` without a summary.
    pub export_time: Option<u64>,
    /// `itemCount` of `manifest-summary.json`.
    pub item_count: Option<u64>,
    /// Whether the data files come from `manifest-files.json` (else from listing `data/`).
    pub from_manifest: bool,
    /// The data files, sorted by location.
    pub files: Vec<DataFile>,
}

/// One data file of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DataFile {
    /// A local path, or `s3://bucket/key`: what [`Reader::open`] takes.
    pub location: String,
    /// `itemCount` of its manifest line.
    pub item_count: Option<u64>,
    /// `md5Checksum` of its manifest line (base64 MD5 of the compressed file).
    pub md5_checksum: Option<String>,
    /// `etag` of its manifest line.
    pub etag: Option<String>,
    /// Its size in bytes, when listed.
    pub size: Option<u64>,
}

/// Where an export or a data file is.
enum Place {
    Local(PathBuf),
    S3 { bucket: String, key: String },
}

fn place(location: &str, s3: Option<&S3>) -> Result<Place, Error> {
    if location.starts_with("s3://") {
        let (bucket, key) = s3::parse_url(location)
            .ok_or_else(|| Error::new(Kind::Location(location.to_owned())))?;
        if s3.is_none() {
            return Err(Error::new(Kind::NoS3(location.to_owned())));
        }
        Ok(Place::S3 {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    } else if location.is_empty() || location.contains("://") {
        Err(Error::new(Kind::Location(location.to_owned())))
    } else {
        Ok(Place::Local(PathBuf::from(location)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    #[serde(default)]
    export_time: Option<serde_json::Value>,
    #[serde(default)]
    item_count: Option<u64>,
    #[serde(default)]
    output_format: Option<String>,
    #[serde(default)]
    export_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileLine {
    #[serde(default)]
    item_count: Option<u64>,
    #[serde(default)]
    md5_checksum: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    data_file_s3_key: String,
}

impl Export {
    /// Reads the manifests at `location` (a local directory, or
    /// `s3://bucket/prefix/AWSDynamoDB/<export-id>/`, which needs `s3`), or lists `data/` when
    /// there is no `manifest-summary.json`.
    ///
    /// Refuses an export whose `outputFormat` is not `DYNAMODB_JSON` or whose `exportType` is
    /// `INCREMENTAL_EXPORT` (its lines are not items).
    pub async fn open(location: &str, s3: Option<&S3>) -> Result<Export, Error> {
        let base = format!("{}/", location.trim_end_matches('/'));
        let place = place(&base, s3)?;
        let summary = read_optional(&place, s3, "manifest-summary.json").await?;
        let mut export = Export {
            location: base.clone(),
            export_time: None,
            item_count: None,
            from_manifest: false,
            files: Vec::new(),
        };
        let Some(summary) = summary else {
            export.files = list(&place, s3, &base).await?;
            return Ok(export);
        };
        let summary_name = format!("{base}manifest-summary.json");
        let parsed: Summary = serde_json::from_slice(&summary)
            .map_err(|e| Error::manifest(&summary_name, e.to_string()))?;
        if let Some(format) = parsed.output_format.filter(|f| f != "DYNAMODB_JSON") {
            return Err(Error::new(Kind::Format {
                export: base,
                what: format!("outputFormat {format}"),
            }));
        }
        if let Some(kind) = parsed.export_type.filter(|t| t == "INCREMENTAL_EXPORT") {
            return Err(Error::new(Kind::Format {
                export: base,
                what: format!("exportType {kind}"),
            }));
        }
        export.item_count = parsed.item_count;
        export.export_time = match parsed.export_time {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_u64()
                    .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.floor() as u64))
                    .ok_or_else(|| {
                        Error::manifest(&summary_name, format!("exportTime {n} is not a time"))
                    })?,
            ),
            Some(serde_json::Value::String(text)) => {
                Some(stream2search::time::rfc3339_seconds(&text).ok_or_else(|| {
                    Error::manifest(
                        &summary_name,
                        format!("exportTime {text:?} is not RFC 3339"),
                    )
                })?)
            }
            Some(other) => {
                return Err(Error::manifest(
                    &summary_name,
                    format!("exportTime {other} is not a time"),
                ));
            }
        };
        let files_name = format!("{base}manifest-files.json");
        let Some(files) = read_optional(&place, s3, "manifest-files.json").await? else {
            return Err(Error::manifest(
                &files_name,
                "missing, though manifest-summary.json is there".into(),
            ));
        };
        let text = std::str::from_utf8(&files)
            .map_err(|_| Error::manifest(&files_name, "not UTF-8".into()))?;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed: FileLine = serde_json::from_str(line)
                .map_err(|e| Error::manifest(&files_name, format!("line {}: {e}", n + 1)))?;
            let key = &parsed.data_file_s3_key;
            // `prefix/AWSDynamoDB/<export-id>/data/<name>`: the file `data/<name>` here.
            let name = match key.rsplit_once('/') {
                Some((dir, name))
                    if !name.is_empty() && (dir == "data" || dir.ends_with("/data")) =>
                {
                    name
                }
                _ => {
                    return Err(Error::manifest(
                        &files_name,
                        format!("line {}: {key:?} is not a file under data/", n + 1),
                    ));
                }
            };
            export.files.push(DataFile {
                location: format!("{base}data/{name}"),
                item_count: parsed.item_count,
                md5_checksum: parsed.md5_checksum,
                etag: parsed.etag,
                size: None,
            });
        }
        export.from_manifest = true;
        export.files.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(export)
    }
}

/// The file `name` of the export, or `None` when it is not there.
async fn read_optional(place: &Place, s3: Option<&S3>, name: &str) -> Result<Option<Bytes>, Error> {
    match place {
        Place::Local(dir) => {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(&path.to_string_lossy(), e)),
            }
        }
        Place::S3 { bucket, key } => {
            let s3 = s3.ok_or_else(|| Error::new(Kind::NoS3(key.clone())))?;
            Ok(s3.get(bucket, &format!("{key}{name}")).await?)
        }
    }
}

/// The files under `data/`, sorted by name.
async fn list(place: &Place, s3: Option<&S3>, base: &str) -> Result<Vec<DataFile>, Error> {
    let mut files = Vec::new();
    match place {
        Place::Local(dir) => {
            let data = dir.join("data");
            let entries =
                std::fs::read_dir(&data).map_err(|e| Error::io(&data.to_string_lossy(), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&data.to_string_lossy(), e))?;
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io(&entry.path().to_string_lossy(), e))?;
                if !meta.is_file() {
                    continue;
                }
                let name = entry.file_name().into_string().map_err(|name| {
                    Error::new(Kind::Location(format!(
                        "{}: a file name that is not UTF-8",
                        data.join(name).to_string_lossy()
                    )))
                })?;
                files.push(DataFile {
                    location: format!("{base}data/{name}"),
                    item_count: None,
                    md5_checksum: None,
                    etag: None,
                    size: Some(meta.len()),
                });
            }
        }
        Place::S3 { bucket, key } => {
            let s3 = s3.ok_or_else(|| Error::new(Kind::NoS3(key.clone())))?;
            let prefix = format!("{key}data/");
            for object in s3.list(bucket, &prefix).await? {
                // A "folder" marker is no file.
                if object.key.ends_with('/') {
                    continue;
                }
                files.push(DataFile {
                    location: format!("s3://{bucket}/{}", object.key),
                    item_count: None,
                    md5_checksum: None,
                    etag: None,
                    size: Some(object.size),
                });
            }
        }
    }
    files.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(files)
}

/// One item of a page: its line number (1 for the file's first line) and its `Item` object's
/// text exactly as in the file.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its line number, counting from 1.
    pub line: u64,
    /// The `Item` object, as in the file (DynamoDB JSON: `{"productId":{"S":"p-1"},...}`).
    pub item: Box<RawValue>,
}

/// A line that is not `{"Item":{...}}`: kept as a value, never an error that loses the rest
/// of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadLine {
    /// Its line number, counting from 1.
    pub line: u64,
    /// What is wrong with it.
    pub reason: String,
    /// Its text (without the newline; invalid UTF-8 replaced by U+FFFD; at most 64 KiB).
    pub text: String,
}

/// One page of a data file.
#[derive(Debug, Clone)]
pub struct Page {
    /// The items, in file order.
    pub items: Vec<Item>,
    /// The lines that are not items, in file order.
    pub bad: Vec<BadLine>,
    /// The number of lines read from the file's start through this page: the `skip` that
    /// resumes after it.
    pub next: u64,
    /// The file has no more lines.
    pub done: bool,
    /// Compressed bytes fed to the decoder for this page.
    pub compressed_bytes: u64,
    /// Decompressed bytes of this page's lines, newlines included.
    pub uncompressed_bytes: u64,
}

enum Source {
    Local(std::fs::File),
    S3 {
        s3: S3,
        bucket: String,
        key: String,
        /// The next byte to fetch.
        offset: u64,
        /// The object's size, once known.
        total: Option<u64>,
    },
}

/// One data file, read page by page. Build it with [`Reader::open`].
pub struct Reader {
    file: String,
    source: Source,
    decoder: MultiGzDecoder<Vec<u8>>,
    /// How much of the decoder's output has been cut into lines already.
    start: usize,
    /// How much of the output after `start` is known to hold no newline.
    scanned: usize,
    /// Fetched compressed bytes not yet fed to the decoder.
    chunk: Bytes,
    /// Compressed bytes fed so far.
    fed: u64,
    /// Lines taken so far.
    lines: u64,
    /// The source is exhausted and the decoder finished.
    finished: bool,
    /// Inside a line longer than [`MAX_LINE`]: its start is reported, the rest dropped.
    overlong: bool,
    /// Why the gzip stream cannot be decoded on: every later read fails the same way.
    broken: Option<String>,
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("file", &self.file)
            .field("lines", &self.lines)
            .field("compressed_bytes", &self.fed)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

/// A line as cut from the decoder's output.
enum Raw {
    Line(Vec<u8>),
    /// The start of a line longer than [`MAX_LINE`], and its whole length so far.
    Overlong(Vec<u8>, usize),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LineShape<'a> {
    #[serde(rename = "Item", borrow)]
    item: &'a RawValue,
}

impl Reader {
    /// Opens the data file at `location` (a local path, or `s3://bucket/key`, which needs `s3`)
    /// and skips its first `skip` lines (those already durable), so the first page starts at
    /// line `skip + 1`.
    ///
    /// Fails when the file has fewer than `skip` lines (it is not the file the position was
    /// taken in), or cannot be read or decoded up to there.
    pub async fn open(location: &str, skip: u64, s3: Option<&S3>) -> Result<Reader, Error> {
        let source = match place(location, s3)? {
            Place::Local(path) => {
                Source::Local(std::fs::File::open(&path).map_err(|e| Error::io(location, e))?)
            }
            Place::S3 { bucket, key } => Source::S3 {
                s3: s3
                    .cloned()
                    .ok_or_else(|| Error::new(Kind::NoS3(location.to_owned())))?,
                bucket,
                key,
                offset: 0,
                total: None,
            },
        };
        let mut reader = Reader {
            file: location.to_owned(),
            source,
            decoder: MultiGzDecoder::new(Vec::new()),
            start: 0,
            scanned: 0,
            chunk: Bytes::new(),
            fed: 0,
            lines: 0,
            finished: false,
            overlong: false,
            broken: None,
        };
        // The first bytes now: a missing object or a refused read fails the open.
        reader.chunk = reader.fetch().await?;
        while reader.lines < skip {
            if reader.next_raw().await?.is_none() {
                return Err(Error::new(Kind::SkipBeyondEnd {
                    file: reader.file,
                    skip,
                    lines: reader.lines,
                }));
            }
        }
        Ok(reader)
    }

    /// The file's location, as given to [`open`](Reader::open).
    pub fn location(&self) -> &str {
        &self.file
    }

    /// The next page: lines until `max_items` lines (items and bad lines; at least one) or
    /// `max_bytes` decompressed bytes are taken, or the file ends.
    ///
    /// A truncated or corrupt gzip stream, or a read that fails, is an [`Error`] naming the file
    /// and the line reached; the lines of the failed page are not returned, so the last page's
    /// [`next`](Page::next) stays the position to resume from.
    pub async fn page(&mut self, max_items: usize, max_bytes: usize) -> Result<Page, Error> {
        let fed_before = self.fed;
        let mut page = Page {
            items: Vec::new(),
            bad: Vec::new(),
            next: self.lines,
            done: false,
            compressed_bytes: 0,
            uncompressed_bytes: 0,
        };
        let mut taken = 0usize;
        while taken < max_items.max(1) && (taken == 0 || page.uncompressed_bytes < max_bytes as u64)
        {
            let Some(raw) = self.next_raw().await? else {
                page.done = true;
                break;
            };
            taken += 1;
            let line = self.lines;
            match raw {
                Raw::Line(bytes) => {
                    page.uncompressed_bytes += bytes.len() as u64 + 1;
                    match classify(&bytes) {
                        Ok(item) => page.items.push(Item { line, item }),
                        Err(reason) => page.bad.push(BadLine {
                            line,
                            reason,
                            text: lossy(&bytes),
                        }),
                    }
                }
                Raw::Overlong(start, len) => {
                    page.uncompressed_bytes += len as u64 + 1;
                    page.bad.push(BadLine {
                        line,
                        reason: format!("longer than {MAX_LINE} bytes ({len} bytes)"),
                        text: lossy(&start),
                    });
                }
            }
        }
        if !page.done {
            // Whether the file ends here: a peek at the next line (an error surfaces at the
            // next page, which starts there).
            page.done = matches!(self.at_end().await, Ok(true));
        }
        page.next = self.lines;
        page.compressed_bytes = self.fed - fed_before;
        Ok(page)
    }

    /// True when no line is left; reads ahead until a whole line is buffered or the file ends.
    async fn at_end(&mut self) -> Result<bool, Error> {
        loop {
            let pending = &self.decoder.get_ref()[self.start..];
            if pending.contains(&b'\n') || pending.len() > MAX_LINE {
                return Ok(false);
            }
            if self.finished {
                return Ok(pending.is_empty() && !self.overlong);
            }
            self.feed().await?;
        }
    }

    /// The next line (without its newline), or `None` at the end of the file.
    async fn next_raw(&mut self) -> Result<Option<Raw>, Error> {
        loop {
            let pending = &self.decoder.get_ref()[self.start..];
            let newline = pending[self.scanned..]
                .iter()
                .position(|&b| b == b'\n')
                .map(|at| self.scanned + at);
            self.scanned = pending.len();
            if let Some(at) = newline {
                self.scanned = 0;
                let raw = if at > MAX_LINE {
                    Raw::Overlong(pending[..BAD_TEXT].to_vec(), at)
                } else {
                    Raw::Line(pending[..at].to_vec())
                };
                self.start += at + 1;
                self.compact();
                if self.overlong {
                    // The end of a line whose start was already reported.
                    self.overlong = false;
                    continue;
                }
                self.lines += 1;
                return Ok(Some(raw));
            }
            if self.finished {
                if pending.is_empty() || self.overlong {
                    self.start += pending.len();
                    self.scanned = 0;
                    self.overlong = false;
                    return Ok(None);
                }
                // The last line, without a newline.
                let line = pending.to_vec();
                self.start += line.len();
                self.scanned = 0;
                self.lines += 1;
                return Ok(Some(Raw::Line(line)));
            }
            if pending.len() > MAX_LINE && !self.overlong {
                let start = pending[..BAD_TEXT].to_vec();
                let len = pending.len();
                self.start += len;
                self.scanned = 0;
                self.compact();
                self.overlong = true;
                self.lines += 1;
                return Ok(Some(Raw::Overlong(start, len)));
            }
            if self.overlong {
                // Drop what is buffered of the overlong line.
                self.start += pending.len();
                self.scanned = 0;
                self.compact();
            }
            self.feed().await?;
        }
    }

    /// Drops the decoder output already cut into lines, once it is most of the buffer.
    fn compact(&mut self) {
        let buffer = self.decoder.get_mut();
        if self.start > 0 && (self.start >= buffer.len() / 2 || self.start == buffer.len()) {
            buffer.drain(..self.start);
            self.start = 0;
        }
    }

    /// Feeds up to [`FEED`] more compressed bytes to the decoder, fetching them if needed; at
    /// the end of the source, finishes the decoder (a truncated stream fails here).
    async fn feed(&mut self) -> Result<(), Error> {
        if let Some(reason) = &self.broken {
            return Err(self.gzip_error(reason.clone()));
        }
        if self.chunk.is_empty() {
            self.chunk = self.fetch().await?;
            if self.chunk.is_empty() {
                if self.fed > 0
                    && let Err(e) = self.decoder.try_finish()
                {
                    self.broken = Some(e.to_string());
                    return Err(self.gzip_error(e.to_string()));
                }
                self.finished = true;
                return Ok(());
            }
        }
        let n = self.chunk.len().min(FEED);
        let part = self.chunk.split_to(n);
        self.fed += n as u64;
        if let Err(e) = self.decoder.write_all(&part) {
            self.broken = Some(e.to_string());
            return Err(self.gzip_error(e.to_string()));
        }
        Ok(())
    }

    /// The next compressed bytes of the file; empty at its end.
    async fn fetch(&mut self) -> Result<Bytes, Error> {
        match &mut self.source {
            Source::Local(file) => {
                let mut buffer = vec![0u8; LOCAL_READ];
                let n = loop {
                    match file.read(&mut buffer) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(Error::new(Kind::Read {
                                file: self.file.clone(),
                                line: self.lines,
                                reason: e.to_string(),
                            }));
                        }
                    }
                };
                buffer.truncate(n);
                Ok(Bytes::from(buffer))
            }
            Source::S3 {
                s3,
                bucket,
                key,
                offset,
                total,
            } => {
                if total.is_some_and(|t| *offset >= t) {
                    return Ok(Bytes::new());
                }
                let range = s3
                    .get_range(bucket, key, *offset, s3.range_size())
                    .await
                    .map_err(|e| {
                        Error::new(Kind::S3Read {
                            file: self.file.clone(),
                            line: self.lines,
                            source: e,
                        })
                    })?;
                *offset += range.bytes.len() as u64;
                *total = Some(range.total);
                Ok(range.bytes)
            }
        }
    }

    fn gzip_error(&self, reason: String) -> Error {
        Error::new(Kind::Gzip {
            file: self.file.clone(),
            line: self.lines,
            reason,
        })
    }
}

/// A line's item, or why it is not `{"Item":{...}}`.
fn classify(bytes: &[u8]) -> Result<Box<RawValue>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Err("an empty line".into());
    }
    let shape: LineShape<'_> = serde_json::from_str(text)
        .map_err(|e| format!("not a JSON object {{\"Item\":{{...}}}}: {e}"))?;
    let item = shape.item.get();
    if !item.starts_with('{') {
        return Err("its Item is not an object".into());
    }
    RawValue::from_string(item.to_owned()).map_err(|e| e.to_string())
}

fn lossy(bytes: &[u8]) -> String {
    let mut end = bytes.len().min(BAD_TEXT);
    // Cut on a character boundary where the text is UTF-8.
    while end < bytes.len() && end > 0 && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Why an export or a data file could not be read. Ask it questions rather than reading its
/// message; no credential appears in `Display` or `Debug`.
pub struct Error {
    kind: Box<Kind>,
}

#[derive(Debug)]
enum Kind {
    /// Not a local path nor `s3://bucket/...`.
    Location(String),
    /// An `s3://` location, and no S3 reader.
    NoS3(String),
    /// A local file or directory could not be read.
    Io { path: String, reason: String },
    /// An S3 call for the export's manifests or listing failed.
    S3(s3::Error),
    /// A manifest that is not as AWS writes it.
    Manifest { file: String, reason: String },
    /// An export this reader does not read.
    Format { export: String, what: String },
    /// A data file's gzip stream is truncated or corrupt.
    Gzip {
        file: String,
        line: u64,
        reason: String,
    },
    /// Reading a local data file failed.
    Read {
        file: String,
        line: u64,
        reason: String,
    },
    /// Reading a data file from S3 failed.
    S3Read {
        file: String,
        line: u64,
        source: s3::Error,
    },
    /// The file has fewer lines than the position to resume from.
    SkipBeyondEnd { file: String, skip: u64, lines: u64 },
}

impl Error {
    fn new(kind: Kind) -> Error {
        Error {
            kind: Box::new(kind),
        }
    }

    fn io(path: &str, e: std::io::Error) -> Error {
        Error::new(Kind::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        })
    }

    fn manifest(file: &str, reason: String) -> Error {
        Error::new(Kind::Manifest {
            file: file.to_owned(),
            reason,
        })
    }

    /// The data file this error is about, when it is about one.
    pub fn file(&self) -> Option<&str> {
        match &*self.kind {
            Kind::Gzip { file, .. }
            | Kind::Read { file, .. }
            | Kind::S3Read { file, .. }
            | Kind::SkipBeyondEnd { file, .. } => Some(file),
            _ => None,
        }
    }

    /// For an error while reading a data file: how many lines had been read when it happened.
    pub fn line(&self) -> Option<u64> {
        match &*self.kind {
            Kind::Gzip { line, .. } | Kind::Read { line, .. } | Kind::S3Read { line, .. } => {
                Some(*line)
            }
            Kind::SkipBeyondEnd { lines, .. } => Some(*lines),
            _ => None,
        }
    }

    /// Might the same read succeed later (S3 busy or not answering after its retries)?
    pub fn is_retryable(&self) -> bool {
        match &*self.kind {
            Kind::S3(e) | Kind::S3Read { source: e, .. } => e.is_retryable(),
            _ => false,
        }
    }

    /// Is the data itself bad (a truncated or corrupt gzip stream, a manifest not as AWS writes
    /// it, a file shorter than the resume position, an export format not read here)?
    pub fn is_bad_data(&self) -> bool {
        matches!(
            &*self.kind,
            Kind::Gzip { .. }
                | Kind::Manifest { .. }
                | Kind::Format { .. }
                | Kind::SkipBeyondEnd { .. }
        )
    }

    /// The S3 error behind this one, if any (its [`code`](s3::Error::code) says `NoSuchKey`,
    /// `AccessDenied`...).
    pub fn s3(&self) -> Option<&s3::Error> {
        match &*self.kind {
            Kind::S3(e) | Kind::S3Read { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<s3::Error> for Error {
    fn from(e: s3::Error) -> Error {
        Error::new(Kind::S3(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.kind {
            Kind::Location(location) => write!(
                f,
                "{location:?} is not an export location (a local path, or s3://bucket/prefix/)"
            ),
            Kind::NoS3(location) => write!(f, "{location}: reading from S3 needs an S3 reader"),
            Kind::Io { path, reason } => write!(f, "{path}: {reason}"),
            Kind::S3(e) => e.fmt(f),
            Kind::Manifest { file, reason } => write!(f, "{file}: {reason}"),
            Kind::Format { export, what } => write!(
                f,
                "{export}: {what} is not read here (only full exports in DYNAMODB_JSON)"
            ),
            Kind::Gzip { file, line, reason } => write!(
                f,
                "{file}: the gzip stream is truncated or corrupt after line {line}: {reason}"
            ),
            Kind::Read { file, line, reason } => {
                write!(f, "{file}: reading failed after line {line}: {reason}")
            }
            Kind::S3Read { file, line, source } => {
                write!(f, "{file}: reading failed after line {line}: {source}")
            }
            Kind::SkipBeyondEnd { file, skip, lines } => write!(
                f,
                "{file}: has {lines} lines, fewer than the {skip} to skip (not the file the position was taken in?)"
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            Kind::S3(e) | Kind::S3Read { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_items_say_why() {
        assert!(classify(br#"{"Item":{"k":{"S":"a"}}}"#).is_ok());
        assert_eq!(
            classify(br#"{"Item":[1]}"#).unwrap_err(),
            "its Item is not an object"
        );
        assert!(
            classify(br#"{"Keys":{}}"#)
                .unwrap_err()
                .starts_with("not a JSON object")
        );
        assert!(classify(b"\xff{}").unwrap_err().starts_with("not UTF-8"));
        assert_eq!(classify(b"  ").unwrap_err(), "an empty line");
    }
}
