//! Alarms and a dashboard for an environment that sets `alarms` in deploy/envs: an SNS topic
//! that mails the team, alarms on what users feel (the API's 5xx rate and p99 latency) and on
//! what breaks underneath (each function's errors and throttles, the table's throttled reads and
//! writes), and one CloudWatch dashboard with the same metrics, per function.

use serde_json::{Map, Value, json};

use crate::env::AlarmSettings;
use crate::model::{Deployment, FunctionSpec};
use crate::render::{CATALOG_TABLE, RenderError, camel, function_id, insert};

/// The logical id of the topic every alarm notifies.
pub const ALARM_TOPIC: &str = "AlarmTopic";

/// Every metric is read over five minutes, and one breaching period is enough to tell someone.
const PERIOD_SECONDS: u32 = 300;

/// Adds the topic, the alarms and the dashboard to `resources`, and their names to `outputs`.
pub(crate) fn render(
    deployment: &Deployment,
    alarms: &AlarmSettings,
    tags: &Value,
    resources: &mut Map<String, Value>,
    outputs: &mut Map<String, Value>,
) -> Result<(), RenderError> {
    let env = &deployment.env_name;
    insert(
        ALARM_TOPIC.into(),
        json!({
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": format!("catalog-{env}-alarms"),
                "Subscription": [{"Protocol": "email", "Endpoint": alarms.email}],
                "Tags": tags,
            },
        }),
        resources,
    )?;

    let api = api_dimensions(deployment);
    // API Gateway's 5XXError averages to the share of requests that ended in a 5xx.
    insert(
        "ApiErrorRateAlarm".into(),
        alarm(
            format!(
                "catalog-{env}: over {}% of API requests answered 5xx",
                alarms.error_rate_percent
            ),
            json!({
                "Namespace": "AWS/ApiGateway",
                "MetricName": "5XXError",
                "Dimensions": api,
                "Statistic": "Average",
                "Period": PERIOD_SECONDS,
                "Threshold": f64::from(alarms.error_rate_percent) / 100.0,
                "ComparisonOperator": "GreaterThanThreshold",
            }),
        ),
        resources,
    )?;
    insert(
        "ApiLatencyAlarm".into(),
        alarm(
            format!("catalog-{env}: API p99 latency over {} ms", alarms.p99_ms),
            json!({
                "Namespace": "AWS/ApiGateway",
                "MetricName": "Latency",
                "Dimensions": api,
                "ExtendedStatistic": "p99",
                "Period": PERIOD_SECONDS,
                "Threshold": alarms.p99_ms,
                "ComparisonOperator": "GreaterThanThreshold",
            }),
        ),
        resources,
    )?;
    for function in deployment.all_functions() {
        for (metric, what) in [("Errors", "failed"), ("Throttles", "was throttled")] {
            insert(
                format!("{}{metric}Alarm", camel(function.package)),
                alarm(
                    format!("catalog-{env}: {} {what}", function.function_name),
                    json!({
                        "Namespace": "AWS/Lambda",
                        "MetricName": metric,
                        "Dimensions": function_dimensions(function),
                        "Statistic": "Sum",
                        "Period": PERIOD_SECONDS,
                        "Threshold": 1,
                        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    }),
                ),
                resources,
            )?;
        }
    }
    // DynamoDB counts throttled reads and writes apart; either one means users waited.
    let table_metric = |id: &str, name: &str| {
        json!({
            "Id": id,
            "ReturnData": false,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/DynamoDB",
                    "MetricName": name,
                    "Dimensions": [{"Name": "TableName", "Value": {"Ref": CATALOG_TABLE}}],
                },
                "Period": PERIOD_SECONDS,
                "Stat": "Sum",
            },
        })
    };
    insert(
        "CatalogTableThrottlesAlarm".into(),
        alarm(
            format!("catalog-{env}: the catalog's table throttled reads or writes"),
            json!({
                "Metrics": [
                    table_metric("reads", "ReadThrottleEvents"),
                    table_metric("writes", "WriteThrottleEvents"),
                    {"Id": "throttled", "Expression": "reads + writes", "Label": "Throttled reads and writes", "ReturnData": true},
                ],
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            }),
        ),
        resources,
    )?;

    insert(
        "Dashboard".into(),
        json!({
            "Type": "AWS::CloudWatch::Dashboard",
            "Properties": {
                "DashboardName": format!("catalog-{env}"),
                "DashboardBody": {"Fn::Sub": dashboard_body(deployment)},
            },
        }),
        resources,
    )?;
    outputs.insert("AlarmTopic".into(), json!({"Value": {"Ref": ALARM_TOPIC}}));
    outputs.insert(
        "Dashboard".into(),
        json!({"Value": {"Fn::Sub": format!(
            "https://${{AWS::Region}}.console.aws.amazon.com/cloudwatch/home?region=${{AWS::Region}}#dashboards:name=catalog-{env}"
        )}}),
    );
    Ok(())
}

/// An alarm that notifies the topic when it fires and when it clears; no data (no traffic) is
/// not a breach.
fn alarm(description: String, metric: Value) -> Value {
    let mut properties = json!({
        "AlarmDescription": description,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": ALARM_TOPIC}],
        "OKActions": [{"Ref": ALARM_TOPIC}],
    });
    properties
        .as_object_mut()
        .expect("an object")
        .extend(metric.as_object().expect("an object").clone());
    json!({"Type": "AWS::CloudWatch::Alarm", "Properties": properties})
}

/// API Gateway's metrics of a REST API stage are keyed by the API's name and the stage.
fn api_dimensions(deployment: &Deployment) -> Value {
    json!([
        {"Name": "ApiName", "Value": format!("catalog-{}", deployment.env_name)},
        {"Name": "Stage", "Value": deployment.config.stage},
    ])
}

fn function_dimensions(function: &FunctionSpec) -> Value {
    json!([{"Name": "FunctionName", "Value": {"Ref": function_id(function.package)}}])
}

/// The dashboard's JSON, for `Fn::Sub`: `${AWS::Region}`, `${<Function>}` and `${CatalogTable}`
/// are filled in by CloudFormation. The API first, then one row per function (for fat, each of
/// its functions apart), then the table.
fn dashboard_body(deployment: &Deployment) -> String {
    let api_name = format!("catalog-{}", deployment.env_name);
    let stage = &deployment.config.stage;
    let api = |metric: &str| {
        json!([
            "AWS/ApiGateway",
            metric,
            "ApiName",
            api_name,
            "Stage",
            stage
        ])
    };
    let widget = |y: usize, x: usize, title: String, stat: &str, metrics: Vec<Value>| {
        json!({
            "type": "metric", "x": x, "y": y, "width": 12, "height": 6,
            "properties": {
                "title": title, "region": "${AWS::Region}", "view": "timeSeries",
                "stat": stat, "period": PERIOD_SECONDS, "metrics": metrics,
            },
        })
    };
    let mut widgets = vec![
        widget(
            0,
            0,
            "API requests and errors".into(),
            "Sum",
            vec![api("Count"), api("4XXError"), api("5XXError")],
        ),
        widget(
            0,
            12,
            "API latency p99 (ms)".into(),
            "p99",
            vec![api("Latency")],
        ),
    ];
    for (row, function) in deployment.functions.iter().enumerate() {
        let y = 6 * (row + 1);
        let lambda = |metric: &str| {
            json!([
                "AWS/Lambda",
                metric,
                "FunctionName",
                format!("${{{}}}", function_id(function.package))
            ])
        };
        widgets.push(widget(
            y,
            0,
            format!("{}: invocations, errors, throttles", function.function_name),
            "Sum",
            vec![lambda("Invocations"), lambda("Errors"), lambda("Throttles")],
        ));
        widgets.push(widget(
            y,
            12,
            format!("{}: duration p99 (ms)", function.function_name),
            "p99",
            vec![lambda("Duration")],
        ));
    }
    let table = |metric: &str| {
        json!([
            "AWS/DynamoDB",
            metric,
            "TableName",
            format!("${{{CATALOG_TABLE}}}")
        ])
    };
    widgets.push(widget(
        6 * (deployment.functions.len() + 1),
        0,
        "Catalog table: throttled reads and writes".into(),
        "Sum",
        vec![table("ReadThrottleEvents"), table("WriteThrottleEvents")],
    ));
    json!({"widgets": widgets}).to_string()
}
