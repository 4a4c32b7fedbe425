//! `template.yaml` passes `cfn-lint` (PyPI; `dev/moto start` installs it into `.dev/venv`).
//! Without cfn-lint the test prints `SKIPPED: ...`, unless `STREAM2SEARCH_REQUIRE_CFN_LINT=1`.

use std::path::Path;

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
