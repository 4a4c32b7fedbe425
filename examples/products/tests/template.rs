//! `template.yaml` passes `cfn-lint` (PyPI; `dev/moto start` installs it into `.dev/venv`), and
//! each `Source` (DynamoDB Streams, Kinesis) deploys the one event source mapping, stream, table
//! setting and role statements the handler needs: the template, decoded by cfn-lint, with its
//! conditions resolved here as CloudFormation resolves them.
//! Without cfn-lint the test prints `SKIPPED: ...`, unless `STREAM2SEARCH_REQUIRE_CFN_LINT=1`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Value, json};

#[test]
fn template_passes_cfn_lint() {
    stream2search_testkit::cfn::lint(&Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"));
}

#[test]
fn template_sets_what_the_handler_relies_on() {
    let t = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
        .unwrap();
    for needle in [
        "StreamViewType: NEW_AND_OLD_IMAGES",
        "- ReportBatchItemFailures",
        "BisectBatchOnFunctionError: true",
        "MaximumRetryAttempts:",
        "MaximumRecordAgeInSeconds:",
        "OnFailure:",
        "Runtime: provided.al2023",
        "- arm64",
        "STREAM2SEARCH_DLQ_URL:",
    ] {
        assert!(t.contains(needle), "template.yaml lacks {needle:?}");
    }
}

/// The template as JSON, decoded by cfn-lint's own CloudFormation YAML reader (it knows `!Ref`,
/// `!GetAtt`, `!If`, `!Sub`), or `None` (with the reason) when cfn-lint is not installed.
fn template_json() -> Option<serde_json::Value> {
    stream2search_testkit::cfn::decode(&Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml"))
}

#[test]
fn alarms_watch_lag_errors_throttles_the_queue_and_our_metrics() {
    let Some(t) = template_json() else { return };
    let resources = t["Resources"].as_object().unwrap();
    // (alarm, namespace, metric, dimension name, the resource the dimension names, statistic)
    let expected = [
        (
            "IteratorAgeAlarm",
            "AWS/Lambda",
            "IteratorAge",
            "FunctionName",
            "SyncFunction",
            "Maximum",
        ),
        (
            "ErrorsAlarm",
            "AWS/Lambda",
            "Errors",
            "FunctionName",
            "SyncFunction",
            "Sum",
        ),
        (
            "ThrottlesAlarm",
            "AWS/Lambda",
            "Throttles",
            "FunctionName",
            "SyncFunction",
            "Sum",
        ),
        (
            "DeadLetterQueueAlarm",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            "DeadLetterQueue",
            "Maximum",
        ),
        (
            "FailedRecordsAlarm",
            "stream2search",
            "Failed",
            "FunctionName",
            "SyncFunction",
            "Sum",
        ),
        (
            "DeadLetteredAlarm",
            "stream2search",
            "DeadLettered",
            "FunctionName",
            "SyncFunction",
            "Sum",
        ),
    ];
    let alarms: Vec<&String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(alarms.len(), expected.len(), "alarms: {alarms:?}");
    for (name, namespace, metric, dimension, target, statistic) in expected {
        let p = &resources[name]["Properties"];
        assert_eq!(p["Namespace"], namespace, "{name}");
        assert_eq!(p["MetricName"], metric, "{name}");
        assert_eq!(p["Statistic"], statistic, "{name}");
        assert_eq!(p["Dimensions"][0]["Name"], dimension, "{name}");
        let value = &p["Dimensions"][0]["Value"];
        let names_target = value["Ref"] == target
            || value["Fn::GetAtt"] == serde_json::json!([target, "QueueName"]);
        assert!(
            names_target,
            "{name}'s dimension names {value}, not {target}"
        );
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(
                p[actions],
                serde_json::json!({"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}),
                "{name}.{actions}"
            );
        }
        assert!(
            p["AlarmDescription"]
                .as_str()
                .is_some_and(|d| d.contains("docs/operations.md"))
        );
    }
    // The topic is optional: without one the condition is false.
    assert_eq!(t["Parameters"]["AlarmTopicArn"]["Default"], "");
    // The one dashboard shows every alarm and every metric alarmed on.
    let dashboard = &resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"];
    let body = dashboard.as_str().unwrap();
    let body: serde_json::Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let text = body.to_string();
    for (name, _, metric, ..) in expected {
        assert!(
            text.contains(&format!("${{{name}.Arn}}")),
            "dashboard lacks {name}"
        );
        assert!(
            text.contains(&format!("\"{metric}\"")),
            "dashboard lacks {metric}"
        );
    }
}

/// The template as CloudFormation deploys it with `parameters` (every other parameter at its
/// default): resources whose `Condition` is false left out, each `Fn::If` replaced by the branch
/// it picks, `AWS::NoValue` dropped. Written here from CloudFormation's rules, for the conditions
/// this template uses (`Fn::Equals` of a parameter and a literal, `Fn::Not`); any other
/// condition function fails the test rather than being guessed.
fn deployed(t: &Value, parameters: &[(&str, &str)]) -> Value {
    let parameter = |name: &str| -> String {
        parameters
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| t["Parameters"][name]["Default"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("parameter {name} has no value"))
    };
    let operand = |v: &Value| -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Object(o) if o.len() == 1 && o["Ref"].is_string() => {
                parameter(o["Ref"].as_str().unwrap())
            }
            other => panic!("Fn::Equals operand {other} is not read here"),
        }
    };
    fn holds(c: &Value, t: &Value, operand: &dyn Fn(&Value) -> String) -> bool {
        let (function, args) = c
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .unwrap_or_else(|| panic!("condition {c} is not read here"));
        match function.as_str() {
            "Fn::Equals" => operand(&args[0]) == operand(&args[1]),
            "Fn::Not" => !holds(&args[0], t, operand),
            "Condition" => holds(&t["Conditions"][args.as_str().unwrap()], t, operand),
            other => panic!("condition function {other} is not read here"),
        }
    }
    let conditions: HashMap<String, bool> = t["Conditions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, c)| (name.clone(), holds(c, t, &operand)))
        .collect();
    fn resolve(v: &Value, conditions: &HashMap<String, bool>) -> Option<Value> {
        match v {
            Value::Object(o) if o.len() == 1 && o.contains_key("Fn::If") => {
                let args = o["Fn::If"].as_array().unwrap();
                let name = args[0].as_str().unwrap();
                let chosen = if conditions[name] { &args[1] } else { &args[2] };
                resolve(chosen, conditions)
            }
            Value::Object(o) if o.len() == 1 && o.get("Ref") == Some(&json!("AWS::NoValue")) => {
                None
            }
            Value::Object(o) => Some(Value::Object(
                o.iter()
                    .filter_map(|(k, v)| resolve(v, conditions).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            Value::Array(a) => Some(Value::Array(
                a.iter().filter_map(|v| resolve(v, conditions)).collect(),
            )),
            other => Some(other.clone()),
        }
    }
    let mut out = resolve(t, &conditions).unwrap();
    for section in ["Resources", "Outputs"] {
        out[section]
            .as_object_mut()
            .unwrap()
            .retain(|_, r| r["Condition"].as_str().is_none_or(|c| conditions[c]));
    }
    out
}

/// The names of the deployed resources of `kind`.
fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<&'a str> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The role's statements by Sid.
fn statements(t: &Value) -> BTreeMap<String, Value> {
    t["Resources"]["SyncFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["Sid"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// The settings every mapping shares, whatever it reads (written out from the handler's needs:
/// a partial batch response, bisection of a failing batch, a bounded retry, the queue on
/// failure).
fn mapping(source_arn: Value) -> Value {
    json!({
        "FunctionName": {"Ref": "SyncFunction"},
        "EventSourceArn": source_arn,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 1000,
        "MaximumBatchingWindowInSeconds": 1,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": true,
        "MaximumRetryAttempts": 10,
        "MaximumRecordAgeInSeconds": 86400,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}},
    })
}

#[test]
fn the_source_parameter_defaults_to_dynamodb_streams_and_offers_kinesis() {
    let Some(t) = template_json() else { return };
    assert_eq!(t["Parameters"]["Source"]["Default"], "DynamoDBStreams");
    assert_eq!(
        t["Parameters"]["Source"]["AllowedValues"],
        json!(["DynamoDBStreams", "Kinesis"])
    );
    // Any other value is refused by CloudFormation, so exactly one mapping is ever deployed.
    for source in ["DynamoDBStreams", "Kinesis"] {
        let d = deployed(&t, &[("Source", source)]);
        assert_eq!(
            of_type(&d, "AWS::Lambda::EventSourceMapping").len(),
            1,
            "{source}"
        );
    }
}

#[test]
fn the_kinesis_variant_maps_the_kinesis_stream_with_every_setting_the_handler_needs() {
    let Some(t) = template_json() else { return };
    let d = deployed(&t, &[("Source", "Kinesis")]);
    let resources = &d["Resources"];

    // One mapping, reading the Kinesis stream.
    assert_eq!(
        of_type(&d, "AWS::Lambda::EventSourceMapping"),
        ["SyncFunctionKinesis"]
    );
    assert_eq!(
        resources["SyncFunctionKinesis"]["Properties"],
        mapping(json!({"Fn::GetAtt": ["ChangeStream", "Arn"]}))
    );
    // The function itself has no SAM event: it would be a second, unconditional mapping.
    assert!(
        resources["SyncFunction"]["Properties"]
            .get("Events")
            .is_none()
    );

    // The table writes every change to that stream, timestamps in microseconds, and has no
    // DynamoDB stream.
    let table = &resources["ProductsTable"]["Properties"];
    assert_eq!(
        table["KinesisStreamSpecification"],
        json!({"StreamArn": {"Fn::GetAtt": ["ChangeStream", "Arn"]},
               "ApproximateCreationDateTimePrecision": "MICROSECOND"})
    );
    assert!(table.get("StreamSpecification").is_none(), "{table}");

    // The stream: encrypted, and keeping records as long as the mapping retries them.
    assert_eq!(of_type(&d, "AWS::Kinesis::Stream"), ["ChangeStream"]);
    let stream = &resources["ChangeStream"]["Properties"];
    assert_eq!(
        stream["StreamEncryption"],
        json!({"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"})
    );
    assert_eq!(stream["StreamModeDetails"]["StreamMode"], "ON_DEMAND");
    let retention_secs = stream["RetentionPeriodHours"].as_u64().unwrap() * 3600;
    assert!(
        retention_secs
            >= resources["SyncFunctionKinesis"]["Properties"]["MaximumRecordAgeInSeconds"]
                .as_u64()
                .unwrap()
    );

    // The role reads that stream (and only it), and no DynamoDB stream.
    let s = statements(&d);
    assert_eq!(
        s.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "BulkWrites",
            "DeadLetters",
            "FieldLimitStop",
            "ListKinesisStreams",
            "Logs",
            "ReadKinesis"
        ]
    );
    assert_eq!(
        s["ReadKinesis"]["Action"],
        json!([
            "kinesis:DescribeStream",
            "kinesis:DescribeStreamSummary",
            "kinesis:GetRecords",
            "kinesis:GetShardIterator",
            "kinesis:ListShards",
            "kinesis:SubscribeToShard"
        ])
    );
    assert_eq!(
        s["ReadKinesis"]["Resource"],
        json!([{"Fn::GetAtt": ["ChangeStream", "Arn"]}, {"Fn::Sub": "${ChangeStream.Arn}/consumer/*"}])
    );
    assert_eq!(
        s["ListKinesisStreams"]["Action"],
        json!(["kinesis:ListStreams"])
    );
    // The on-failure destination is the queue the role may send to.
    assert_eq!(
        s["DeadLetters"]["Resource"],
        resources["SyncFunctionKinesis"]["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    );
    assert_eq!(
        d["Outputs"]["KinesisStreamName"]["Value"],
        json!({"Ref": "ChangeStream"})
    );
}

#[test]
fn the_dynamodb_streams_variant_is_the_mapping_it_was() {
    let Some(t) = template_json() else { return };
    let d = deployed(&t, &[]);
    let resources = &d["Resources"];
    // SyncFunctionStream is the logical ID SAM gave the function's `Stream` event: a stack
    // deployed from the earlier template keeps its mapping. Its settings are that event's, as
    // SAM wrote them into the mapping.
    assert_eq!(
        of_type(&d, "AWS::Lambda::EventSourceMapping"),
        ["SyncFunctionStream"]
    );
    assert_eq!(
        resources["SyncFunctionStream"]["Properties"],
        mapping(json!({"Fn::GetAtt": ["ProductsTable", "StreamArn"]}))
    );
    let table = &resources["ProductsTable"]["Properties"];
    assert_eq!(
        table["StreamSpecification"],
        json!({"StreamViewType": "NEW_AND_OLD_IMAGES"})
    );
    assert!(table.get("KinesisStreamSpecification").is_none(), "{table}");
    assert!(of_type(&d, "AWS::Kinesis::Stream").is_empty());
    let s = statements(&d);
    assert_eq!(
        s.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "BulkWrites",
            "DeadLetters",
            "FieldLimitStop",
            "Logs",
            "ReadStream"
        ]
    );
    assert_eq!(
        s["ReadStream"],
        json!({"Sid": "ReadStream", "Effect": "Allow",
               "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords",
                          "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
               "Resource": {"Fn::GetAtt": ["ProductsTable", "StreamArn"]}})
    );
    assert!(d["Outputs"].get("KinesisStreamName").is_none());
}

#[test]
fn both_variants_keep_every_alarm_and_lambdas_iterator_age() {
    let Some(t) = template_json() else { return };
    for source in ["DynamoDBStreams", "Kinesis"] {
        let d = deployed(&t, &[("Source", source)]);
        let mut alarms = of_type(&d, "AWS::CloudWatch::Alarm");
        alarms.sort_unstable();
        assert_eq!(
            alarms,
            [
                "DeadLetterQueueAlarm",
                "DeadLetteredAlarm",
                "ErrorsAlarm",
                "FailedRecordsAlarm",
                "IteratorAgeAlarm",
                "ThrottlesAlarm"
            ],
            "{source}"
        );
        // Lambda's IteratorAge, per function, is written for a Kinesis mapping as for a
        // DynamoDB Streams one.
        let p = &d["Resources"]["IteratorAgeAlarm"]["Properties"];
        assert_eq!(
            (&p["Namespace"], &p["MetricName"]),
            (&json!("AWS/Lambda"), &json!("IteratorAge"))
        );
    }
}
