//! The generated DynamoDB export: the layout and manifests DynamoDB writes, items of the promised
//! size and types, pinned content, and readable by readers other than the generator (serde_json,
//! serde_dynamo, flate2, the MD5 of the file bytes, and the backfill's own export reader).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest as _, Md5};
use serde_json::Value;
use sha2::Sha256;
use stream2search_benches::export::{self, Spec};
use stream2search_lambda::backfill::export::{Export, Reader};

const ALL_TYPES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "M", "L"];

/// The SHA-256 of the decompressed data files of `small()`, concatenated in manifest order.
/// Changing the generator's items changes it: update it deliberately, with the change.
const SMALL_DIGEST: &str = "e65bc09156ed4046575a70c98a53b0ef4384cb4563239746d9f6a01e88b72632";

fn small() -> Spec {
    Spec {
        items: 250,
        files: 3,
        item_bytes: 1000,
        seed: export::SEED,
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn manifest_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("manifest-files.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every line of every data file, in manifest order.
fn all_lines(dir: &Path) -> Vec<String> {
    export::data_files(dir)
        .unwrap()
        .iter()
        .flat_map(|p| export::read_lines(p).unwrap())
        .collect()
}

fn collect_tags(av: &Value, tags: &mut BTreeSet<String>) {
    let object = av.as_object().expect("an AttributeValue is an object");
    assert_eq!(object.len(), 1, "one type tag: {av}");
    let (tag, inner) = object.iter().next().unwrap();
    tags.insert(tag.clone());
    match tag.as_str() {
        "M" => inner
            .as_object()
            .unwrap()
            .values()
            .for_each(|v| collect_tags(v, tags)),
        "L" => inner
            .as_array()
            .unwrap()
            .iter()
            .for_each(|v| collect_tags(v, tags)),
        _ => {}
    }
}

#[test]
fn export_has_the_layout_and_manifests_dynamodb_writes() {
    let dir = fresh_dir("export-layout");
    let written = export::write(&dir, &small()).unwrap();
    let id = &written.export_id;

    let summary = json(&dir.join("manifest-summary.json"));
    let prefix = summary["s3Prefix"].as_str().unwrap();
    let base = format!("{prefix}/AWSDynamoDB/{id}");
    assert_eq!(summary["version"], "2020-06-30");
    assert_eq!(summary["itemCount"], 250);
    assert_eq!(summary["outputFormat"], "DYNAMODB_JSON");
    assert_eq!(summary["exportType"], "FULL_EXPORT");
    assert_eq!(summary["exportTime"], "2026-01-01T00:00:00.000Z");
    assert_eq!(
        summary["manifestFilesS3Key"],
        format!("{base}/manifest-files.json")
    );
    assert_eq!(
        summary["exportArn"],
        format!("{}/export/{id}", summary["tableArn"].as_str().unwrap())
    );
    for field in [
        "startTime",
        "endTime",
        "tableId",
        "s3Bucket",
        "s3SseAlgorithm",
    ] {
        assert!(summary[field].is_string(), "{field}");
    }
    assert!(summary["billedSizeBytes"].as_u64().unwrap() > 0);
    assert_eq!(std::fs::metadata(dir.join("_started")).unwrap().len(), 0);

    let lines = manifest_lines(&dir);
    assert_eq!(lines.len(), 3);
    let counts: Vec<u64> = lines
        .iter()
        .map(|l| l["itemCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [83, 83, 84]);
    let mut names = BTreeSet::new();
    for line in &lines {
        let object = line.as_object().unwrap();
        assert_eq!(
            object.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(["itemCount", "md5Checksum", "etag", "dataFileS3Key"])
        );
        let key = line["dataFileS3Key"].as_str().unwrap();
        let name = key
            .strip_prefix(&format!("{base}/data/"))
            .and_then(|n| n.strip_suffix(".json.gz"))
            .unwrap_or_else(|| panic!("{key}"));
        assert_eq!(name.len(), 26, "{name}");
        assert!(names.insert(name.to_owned()), "{name} twice");
        let bytes = std::fs::read(dir.join("data").join(format!("{name}.json.gz"))).unwrap();
        assert_eq!(&bytes[..2], [0x1f, 0x8b], "gzip");
        let md5 = Md5::digest(&bytes);
        assert_eq!(line["md5Checksum"], STANDARD.encode(md5));
        let etag = format!("{}-1", export::hex(&Md5::digest(md5)));
        assert_eq!(line["etag"], etag);
    }
    assert_eq!(
        std::fs::read_dir(dir.join("data")).unwrap().count(),
        3,
        "no other files under data/"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_line_is_one_item_of_the_promised_size_in_dynamodb_json() {
    let dir = fresh_dir("export-items");
    export::write(&dir, &small()).unwrap();
    let lines = all_lines(&dir);
    assert_eq!(lines.len(), 250);
    let mut tags = BTreeSet::new();
    let mut keys = BTreeSet::new();
    let mut trailing_zeros = 0;
    let mut non_ascii = 0;
    for line in &lines {
        let value: Value = serde_json::from_str(line).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), ["Item"], "{line}");
        let item = &object["Item"];
        // Exactly the size asked for, compact: no white space was added around it.
        let text = &line["{\"Item\":".len()..line.len() - 1];
        assert_eq!(text.len(), 1000, "{line}");
        assert_eq!(serde_json::to_string(item).unwrap().len(), 1000, "compact");
        // Another reader of DynamoDB JSON takes it.
        let _: serde_dynamo::Item = serde_json::from_str(text).unwrap();
        for av in item.as_object().unwrap().values() {
            collect_tags(av, &mut tags);
        }
        assert!(keys.insert(item["pk"]["S"].as_str().unwrap().to_owned()));
        if item["price"]["N"].as_str().unwrap().ends_with('0') {
            trailing_zeros += 1;
        }
        if !text.is_ascii() {
            non_ascii += 1;
        }
    }
    assert_eq!(tags, ALL_TYPES.map(String::from).into());
    let expected: BTreeSet<String> = (0..250).map(|i| format!("PRODUCT#{i:010}")).collect();
    assert_eq!(keys, expected);
    assert!(trailing_zeros > 25, "{trailing_zeros} prices end in 0");
    assert!(non_ascii > 25, "{non_ascii} items with non-ASCII text");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The content (not the gzip bytes, which a compressor update may change) is pinned.
#[test]
fn generated_items_have_the_pinned_digest_whatever_the_file_count() {
    let digest = |files: u32| {
        let dir = fresh_dir(&format!("export-digest-{files}"));
        export::write(&dir, &Spec { files, ..small() }).unwrap();
        let mut sha = Sha256::new();
        for path in export::data_files(&dir).unwrap() {
            sha.update(export::read_raw(&path).unwrap());
        }
        std::fs::remove_dir_all(&dir).unwrap();
        export::hex(&sha.finalize())
    };
    assert_eq!(digest(3), SMALL_DIGEST);
    assert_eq!(digest(1), SMALL_DIGEST);
    assert_eq!(digest(7), SMALL_DIGEST);
}

#[test]
fn writing_again_replaces_the_manifests_and_gives_the_same_files() {
    let dir = fresh_dir("export-again");
    let first = export::write(&dir, &small()).unwrap();
    let summary = std::fs::read(dir.join("manifest-summary.json")).unwrap();
    let files = std::fs::read(dir.join("manifest-files.json")).unwrap();
    let second = export::write(&dir, &small()).unwrap();
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read(dir.join("manifest-summary.json")).unwrap(),
        summary
    );
    assert_eq!(
        std::fs::read(dir.join("manifest-files.json")).unwrap(),
        files
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The backfill's reader finds the files through the manifests, takes the export time and item
/// counts from them, and reads every item as it is in the file.
#[test]
fn the_backfill_export_reader_reads_every_item() {
    let dir = fresh_dir("export-reader");
    export::write(&dir, &small()).unwrap();
    let expected = all_lines(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let read: Vec<String> = runtime.block_on(async {
        let found = Export::open(dir.to_str().unwrap(), None).await.unwrap();
        assert!(found.from_manifest);
        assert_eq!(found.item_count, Some(250));
        assert_eq!(found.export_time, Some(1_767_225_600));
        assert_eq!(found.files.len(), 3);
        let mut read = Vec::new();
        // Manifest order, as the lines above were collected.
        for path in export::data_files(&dir).unwrap() {
            let file = found
                .files
                .iter()
                .find(|f| Path::new(&f.location) == path)
                .unwrap_or_else(|| panic!("{} not found by the reader", path.display()));
            let mut reader = Reader::open(&file.location, 0, None).await.unwrap();
            let mut count = 0;
            loop {
                let page = reader.page(40, 1 << 20).await.unwrap();
                assert!(page.bad.is_empty(), "{:?}", page.bad);
                count += page.items.len() as u64;
                read.extend(
                    page.items
                        .iter()
                        .map(|i| format!("{{\"Item\":{}}}", i.item.get())),
                );
                if page.done {
                    break;
                }
            }
            assert_eq!(Some(count), file.item_count, "{}", file.location);
        }
        read
    });
    assert_eq!(read, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The ceiling plans a page with the backfill's own event (`backfill::event`): an item becomes
/// the document its stream record makes, at the backfill's version (written out by hand here),
/// and an item without its key gets no record.
#[test]
fn the_ceiling_plans_an_item_into_the_bulk_lines_the_backfill_sends() {
    use stream2search::{Config, Planner};
    use stream2search_lambda::backfill;

    let planner = Planner::new(Config {
        index: "products".into(),
        ..Config::default()
    })
    .unwrap();
    let page = [
        r#"{"pk":{"S":"PRODUCT#1"},"price":{"N":"12.50"},"tags":{"SS":["a"]}}"#,
        r#"{"price":{"N":"1"}}"#,
    ];
    let event = backfill::event(&page, &["pk".to_string()], 1_767_225_300);
    let plan = planner.plan(&event, None).unwrap();
    assert_eq!(plan.items().len(), 1);
    let all: Vec<usize> = (0..plan.items().len()).collect();
    let body = String::from_utf8(plan.body(&all).to_vec()).unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"index":{"_index":"products","_id":"PRODUCT#1","version":1767225300000000,"version_type":"external_gte"}}"#,
            "\n",
            r#"{"pk":"PRODUCT#1","price":12.50,"tags":["a"]}"#,
            "\n"
        )
    );
}

/// The ceiling's requests carry exactly what the backfill sends for the same export: the same
/// requests, in the same order, with the same action lines and the same document text
/// (recorded by a fake OpenSearch from `Backfiller::step`, decompressed from the ceiling's).
#[test]
fn the_ceiling_prepares_the_requests_the_backfill_sends() {
    use std::io::Read as _;

    use stream2search::{Config, Planner};
    use stream2search_benches::ceiling;
    use stream2search_lambda::backfill::{Backfiller, FILE_PAGE_BYTES, Job, Unit};
    use stream2search_lambda::testing::FakeOpenSearch;

    let dir = fresh_dir("export-ceiling");
    export::write(&dir, &small()).unwrap();
    let planner = || {
        Planner::new(Config {
            index: "products".into(),
            ..Config::default()
        })
        .unwrap()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (sent, prepared) = runtime.block_on(async {
        let fake = FakeOpenSearch::start().await;
        let mut config = stream2search_client::Config::new(fake.url());
        config.allow_http = true;
        let client = stream2search_client::Client::new(config).unwrap();
        let keys = vec!["pk".to_string()];
        let backfiller = Backfiller::new(planner(), client.clone()).page_size(Some(40));
        let found = Export::open(dir.to_str().unwrap(), None).await.unwrap();
        for file in &found.files {
            let mut job = Job {
                unit: Unit::File {
                    location: file.location.clone(),
                    skip: 0,
                },
                version: 1_767_225_300,
                keys: keys.clone(),
            };
            loop {
                let step = backfiller.step(&job).await.unwrap();
                assert!(step.not_durable.is_empty() && step.dead.is_empty());
                job.unit = step.next;
                if step.done {
                    break;
                }
            }
        }
        let sent: Vec<Vec<(Value, Option<String>)>> = fake
            .requests()
            .into_iter()
            .map(|bulk| {
                bulk.items
                    .into_iter()
                    .map(|item| (item.meta, item.document))
                    .collect()
            })
            .collect();
        let prepared = ceiling::prepare(
            dir.to_str().unwrap(),
            &planner(),
            &client,
            &keys,
            1_767_225_300,
            40,
            FILE_PAGE_BYTES,
        )
        .await
        .unwrap();
        (sent, prepared)
    });
    assert_eq!(prepared.items, 250);
    assert_eq!(
        prepared.pages, 9,
        "3, 3 and 3 pages of at most 40 of 83 or 84 lines"
    );
    let ours: Vec<Vec<(Value, Option<String>)>> = prepared
        .requests
        .iter()
        .map(|request| {
            assert_eq!(request.headers()["content-encoding"], "gzip");
            let mut ndjson = String::new();
            flate2::read::GzDecoder::new(&request.body()[..])
                .read_to_string(&mut ndjson)
                .unwrap();
            let lines: Vec<&str> = ndjson.lines().collect();
            lines
                .chunks(2)
                .map(|pair| {
                    let meta: Value = serde_json::from_str(pair[0]).unwrap();
                    let (_, meta) = meta.as_object().unwrap().iter().next().unwrap();
                    (meta.clone(), pair.get(1).map(|d| d.to_string()))
                })
                .collect()
        })
        .collect();
    assert_eq!(ours.len(), sent.len(), "requests");
    assert_eq!(ours, sent);
    std::fs::remove_dir_all(&dir).unwrap();
}
