//! Reading DynamoDB exports: the hand-written export in `tests/fixtures/export/` (its README says
//! where its shape comes from), compared line by line with the plain text it was made from; then
//! moto's S3 (`MOTO_URL`, `dev/moto start`): a table exported by moto and read back through the
//! signed S3 client, compared with the items as they were put; the fixture uploaded and read over
//! S3; and a loopback stand-in for S3's retry answers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_credential_types::Credentials;
use serde_json::Value;
use stream2search_lambda::backfill::export::{Export, Page, Reader};
use stream2search_lambda::backfill::s3::S3;

const EXPORT: &str = "01700000000000-abcd1234";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).to_string_lossy().into_owned()
}

/// The lines of a hand-written data file, as bytes (the last line may lack its newline).
fn expected_lines(name: &str) -> Vec<Vec<u8>> {
    let text = std::fs::read(fixtures().join("expected").join(name)).unwrap();
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

/// The `Item` text of a line `{"Item":...}`, cut by hand.
fn item_text(line: &[u8]) -> String {
    let text = std::str::from_utf8(line).unwrap();
    text.strip_prefix("{\"Item\":")
        .and_then(|t| t.strip_suffix('}'))
        .unwrap()
        .to_owned()
}

/// Every remaining page of `reader`, `max_items` lines at a time.
async fn pages(reader: &mut Reader, max_items: usize, max_bytes: usize) -> Vec<Page> {
    let mut pages = Vec::new();
    loop {
        let page = reader.page(max_items, max_bytes).await.unwrap();
        let done = page.done;
        pages.push(page);
        if done {
            return pages;
        }
        assert!(pages.len() < 10_000, "the reader does not end");
    }
}

/// (line number, item text) of every item of `pages`.
fn items(pages: &[Page]) -> Vec<(u64, String)> {
    pages
        .iter()
        .flat_map(|p| p.items.iter().map(|i| (i.line, i.item.get().to_owned())))
        .collect()
}

#[tokio::test]
async fn manifests_give_the_files_in_order_with_their_counts_and_the_export_time() {
    let dir = fixture(EXPORT);
    let export = Export::open(&dir, None).await.unwrap();
    // 2023-11-14T22:13:20.215Z, rounded down.
    assert_eq!(export.export_time, Some(1_700_000_000));
    assert_eq!(export.item_count, Some(12));
    assert!(export.from_manifest);
    assert_eq!(export.location, format!("{dir}/"));
    let files: Vec<(&str, Option<u64>)> = export
        .files
        .iter()
        .map(|f| (f.location.as_str(), f.item_count))
        .collect();
    let aaaa = format!("{dir}/data/aaaa.json.gz");
    let bbbb = format!("{dir}/data/bbbb.json.gz");
    assert_eq!(files, [(aaaa.as_str(), Some(6)), (bbbb.as_str(), Some(6))]);
    assert_eq!(
        export.files[0].md5_checksum.as_deref(),
        Some("wJXLN7wTDDeSQL27Yuj5kg==")
    );
    // Each file has as many lines as its manifest line says; together, the summary's count.
    let mut total = 0;
    for file in &export.files {
        let mut reader = Reader::open(&file.location, 0, None).await.unwrap();
        let pages = pages(&mut reader, 1000, usize::MAX).await;
        let lines: u64 = pages
            .iter()
            .map(|p| (p.items.len() + p.bad.len()) as u64)
            .sum();
        assert_eq!(Some(lines), file.item_count, "{}", file.location);
        total += lines;
    }
    assert_eq!(Some(total), export.item_count);
}

#[tokio::test]
async fn every_item_is_read_with_its_text_exactly_as_in_the_file_across_gzip_members() {
    let file = fixture(&format!("{EXPORT}/data/aaaa.json.gz"));
    let mut reader = Reader::open(&file, 0, None).await.unwrap();
    let page = reader.page(100, usize::MAX).await.unwrap();
    let want: Vec<(u64, String)> = expected_lines("aaaa.jsonl")
        .iter()
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, item_text(l)))
        .collect();
    assert_eq!(items(std::slice::from_ref(&page)), want);
    assert!(page.bad.is_empty());
    assert!(page.done);
    assert_eq!(page.next, 6);
    let plain = std::fs::read(fixtures().join("expected/aaaa.jsonl")).unwrap();
    assert_eq!(page.uncompressed_bytes, plain.len() as u64);
    assert_eq!(
        page.compressed_bytes,
        std::fs::metadata(&file).unwrap().len()
    );
    // Numbers keep their text: 1.500, 1E+2, 38 digits.
    assert!(want[0].1.contains(r#"{"N":"1.500"}"#) && want[0].1.contains(r#"{"N":"1E+2"}"#));
}

#[tokio::test]
async fn lines_that_are_not_items_are_values_with_their_number_reason_and_text() {
    let file = fixture(&format!("{EXPORT}/data/bbbb.json.gz"));
    let lines = expected_lines("bbbb.jsonl");
    let mut reader = Reader::open(&file, 0, None).await.unwrap();
    let page = reader.page(100, usize::MAX).await.unwrap();
    assert!(page.done);
    assert_eq!(page.next, 6);
    // Line 6 has no newline after it, and is read all the same.
    assert_eq!(
        items(std::slice::from_ref(&page)),
        [(1, item_text(&lines[0])), (6, item_text(&lines[5]))]
    );
    let bad: Vec<(u64, &str)> = page.bad.iter().map(|b| (b.line, b.text.as_str())).collect();
    assert_eq!(
        bad,
        [
            (2, "this is not json"),
            (3, r#"{"Keys":{"productId":{"S":"q-3"}}}"#),
            (
                4,
                "{\"Item\":{\"productId\":{\"S\":\"q-4\"},\"bad\":{\"S\":\"\u{FFFD}\"}}}"
            ),
            (5, r#"{"Item":["q-5"]}"#),
        ]
    );
    let reasons: Vec<&str> = page.bad.iter().map(|b| b.reason.as_str()).collect();
    assert!(reasons[0].starts_with("not a JSON object"), "{reasons:?}");
    assert!(reasons[1].starts_with("not a JSON object"), "{reasons:?}");
    assert!(reasons[2].starts_with("not UTF-8"), "{reasons:?}");
    assert_eq!(reasons[3], "its Item is not an object");
}

#[tokio::test]
async fn pages_end_at_max_items_or_max_bytes_and_only_the_last_says_done() {
    let file = fixture(&format!("{EXPORT}/data/aaaa.json.gz"));
    let mut reader = Reader::open(&file, 0, None).await.unwrap();
    let by_two = pages(&mut reader, 2, usize::MAX).await;
    let shape: Vec<(Vec<u64>, u64, bool)> = by_two
        .iter()
        .map(|p| (p.items.iter().map(|i| i.line).collect(), p.next, p.done))
        .collect();
    assert_eq!(
        shape,
        [
            (vec![1, 2], 2, false),
            (vec![3, 4], 4, false),
            (vec![5, 6], 6, true)
        ]
    );
    let lines = expected_lines("aaaa.jsonl");
    for page in &by_two {
        let want: u64 = page
            .items
            .iter()
            .map(|i| lines[i.line as usize - 1].len() as u64 + 1)
            .sum();
        assert_eq!(page.uncompressed_bytes, want);
    }
    // A byte limit below one line still takes one line a page.
    let mut reader = Reader::open(&file, 0, None).await.unwrap();
    let by_byte = pages(&mut reader, 100, 1).await;
    assert_eq!(by_byte.len(), 6);
    assert!(by_byte.iter().all(|p| p.items.len() == 1));
    // Compressed bytes add up to the file's size, however the pages fall.
    let compressed: u64 = by_byte.iter().map(|p| p.compressed_bytes).sum();
    assert_eq!(compressed, std::fs::metadata(&file).unwrap().len());
}

#[tokio::test]
async fn skip_resumes_with_exactly_the_lines_after_it() {
    for (name, count) in [("aaaa", 6u64), ("bbbb", 6)] {
        let file = fixture(&format!("{EXPORT}/data/{name}.json.gz"));
        let mut full = Reader::open(&file, 0, None).await.unwrap();
        let all = pages(&mut full, 1000, usize::MAX).await;
        let all_items = items(&all);
        let all_bad: Vec<u64> = all
            .iter()
            .flat_map(|p| p.bad.iter().map(|b| b.line))
            .collect();
        for skip in 0..=count {
            let mut reader = Reader::open(&file, skip, None).await.unwrap();
            let rest = pages(&mut reader, 2, usize::MAX).await;
            let want: Vec<(u64, String)> = all_items
                .iter()
                .filter(|(line, _)| *line > skip)
                .cloned()
                .collect();
            assert_eq!(items(&rest), want, "{name} from {skip}");
            let bad: Vec<u64> = rest
                .iter()
                .flat_map(|p| p.bad.iter().map(|b| b.line))
                .collect();
            let want_bad: Vec<u64> = all_bad.iter().copied().filter(|l| *l > skip).collect();
            assert_eq!(bad, want_bad, "{name} from {skip}");
            assert_eq!(rest.last().unwrap().next, count);
        }
        let beyond = Reader::open(&file, count + 1, None).await.unwrap_err();
        assert!(beyond.is_bad_data());
        assert_eq!(beyond.file(), Some(file.as_str()));
        assert_eq!(beyond.line(), Some(count));
    }
}

#[tokio::test]
async fn without_manifests_the_data_files_are_listed_by_name() {
    let dir = fixture("listed");
    let export = Export::open(&dir, None).await.unwrap();
    assert!(!export.from_manifest);
    assert_eq!(export.export_time, None);
    assert_eq!(export.item_count, None);
    let names: Vec<&str> = export.files.iter().map(|f| f.location.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{dir}/data/a.json.gz"),
            format!("{dir}/data/b.json.gz")
        ]
    );
    let mut reader = Reader::open(&export.files[0].location, 0, None)
        .await
        .unwrap();
    let want: Vec<String> = expected_lines("aaaa.jsonl")
        .iter()
        .map(|l| item_text(l))
        .collect();
    let got: Vec<String> = items(&pages(&mut reader, 4, usize::MAX).await)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn ion_and_incremental_exports_are_refused_by_name() {
    let ion = Export::open(&fixture("ion"), None).await.unwrap_err();
    assert!(ion.is_bad_data());
    assert!(ion.to_string().contains("outputFormat ION"), "{ion}");
    let incremental = Export::open(&fixture("incremental"), None)
        .await
        .unwrap_err();
    assert!(
        incremental
            .to_string()
            .contains("exportType INCREMENTAL_EXPORT"),
        "{incremental}"
    );
}

#[tokio::test]
async fn a_truncated_gzip_stream_fails_the_file_naming_it_and_the_line_reached() {
    let file = fixture("truncated.json.gz");
    let lines = expected_lines("aaaa.jsonl");
    let mut reader = Reader::open(&file, 0, None).await.unwrap();
    let mut read = Vec::new();
    let error = loop {
        match reader.page(1, usize::MAX).await {
            Ok(page) => {
                assert!(!page.done, "a truncated file never ends well");
                read.extend(items(std::slice::from_ref(&page)));
            }
            Err(e) => break e,
        }
    };
    // What was read is a prefix of the file: the first member's three lines at least.
    assert!(read.len() >= 3 && read.len() < 6, "{read:?}");
    for (line, text) in &read {
        assert_eq!(*text, item_text(&lines[*line as usize - 1]));
    }
    assert!(error.is_bad_data());
    assert_eq!(error.file(), Some(file.as_str()));
    assert_eq!(error.line(), Some(read.len() as u64));
    assert!(error.to_string().contains("truncated.json.gz"), "{error}");
    // The failure stays: the rest of the file is never taken for lines.
    assert!(reader.page(1, usize::MAX).await.is_err());
}

#[tokio::test]
async fn empty_files_have_no_lines() {
    for name in ["empty.json.gz", "empty-member.json.gz"] {
        let mut reader = Reader::open(&fixture(name), 0, None).await.unwrap();
        let page = reader.page(10, usize::MAX).await.unwrap();
        assert!(page.items.is_empty() && page.bad.is_empty(), "{name}");
        assert!(page.done, "{name}");
        assert_eq!(page.next, 0, "{name}");
    }
}

#[tokio::test]
async fn a_line_beyond_the_limit_is_a_bad_line_and_the_next_line_is_read() {
    use std::io::Write as _;
    let path = std::env::temp_dir().join(format!("s2s-overlong-{}.json.gz", std::process::id()));
    let long = vec![b'a'; stream2search_lambda::backfill::export::MAX_LINE + 10];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(b"{\"Item\":{\"k\":{\"S\":\"1\"}}}\n").unwrap();
    gz.write_all(&long).unwrap();
    gz.write_all(b"\n{\"Item\":{\"k\":{\"S\":\"3\"}}}\n")
        .unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let mut reader = Reader::open(&path.to_string_lossy(), 0, None)
        .await
        .unwrap();
    let all = pages(&mut reader, 100, usize::MAX).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        items(&all),
        [
            (1, r#"{"k":{"S":"1"}}"#.to_owned()),
            (3, r#"{"k":{"S":"3"}}"#.to_owned())
        ]
    );
    let bad: Vec<_> = all.iter().flat_map(|p| p.bad.iter()).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].line, 2);
    assert!(
        bad[0].reason.starts_with("longer than"),
        "{}",
        bad[0].reason
    );
    assert!(bad[0].text.len() <= 64 * 1024 && bad[0].text.starts_with("aaaa"));
    assert_eq!(all.last().unwrap().next, 3);
}

#[tokio::test]
async fn an_s3_location_without_an_s3_reader_is_a_clear_error() {
    let e = Export::open("s3://bucket/exports/AWSDynamoDB/1/", None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("needs an S3 reader"), "{e}");
    let e = Reader::open("s3://bucket/x.json.gz", 0, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("needs an S3 reader"), "{e}");
    let e = Export::open("ftp://host/x", None).await.unwrap_err();
    assert!(e.to_string().contains("not an export location"), "{e}");
}

// ---- moto ----------------------------------------------------------------------------------

fn moto() -> Option<String> {
    stream2search_testkit::moto_url(&[&stream2search_testkit::moto::python()])
}

/// Runs `tests/export_moto.py` with `args`, `stdin` on its standard input; its output.
fn moto_py(moto: &str, args: &[&str], stdin: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/export_moto.py");
    let mut command = stream2search_testkit::moto::script(&script, moto);
    let out = stream2search_testkit::moto::run(command.args(args), stdin, &[0]);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn s3(moto: &str) -> S3 {
    let creds = Credentials::new("testing", "testing", None, None, "test");
    S3::new(Some(moto), "us-east-1", creds, Duration::from_secs(10)).unwrap()
}

fn unique(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("s2s-{what}-{}-{nanos}", std::process::id())
}

/// A DynamoDB JSON value with set members sorted (DynamoDB sets have no order); every number
/// stays the text it was.
fn sets_sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("SS" | "NS" | "BS", Value::Array(members)) => {
                            let mut members = members.clone();
                            members.sort_by_key(|m| m.to_string());
                            Value::Array(members)
                        }
                        _ => sets_sorted(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(values) => Value::Array(values.iter().map(sets_sorted).collect()),
        other => other.clone(),
    }
}

/// Items of every type, as put (DynamoDB JSON; N texts as DynamoDB would take them).
const PUT: &[&str] = &[
    r#"{"productId":{"S":"m-1"},"name":{"S":"Widget é \"quoted\""},"price":{"N":"1.5"},"big":{"N":"100"},"digits":{"N":"12345678901234567890123456789012345678"}}"#,
    r#"{"productId":{"S":"m-2"},"blob":{"B":"AAEC/w=="},"flag":{"BOOL":false},"on":{"BOOL":true},"nothing":{"NULL":true}}"#,
    r#"{"productId":{"S":"m-3"},"tags":{"SS":["a","b"]},"sizes":{"NS":["1","2.5"]},"blobs":{"BS":["AA==","AQI="]}}"#,
    r#"{"productId":{"S":"m-4"},"list":{"L":[{"S":"x"},{"N":"7"},{"L":[]},{"M":{}},{"NULL":true}]},"map":{"M":{"nested":{"M":{"deep":{"BOOL":true}}},"n":{"N":"0"}}}}"#,
    r#"{"productId":{"S":"m-5"},"empty":{"S":""},"unicode":{"S":"日本語 😀"}}"#,
];

#[tokio::test]
async fn a_moto_export_is_listed_and_read_item_for_item_as_put() {
    let Some(moto) = moto() else { return };
    let bucket = unique("export");
    let location = moto_py(
        &moto,
        &["export", &bucket, &unique("table"), "exports"],
        &PUT.join("\n"),
    );
    assert!(
        location.starts_with(&format!("s3://{bucket}/exports/AWSDynamoDB/")),
        "{location}"
    );
    let s3 = s3(&moto);
    let export = Export::open(&location, Some(&s3)).await.unwrap();
    assert!(!export.from_manifest, "moto 5.2.5 writes no manifests");
    assert_eq!(export.files.len(), 1);
    let file = &export.files[0].location;
    assert!(file.starts_with(&format!("{location}data/")), "{file}");

    let mut reader = Reader::open(file, 0, Some(&s3)).await.unwrap();
    let all = pages(&mut reader, 2, usize::MAX).await;
    assert!(all.iter().all(|p| p.bad.is_empty()));
    let mut got: Vec<Value> = items(&all)
        .iter()
        .map(|(_, text)| sets_sorted(&serde_json::from_str(text).unwrap()))
        .collect();
    let mut want: Vec<Value> = PUT
        .iter()
        .map(|t| sets_sorted(&serde_json::from_str(t).unwrap()))
        .collect();
    let by_key = |v: &Value| v["productId"]["S"].as_str().unwrap().to_owned();
    got.sort_by_key(by_key);
    want.sort_by_key(by_key);
    assert_eq!(got, want);

    // Ranges of 64 bytes: the same lines, in many signed GETs.
    let small = s3.clone().with_range_size(64);
    let mut ranged = Reader::open(file, 0, Some(&small)).await.unwrap();
    let ranged_pages = pages(&mut ranged, 1, usize::MAX).await;
    assert_eq!(items(&ranged_pages), items(&all));
    let size = export.files[0].size.unwrap();
    assert!(size > 128, "the file ({size} bytes) spans several ranges");
    let compressed: u64 = ranged_pages.iter().map(|p| p.compressed_bytes).sum();
    assert_eq!(compressed, size);
    // And resumed from line 3 over S3.
    let mut resumed = Reader::open(file, 3, Some(&small)).await.unwrap();
    let rest: Vec<_> = items(&pages(&mut resumed, 10, usize::MAX).await);
    let after: Vec<_> = items(&all).into_iter().filter(|(l, _)| *l > 3).collect();
    assert_eq!(rest, after);
}

#[tokio::test]
async fn the_fixture_export_reads_the_same_from_s3_as_from_its_directory() {
    let Some(moto) = moto() else { return };
    let bucket = unique("fixture");
    let prefix = format!("exports/AWSDynamoDB/{EXPORT}");
    moto_py(&moto, &["upload", &bucket, &fixture(EXPORT), &prefix], "");
    moto_py(
        &moto,
        &["upload", &bucket, &fixture("listed"), "listed"],
        "",
    );
    let s3 = s3(&moto);

    let location = format!("s3://{bucket}/{prefix}/");
    let remote = Export::open(&location, Some(&s3)).await.unwrap();
    let local = Export::open(&fixture(EXPORT), None).await.unwrap();
    assert!(remote.from_manifest);
    assert_eq!(remote.export_time, local.export_time);
    assert_eq!(remote.item_count, local.item_count);
    let names = |e: &Export| -> Vec<String> {
        e.files
            .iter()
            .map(|f| f.location.rsplit('/').next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&remote), names(&local));
    assert!(
        remote.files[0]
            .location
            .starts_with(&format!("{location}data/"))
    );
    for (r, l) in remote.files.iter().zip(&local.files) {
        let mut remote_reader = Reader::open(&r.location, 0, Some(&s3)).await.unwrap();
        let mut local_reader = Reader::open(&l.location, 0, None).await.unwrap();
        let remote_pages = pages(&mut remote_reader, 3, usize::MAX).await;
        let local_pages = pages(&mut local_reader, 3, usize::MAX).await;
        assert_eq!(items(&remote_pages), items(&local_pages));
        let bad = |p: &[Page]| -> Vec<_> { p.iter().flat_map(|p| p.bad.clone()).collect() };
        assert_eq!(bad(&remote_pages), bad(&local_pages));
    }

    // A listing one key per request follows the continuation tokens.
    let one_by_one = s3.clone().with_list_size(1);
    let listed = Export::open(&format!("s3://{bucket}/listed/"), Some(&one_by_one))
        .await
        .unwrap();
    let names: Vec<&str> = listed.files.iter().map(|f| f.location.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("s3://{bucket}/listed/data/a.json.gz"),
            format!("s3://{bucket}/listed/data/b.json.gz")
        ]
    );
    let objects = one_by_one.list(&bucket, "").await.unwrap();
    assert_eq!(objects.len(), 7, "{objects:?}");
}

#[tokio::test]
async fn a_missing_key_or_bucket_is_an_error_naming_it_and_s3s_code() {
    let Some(moto) = moto() else { return };
    let bucket = unique("missing");
    moto_py(
        &moto,
        &["upload", &bucket, &fixture("listed"), "listed"],
        "",
    );
    let s3 = s3(&moto);
    let missing = format!("s3://{bucket}/listed/data/nope.json.gz");
    let e = Reader::open(&missing, 0, Some(&s3)).await.unwrap_err();
    assert_eq!(e.s3().and_then(|e| e.code()), Some("NoSuchKey"), "{e}");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains(&missing), "{e}");
    let e = Export::open("s3://s2s-no-such-bucket-at-all/x/", Some(&s3))
        .await
        .unwrap_err();
    assert_eq!(e.s3().and_then(|e| e.code()), Some("NoSuchBucket"), "{e}");
    assert!(e.to_string().contains("s2s-no-such-bucket-at-all"), "{e}");
}

// ---- S3's busy answers, from a loopback stand-in --------------------------------------------

#[tokio::test]
async fn slow_down_is_retried_and_no_such_key_is_not() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let slow =
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    Mock::given(method("GET"))
        .and(path("/b/busy.json.gz"))
        .respond_with(ResponseTemplate::new(503).set_body_string(slow))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/b/busy.json.gz"))
        .respond_with(
            ResponseTemplate::new(206)
                .insert_header("content-range", "bytes 0-4/5")
                .set_body_bytes(b"hello".to_vec()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let missing =
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
    Mock::given(method("GET"))
        .and(path("/b/gone.json.gz"))
        .respond_with(ResponseTemplate::new(404).set_body_string(missing))
        .expect(1)
        .mount(&server)
        .await;
    let s3 = s3(&server.uri());
    let range = s3.get_range("b", "busy.json.gz", 0, 100).await.unwrap();
    assert_eq!(&range.bytes[..], b"hello");
    assert_eq!(range.total, 5);
    let e = s3.get_range("b", "gone.json.gz", 0, 100).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("s3://b/gone.json.gz"), "{e}");
    // Every request was signed for s3 with the range asked for.
    for request in server.received_requests().await.unwrap() {
        let auth = request.headers["authorization"].to_str().unwrap();
        assert!(auth.contains("/us-east-1/s3/aws4_request"), "{auth}");
        assert_eq!(request.headers["range"], "bytes=0-99");
    }
}

#[test]
fn readers_and_their_futures_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let creds = Credentials::new("a", "b", None, None, "test");
    let s3 = S3::new(None, "eu-west-1", creds, Duration::from_secs(1)).unwrap();
    send(&s3);
    send(&Export::open("/nowhere", Some(&s3)));
    send(&Reader::open("s3://b/k", 0, Some(&s3)));
    let opening = async {
        let mut reader = Reader::open("/nowhere", 0, None).await.unwrap();
        reader.page(1, 1).await.unwrap();
    };
    send(&opening);
}

#[tokio::test]
async fn no_credential_shows_in_the_reader_or_its_errors() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let secrets = stream2search_testkit::secrets::Credentials {
        access_key: "AKIDLEAKCHECK0000001",
        secret_key: "leak/check+secret=key0000000000000000000",
        session_token: "leak/check+session=token000000000000000",
        username: "",
        password: "unused-password-0000",
    };
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_string(
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        ))
        .mount(&server)
        .await;
    let creds = Credentials::new(
        secrets.access_key,
        secrets.secret_key,
        Some(secrets.session_token.to_owned()),
        None,
        "test",
    );
    let s3 = S3::new(
        Some(&server.uri()),
        "us-east-1",
        creds,
        Duration::from_secs(5),
    )
    .unwrap();
    secrets.assert_absent("S3's Debug", &format!("{s3:?}"));
    let e = Export::open("s3://b/exports/AWSDynamoDB/1/", Some(&s3))
        .await
        .unwrap_err();
    assert_eq!(e.s3().and_then(|e| e.code()), Some("AccessDenied"));
    secrets.assert_absent("the error", &format!("{e} {e:?}"));
    let e = Reader::open("s3://b/k.json.gz", 0, Some(&s3))
        .await
        .unwrap_err();
    secrets.assert_absent("the error", &format!("{e} {e:?}"));
    // The requests did carry them (signed with the session token).
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.headers["x-amz-security-token"] == secrets.session_token)
    );
}
