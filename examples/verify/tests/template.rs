//! `template.yaml` passes `cfn-lint` (PyPI; `dev/moto start` installs it into `.dev/venv`), runs
//! the function on a schedule, and alarms on exactly the metrics the handler writes: each
//! alarm's namespace, metric, dimension and actions are checked against the template as
//! cfn-lint's own CloudFormation reader decodes it, and each metric name against the EMF line
//! `Run::emf` writes. Without cfn-lint the tests print `SKIPPED: ...`, unless
//! `STREAM2SEARCH_REQUIRE_CFN_LINT=1`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use stream2search_lambda::verify::handler::Run;

fn template() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml")
}

#[test]
fn template_passes_cfn_lint() {
    stream2search_testkit::cfn::lint(&template());
}

#[test]
fn the_function_runs_on_a_schedule_with_the_verify_settings() {
    let Some(t) = stream2search_testkit::cfn::decode(&template()) else {
        return;
    };
    let function = &t["Resources"]["VerifyFunction"]["Properties"];
    let schedule = &function["Events"]["Schedule"];
    assert_eq!(schedule["Type"], "Schedule");
    assert_eq!(
        schedule["Properties"]["Schedule"],
        json!({"Ref": "ScheduleExpression"})
    );
    assert_eq!(
        t["Parameters"]["ScheduleExpression"]["Default"],
        "rate(1 day)"
    );
    // One run is one invocation, given Lambda's longest time.
    assert_eq!(function["Timeout"], 900);
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        variables["STREAM2SEARCH_VERIFY_TABLE"],
        json!({"Ref": "TableName"})
    );
    assert_eq!(
        variables["STREAM2SEARCH_VERIFY_REPAIR"],
        json!({"Ref": "Repair"})
    );
    // Repair is off unless asked for.
    assert_eq!(t["Parameters"]["Repair"]["Default"], "false");
}

#[test]
fn alarms_watch_missing_extra_different_unverified_and_errors() {
    let Some(t) = stream2search_testkit::cfn::decode(&template()) else {
        return;
    };
    let resources = t["Resources"].as_object().unwrap();
    // (alarm, namespace, metric, missing data)
    let expected = [
        ("MissingAlarm", "stream2search", "Missing", "ignore"),
        ("ExtraAlarm", "stream2search", "Extra", "ignore"),
        ("DifferentAlarm", "stream2search", "Different", "ignore"),
        ("UnverifiedAlarm", "stream2search", "Unverified", "ignore"),
        ("VerifyErrorsAlarm", "AWS/Lambda", "Errors", "notBreaching"),
    ];
    let alarms: Vec<&String> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(name, _)| name)
        .collect();
    assert_eq!(alarms.len(), expected.len(), "alarms: {alarms:?}");

    // The metric names the handler writes, in a run with a verdict and in one without.
    let finished: Value = serde_json::from_str(
        &Run {
            report: Some(Default::default()),
            unverified: None,
            duration: Duration::ZERO,
        }
        .emf("stream2search", "f", 0),
    )
    .unwrap();
    let unverified: Value = serde_json::from_str(
        &Run {
            report: None,
            unverified: Some("time ran out".into()),
            duration: Duration::ZERO,
        }
        .emf("stream2search", "f", 0),
    )
    .unwrap();

    for (name, namespace, metric, missing) in expected {
        let p = &resources[name]["Properties"];
        assert_eq!(p["Namespace"], namespace, "{name}");
        assert_eq!(p["MetricName"], metric, "{name}");
        assert_eq!(p["Statistic"], "Sum", "{name}");
        assert_eq!(p["Threshold"], 0, "{name}");
        assert_eq!(p["ComparisonOperator"], "GreaterThanThreshold", "{name}");
        assert_eq!(p["TreatMissingData"], missing, "{name}");
        assert_eq!(p["Dimensions"][0]["Name"], "FunctionName", "{name}");
        assert_eq!(
            p["Dimensions"][0]["Value"],
            json!({"Ref": "VerifyFunction"}),
            "{name}"
        );
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(
                p[actions],
                json!({"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}),
                "{name}.{actions}"
            );
        }
        assert!(
            p["AlarmDescription"]
                .as_str()
                .is_some_and(|d| d.contains("docs/operations.md")),
            "{name}"
        );
        if namespace == "stream2search" {
            let written = if metric == "Unverified" {
                &unverified
            } else {
                &finished
            };
            assert!(
                written.get(metric).is_some(),
                "the handler writes no {metric}"
            );
        }
    }
    assert_eq!(unverified["Unverified"], 1);
    assert_eq!(finished["Unverified"], 0);
    assert_eq!(t["Parameters"]["AlarmTopicArn"]["Default"], "");

    // The dashboard shows every alarm and every metric alarmed on.
    let body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .unwrap();
    let body: Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let text = body.to_string();
    for (name, _, metric, _) in expected {
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
