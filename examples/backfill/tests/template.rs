//! `template.yaml` passes `cfn-lint` (PyPI; `dev/moto start` installs it into `.dev/venv`), and
//! its state machine uses the handler's wire format: the plan answer's `jobs`, the job answer's
//! `done` and `job`. Without cfn-lint the tests print `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CFN_LINT=1`.

use std::path::Path;

use serde_json::{Value, json};
use stream2search_lambda::backfill::handler::{JobAnswer, PlanAnswer};

#[test]
fn template_passes_cfn_lint() {
    stream2search_testkit::cfn::lint(&Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"));
}

/// The template as JSON, decoded by cfn-lint's own CloudFormation YAML reader, or `None` (with
/// the reason) when cfn-lint is not installed.
fn template_json() -> Option<serde_json::Value> {
    stream2search_testkit::cfn::decode(&Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
}

#[test]
fn state_machine_plans_then_loops_each_segment_until_the_handler_says_done() {
    let Some(t) = template_json() else { return };
    let machine = &t["Resources"]["BackfillStateMachine"]["Properties"];
    let states = &machine["Definition"]["States"];
    // The plan request: the execution's input when it holds one, else the template's table in
    // its number of segments.
    let given = &states[machine["Definition"]["StartAt"].as_str().unwrap()];
    assert_eq!(given["Type"], "Choice");
    assert_eq!(given["Choices"][0]["Variable"], "$.plan");
    assert_eq!(given["Choices"][0]["IsPresent"], true);
    assert_eq!(given["Choices"][0]["Next"], "Plan");
    let table = &states[given["Default"].as_str().unwrap()];
    assert_eq!(table["Parameters"]["plan"]["table"], "${TableName}");
    assert_eq!(
        table["Parameters"]["plan"]["segments.$"],
        "States.StringToJson('${Segments}')"
    );
    assert_eq!(table["Next"], "Plan");
    let plan = &states["Plan"];
    assert_eq!(plan["Parameters"]["Payload.$"], "$");
    assert_eq!(plan["ResultSelector"]["jobs.$"], "$.Payload.jobs");
    let answer: PlanAnswer = serde_json::from_value(json!({
        "version": 1, "keys": ["productId"], "itemCount": 0, "sizeBytes": 0,
        "jobs": [{"unit": {"kind": "segment", "table": "T", "segment": 0, "totalSegments": 1},
                  "version": 1, "keys": ["productId"]}]
    }))
    .unwrap();
    assert!(serde_json::to_value(&answer).unwrap()["jobs"].is_array());

    // One child execution per job, at most MaxConcurrency at once.
    let map = &states["Segments"];
    assert_eq!(map["Type"], "Map");
    assert_eq!(map["Next"], Value::Null);
    assert_eq!(map["ItemsPath"], "$.jobs");
    assert_eq!(map["MaxConcurrencyPath"], "$.concurrency");
    assert_eq!(
        plan["ResultSelector"]["concurrency.$"],
        "States.StringToJson('${MaxConcurrency}')"
    );
    assert_eq!(
        machine["DefinitionSubstitutions"]["MaxConcurrency"]["Ref"],
        "MaxConcurrency"
    );
    let processor = &map["ItemProcessor"];
    assert_eq!(processor["ProcessorConfig"]["Mode"], "DISTRIBUTED");

    // Invoke with the job; answer done → finished, else invoke again with the answer's job.
    let inner = &processor["States"];
    let step = &inner[processor["StartAt"].as_str().unwrap()];
    assert_eq!(step["Parameters"]["Payload.$"], "$");
    assert_eq!(step["OutputPath"], "$.Payload");
    let choice = &inner[step["Next"].as_str().unwrap()];
    assert_eq!(choice["Type"], "Choice");
    assert_eq!(choice["Choices"][0]["Variable"], "$.done");
    assert_eq!(choice["Choices"][0]["BooleanEquals"], true);
    assert_eq!(
        inner[choice["Choices"][0]["Next"].as_str().unwrap()]["Type"],
        "Succeed"
    );
    let again = &inner[choice["Default"].as_str().unwrap()];
    assert_eq!(again["OutputPath"], "$.job");
    assert_eq!(again["Next"], processor["StartAt"]);
    let job_answer: JobAnswer = serde_json::from_value(json!({
        "job": {"unit": {"kind": "segment", "table": "T", "segment": 0, "totalSegments": 1},
                "version": 1, "keys": ["productId"]},
        "done": false, "pages": 1, "items": 1, "bytes": 1, "indexed": 1, "stale": 0,
        "deadLettered": 0, "throttled": 0, "consumedRcu": 0.5
    }))
    .unwrap();
    let written = serde_json::to_value(&job_answer).unwrap();
    assert!(written["done"].is_boolean() && written["job"]["unit"].is_object());

    // Lambda's own faults and the handler's retryable ones are retried with backoff; a job
    // the handler cannot run (Stream2Search.Job, .NotAJob, .Config) is not.
    let retried: Vec<&str> = step["Retry"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|r| assert!(r["BackoffRate"].as_f64().unwrap() > 1.0, "{r}"))
        .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
        .map(|e| e.as_str().unwrap())
        .collect();
    for error in [
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
        "Stream2Search.NotDurable",
        "Stream2Search.DeadItems",
    ] {
        assert!(retried.contains(&error), "{error} is not retried");
    }
    for error in [
        "Stream2Search.Job",
        "Stream2Search.NotAJob",
        "Stream2Search.Config",
        "States.ALL",
    ] {
        assert!(!retried.contains(&error), "{error} is retried");
    }
}

#[test]
fn function_reads_the_table_and_writes_the_domain_with_a_dead_letter_queue() {
    let Some(t) = template_json() else { return };
    let function = &t["Resources"]["BackfillFunction"]["Properties"];
    assert_eq!(function["Runtime"], "provided.al2023");
    let env = &function["Environment"]["Variables"];
    assert_eq!(
        env["STREAM2SEARCH_DLQ_URL"]["Ref"],
        "BackfillDeadLetterQueue"
    );
    assert_eq!(env["OPENSEARCH_AUTH"], "es");
    let statements = &t["Resources"]["BackfillFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        ["Statement"];
    let actions: Vec<&str> = statements
        .as_array()
        .unwrap()
        .iter()
        // A statement under a condition (`!If [HasExportBucket, STATEMENT, NoValue]`) counts.
        .map(|s| s.get("Fn::If").map_or(s, |f| &f[1]))
        .flat_map(|s| s["Action"].as_array().unwrap())
        .map(|a| a.as_str().unwrap())
        .collect();
    for action in [
        "dynamodb:DescribeTable",
        "dynamodb:Scan",
        "es:ESHttpPost",
        "sqs:SendMessage",
        "s3:GetObject",
        "s3:ListBucket",
    ] {
        assert!(actions.contains(&action), "the role lacks {action}");
    }
}
