//! The JSON form: a `platform.report` event, as Lambda writes its system logs with LogFormat JSON
//! (what the templates set) and as the Telemetry API delivers them.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::{Report, ReportParseError};

const TYPE: &str = "platform.report";

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    record: Record,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    request_id: String,
    metrics: Metrics,
    status: Option<String>,
    error_type: Option<String>,
}

/// Lambda's own spelling: `memorySizeMB`, `maxMemoryUsedMB` end in upper case.
#[derive(Deserialize)]
struct Metrics {
    #[serde(rename = "durationMs")]
    duration_ms: f64,
    /// A whole number as Lambda writes it, read as such (above 2^53 an f64 would round it).
    #[serde(rename = "billedDurationMs")]
    billed_duration_ms: Option<serde_json::Number>,
    #[serde(rename = "memorySizeMB")]
    memory_size_mb: Option<u32>,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_used_mb: Option<u32>,
    #[serde(rename = "initDurationMs")]
    init_duration_ms: Option<f64>,
}

/// A cheap look before parsing: most log lines are not reports.
pub(crate) fn is_json_report(line: &str) -> bool {
    line.contains(TYPE) && line.contains('{')
}

/// Reads the first JSON object in `line` (whatever precedes it, whatever follows it) as a
/// `platform.report` event.
pub(crate) fn parse_json(line: &str) -> Result<Report, ReportParseError> {
    let start = line.find('{').ok_or(ReportParseError::NotAReport)?;
    let value: Value = serde_json::Deserializer::from_str(&line[start..])
        .into_iter::<Value>()
        .next()
        .ok_or(ReportParseError::NotAReport)?
        .map_err(|error| ReportParseError::BadRecord(error.to_string()))?;
    if value.get("type").and_then(Value::as_str) != Some(TYPE) {
        return Err(ReportParseError::NotAReport);
    }
    let event: Event = serde_json::from_value(value)
        .map_err(|error| ReportParseError::BadRecord(error.to_string()))?;
    debug_assert_eq!(event.kind, TYPE);
    let Record {
        request_id,
        metrics,
        status,
        error_type,
    } = event.record;
    // JSON carries no NaN or infinity, but a minus sign: Lambda writes none.
    let billed = metrics.billed_duration_ms.as_ref();
    let durations = [
        ("durationMs", Some(metrics.duration_ms)),
        (
            "billedDurationMs",
            billed.and_then(serde_json::Number::as_f64),
        ),
        ("initDurationMs", metrics.init_duration_ms),
    ];
    for (field, ms) in durations {
        if let Some(ms) = ms.filter(|ms| !crate::is_duration(*ms)) {
            return Err(ReportParseError::BadRecord(format!(
                "{field} is {ms}, not a duration"
            )));
        }
    }
    Ok(Report {
        request_id,
        duration_ms: metrics.duration_ms,
        // Written as a whole number; read as a number whatever its spelling.
        billed_duration_ms: billed.map(|ms| {
            ms.as_u64()
                .unwrap_or_else(|| ms.as_f64().unwrap_or_default().ceil() as u64)
        }),
        memory_size_mb: metrics.memory_size_mb,
        max_memory_used_mb: metrics.max_memory_used_mb,
        init_duration_ms: metrics.init_duration_ms,
        // The text form says nothing on success; neither does a Report.
        status: status.filter(|s| s != "success"),
        error_type,
    })
}

pub(crate) fn to_json_line(report: &Report, time: &str) -> String {
    let mut metrics = serde_json::Map::new();
    metrics.insert("durationMs".into(), json!(report.duration_ms));
    let optional = [
        (
            "billedDurationMs",
            report.billed_duration_ms.map(|v| json!(v)),
        ),
        ("memorySizeMB", report.memory_size_mb.map(|v| json!(v))),
        (
            "maxMemoryUsedMB",
            report.max_memory_used_mb.map(|v| json!(v)),
        ),
        ("initDurationMs", report.init_duration_ms.map(|v| json!(v))),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            metrics.insert(name.into(), value);
        }
    }
    let mut record = serde_json::Map::new();
    record.insert("requestId".into(), json!(report.request_id));
    record.insert("metrics".into(), Value::Object(metrics));
    record.insert(
        "status".into(),
        json!(report.status.as_deref().unwrap_or("success")),
    );
    if let Some(error_type) = &report.error_type {
        record.insert("errorType".into(), json!(error_type));
    }
    json!({ "time": time, "type": TYPE, "record": record }).to_string()
}

#[cfg(test)]
mod tests {
    use crate::{Report, ReportParseError};

    #[test]
    fn reads_a_cold_start_record_with_its_spans() {
        // As AWS documents it (Telemetry API / JSON system logs), spans and tracing included.
        let line = r#"{"time":"2022-10-12T00:01:15.000Z","type":"platform.report","record":{"requestId":"6d68ca91-49c9-448d-89b8-7ca3e6dc66aa","metrics":{"durationMs":2599.4,"billedDurationMs":2600,"memorySizeMB":128,"maxMemoryUsedMB":94,"initDurationMs":549.04},"tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"},"spans":[{"name":"extensionOverhead","start":"2022-08-02T10:43:15.170Z","durationMs":90.1}],"status":"success"}}"#;
        let report = Report::parse(line).unwrap();
        assert_eq!(report.request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa");
        assert_eq!(report.duration_ms, 2599.4);
        assert_eq!(report.billed_duration_ms, Some(2600));
        assert_eq!(report.memory_size_mb, Some(128));
        assert_eq!(report.max_memory_used_mb, Some(94));
        assert_eq!(report.init_duration_ms, Some(549.04));
        assert_eq!(report.status, None);
        assert!(report.is_cold());
    }

    #[test]
    fn reads_a_failed_warm_record_behind_a_prefix() {
        let line = r#"2026-11-28T01:37:00Z /aws/lambda/lith {"time":"2026-11-28T01:37:00.000Z","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":3000.0,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":40},"status":"timeout"}} trailing"#;
        let report = Report::parse(line).unwrap();
        assert_eq!(report.status.as_deref(), Some("timeout"));
        assert_eq!(report.init_duration_ms, None);
        let error = Report {
            status: Some("error".into()),
            error_type: Some("Runtime.ExitError".into()),
            ..Report::new("e", 1.0)
        };
        assert_eq!(Report::parse(&error.to_json_line("t")).unwrap(), error);
    }

    #[test]
    fn other_events_and_broken_records_are_told_apart() {
        for line in [
            r#"{"time":"t","type":"platform.start","record":{"requestId":"r","version":"$LATEST"}}"#,
            r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":3.1}}}"#,
            r#"{"level":"INFO","message":"the function says platform.report"}"#,
        ] {
            assert_eq!(
                Report::parse(line),
                Err(ReportParseError::NotAReport),
                "{line}"
            );
        }
        assert!(matches!(
            Report::parse(r#"{"type":"platform.report","record":{"requestId":"r","metrics":{}}}"#),
            Err(ReportParseError::BadRecord(_))
        ));
        assert!(matches!(
            Report::parse(r#"{"type":"platform.report","record":{"requestI"#),
            Err(ReportParseError::BadRecord(_))
        ));
    }

    #[test]
    fn a_written_record_reads_back_to_the_same_bits() {
        // Found by `cargo xtask fuzz` (platform_report): without serde_json's correctly rounded
        // float parser, this duration came back one unit in the last place off.
        for ms in [
            3.3333333333333336e41,
            1.8333331,
            0.1 + 0.2,
            f64::MAX,
            5e-324,
        ] {
            let report = Report {
                init_duration_ms: Some(ms),
                ..Report::new("r", ms)
            };
            assert_eq!(Report::parse(&report.to_json_line("t")).unwrap(), report);
        }
    }

    #[test]
    fn billed_milliseconds_are_read_as_whole_numbers() {
        // Found by `cargo xtask fuzz` (platform_report): read through an f64, a billed duration
        // above 2^53 came back rounded.
        let report = Report {
            billed_duration_ms: Some(77_777_777_777_777_777),
            ..Report::new("r", 1.0)
        };
        assert_eq!(Report::parse(&report.to_json_line("t")).unwrap(), report);
        let fractional = r#"{"type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":1,"billedDurationMs":1.2}}}"#;
        assert_eq!(
            Report::parse(fractional).unwrap().billed_duration_ms,
            Some(2)
        );
    }

    #[test]
    fn negative_durations_are_refused() {
        for metrics in [
            r#"{"durationMs":-1.5}"#,
            r#"{"durationMs":1,"initDurationMs":-0.1}"#,
            r#"{"durationMs":1,"billedDurationMs":-3}"#,
        ] {
            let line = format!(
                r#"{{"type":"platform.report","record":{{"requestId":"r","metrics":{metrics}}}}}"#
            );
            assert!(
                matches!(Report::parse(&line), Err(ReportParseError::BadRecord(_))),
                "{line}"
            );
        }
    }
}
