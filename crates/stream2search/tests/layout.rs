//! The same event in any JSON layout converts to the same bytes. Compact events (as Lambda
//! delivers them) take the core's fast path for images; spaced-out ones take the general path:
//! this checks the two agree on every fixture, including the invalid records among them.

use std::path::Path;

use stream2search::{Config, Planner, ReservedNames};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/streams");

/// `text` without white space outside strings.
fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
            in_string = c == '"';
        }
    }
    out
}

/// `text` compacted, then with white space after every `{`, `[`, `,` and `:` outside strings.
fn spaced(text: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in compact(text).chars() {
        out.push(c);
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else {
            match c {
                '"' => in_string = true,
                '{' | '[' => out.push_str("\n  "),
                ',' | ':' => out.push(' '),
                _ => {}
            }
        }
    }
    out
}

/// Everything a plan says, except where records lie in the input.
fn converted(planner: &Planner, event: &str) -> String {
    let plan = match planner.plan(event.as_bytes(), Some("2026-01-01T00:00:00Z")) {
        Ok(plan) => plan,
        // Offsets differ between layouts; what went wrong must not.
        Err(e) => {
            let message = e.to_string();
            return format!(
                "event error: {}",
                message.replace(|c: char| c.is_ascii_digit(), "")
            );
        }
    };
    let mut out = String::new();
    for r in plan.records() {
        out.push_str(&format!(
            "{} {:?} {:?} {:?} {:?}\n",
            r.position, r.event_id, r.sequence_number, r.event_name, r.status
        ));
    }
    let mut body = Vec::new();
    for chunk in plan.chunks() {
        plan.encode(&chunk.collect::<Vec<_>>(), &mut body);
    }
    out.push_str(&String::from_utf8(body).expect("bulk bodies are UTF-8"));
    out
}

fn planners() -> Vec<Planner> {
    let config = |f: &dyn Fn(&mut Config)| {
        let mut c = Config {
            index: "t".into(),
            ..Config::default()
        };
        f(&mut c);
        Planner::new(c).expect("valid config")
    };
    vec![
        config(&|_| {}),
        config(&|c| c.indexed_at = Some("indexedAt".into())),
        config(&|c| c.reserved = ReservedNames::Reject),
        config(&|c| c.exclude = vec!["name".into()]),
    ]
}

fn check(name: &str, text: &str) {
    let (compact, spaced) = (compact(text), spaced(text));
    assert_ne!(compact, spaced, "{name}: the two layouts must differ");
    for planner in planners() {
        assert_eq!(
            converted(&planner, &compact),
            converted(&planner, &spaced),
            "{name}: compact and spaced layouts convert differently"
        );
    }
}

#[test]
fn every_fixture_converts_the_same_in_any_layout() {
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURES).expect("fixtures directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("fixture is UTF-8");
        check(&file_name(&path), &text);
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures found");
}

/// Values the fast path hands to the general one: escapes, reserved names, numbers to rewrite,
/// errors deep inside maps and lists, nesting beyond DynamoDB's limit.
#[test]
fn edge_values_convert_the_same_in_any_layout() {
    let mut deep = String::from(r#"{"N":"1"}"#);
    for i in 0..34 {
        deep = if i % 2 == 0 {
            format!(r#"{{"L":[{deep}]}}"#)
        } else {
            format!(r#"{{"M":{{"x":{deep}}}}}"#)
        };
    }
    let images = [
        r#"{"k":{"S":"a"},"s":{"S":"tab\there \"q\" \u00e9 \ud83d\ude00"}}"#.to_string(),
        r#"{"k":{"S":"a"},"_id":{"S":"x"},"ddb_id":{"S":"y"}}"#.to_string(),
        r#"{"k":{"S":"a"},"_source":{"M":{"_id":{"N":"1"}}}}"#.to_string(),
        r#"{"k":{"S":"a"},"n":{"NS":["+1","007",".5","5.","1E+30","-0.0e-5"]}}"#.to_string(),
        r#"{"k":{"S":"a"},"n":{"L":[{"N":"1"},{"M":{"x":{"N":"1e999"}}}]}}"#.to_string(),
        r#"{"k":{"S":"a"},"b":{"BS":["AA==","AB=="]}}"#.to_string(),
        r#"{"k":{"S":"a"},"b":{"M":{"c":{"B":"bad"}}}}"#.to_string(),
        r#"{"k":{"S":"a"},"b":{"B":"dGVzdA=="},"e":{"SS":[]},"f":{"L":[]},"g":{"M":{}}}"#
            .to_string(),
        r#"{"k":{"S":"a"},"t":{"S":"x","N":"1"}}"#.to_string(),
        r#"{"k":{"S":"a"},"t":{"BOOL":"true"},"u":{"NULL":false}}"#.to_string(),
        r#"{"k":{"S":"a"},"t":{"s":"lower"}}"#.to_string(),
        r#"{"k":{"S":"a"},"na\u006de":{"S":"escaped name"},"indexedAt":{"S":"x"}}"#.to_string(),
        format!(r#"{{"k":{{"S":"a"}},"deep":{deep}}}"#),
    ];
    for (i, image) in images.iter().enumerate() {
        let old = r#"{"k":{"S":"a"},"old":{"L":[{"M":{"x":{"SS":["1"]}}},{"B":"bad"}]}}"#;
        let event = format!(
            r#"{{"Records":[{{"eventID":"e{i}","eventName":"MODIFY","dynamodb":{{"ApproximateCreationDateTime":1700000000,"Keys":{{"k":{{"S":"a"}}}},"NewImage":{image},"OldImage":{old},"SequenceNumber":"{i}"}}}}]}}"#
        );
        check(&format!("image {i}"), &event);
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
