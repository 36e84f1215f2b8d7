//! What Lambda writes about a function in its log (the init, START, END, REPORT), in the format
//! the function's `LoggingConfig` declares, and which of the function's own lines it keeps.
//!
//! With `LogFormat: Text` these are the familiar `START RequestId: ...` lines. With JSON, Lambda
//! writes one object per event (`platform.initStart`, `platform.start`, `platform.runtimeDone`,
//! `platform.report`, `platform.initReport`), each with a level: records below the function's
//! `SystemLogLevel` are dropped, and so are the function's own JSON records whose `level` is below
//! its `ApplicationLogLevel`. At the default INFO, a CloudWatch stream of a real function shows
//! initStart, start, the function's records and report, and no runtimeDone.

use serde_json::{Value, json};
use stack::{FunctionLogging, LogFormat, LogLevel};
use time::OffsetDateTime;

use crate::environment::FunctionConfig;
use crate::log::{LogLine, LogSink, LogStream};
use platform_report::Report;

/// One thing Lambda says about an execution environment or an invocation.
#[derive(Debug, Clone, Copy)]
pub enum PlatformEvent<'a> {
    /// The init phase begins (JSON only: the text form carries a runtime version the local
    /// stack does not have, and it never wrote one).
    InitStart,
    /// The runtime is handed an invocation.
    Start {
        request_id: &'a str,
    },
    /// The runtime is done with it; `status` is `None` on success, else `error` or `timeout`.
    End {
        request_id: &'a str,
        status: Option<&'a str>,
    },
    Report(&'a Report),
    /// The init phase ended without success (Lambda writes it then; a successful init's duration
    /// is in the first REPORT).
    InitReport {
        duration_ms: f64,
        status: &'a str,
        error_type: Option<&'a str>,
    },
    /// A message Lambda writes as it is in either format, e.g. `Task timed out after 3.00 seconds`.
    Message(&'a str),
}

impl PlatformEvent<'_> {
    /// The level Lambda gives the JSON record, compared with `SystemLogLevel`.
    fn level(&self) -> LogLevel {
        match self {
            PlatformEvent::End { .. } => LogLevel::Debug,
            PlatformEvent::Message(_) => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

/// Writes a function's platform records to its log, as its `LoggingConfig` says.
#[derive(Debug, Clone)]
pub struct PlatformLog {
    function: String,
    arn: String,
    memory_mb: u32,
    logging: FunctionLogging,
    sink: LogSink,
}

impl PlatformLog {
    pub fn new(config: &FunctionConfig, sink: LogSink) -> Self {
        Self {
            function: config.name.clone(),
            arn: config.arn(),
            memory_mb: config.memory_mb,
            logging: config.logging,
            sink,
        }
    }

    /// Where the lines go, for the function's own output.
    pub fn sink(&self) -> &LogSink {
        &self.sink
    }

    pub fn emit(&self, event: PlatformEvent<'_>) {
        let now = OffsetDateTime::now_utc();
        let text = match self.logging.format {
            LogFormat::Text => match text_line(event) {
                Some(line) => line,
                None => return,
            },
            LogFormat::Json if event.level() < self.logging.system_level => return,
            LogFormat::Json => self.json_line(event, &rfc3339_millis(now)),
        };
        self.sink.emit(LogLine {
            time: now,
            ..LogLine::new(&self.function, LogStream::Platform, text)
        });
    }

    /// Whether Lambda passes on a line the function wrote: always in text; in JSON, unless it
    /// is a JSON object whose `level` is below the application level (a line without a readable
    /// level counts as INFO, as Lambda reads it).
    pub fn keeps_application_line(&self, line: &str) -> bool {
        if self.logging.format == LogFormat::Text {
            return true;
        }
        let level = serde_json::from_str::<Value>(line)
            .ok()
            .and_then(|record| record.get("level")?.as_str()?.parse::<LogLevel>().ok())
            .unwrap_or(LogLevel::Info);
        level >= self.logging.application_level
    }

    fn json_line(&self, event: PlatformEvent<'_>, time: &str) -> String {
        let (kind, record) = match event {
            PlatformEvent::InitStart => (
                "platform.initStart",
                json!({
                    "initializationType": "on-demand",
                    "phase": "init",
                    "functionName": self.function,
                    "functionVersion": "$LATEST",
                    "instanceMaxMemory": u64::from(self.memory_mb) * 1024 * 1024,
                }),
            ),
            PlatformEvent::Start { request_id } => (
                "platform.start",
                json!({"requestId": request_id, "functionArn": self.arn, "version": "$LATEST"}),
            ),
            PlatformEvent::End { request_id, status } => (
                "platform.runtimeDone",
                json!({"requestId": request_id, "status": status.unwrap_or("success")}),
            ),
            PlatformEvent::Report(report) => return report.to_json_line(time),
            PlatformEvent::InitReport {
                duration_ms,
                status,
                error_type,
            } => {
                let mut record = json!({
                    "initializationType": "on-demand",
                    "phase": "init",
                    "status": status,
                    "metrics": {"durationMs": round2(duration_ms)},
                });
                if let Some(error_type) = error_type {
                    record["errorType"] = json!(error_type);
                }
                ("platform.initReport", record)
            }
            PlatformEvent::Message(text) => return text.to_owned(),
        };
        json!({"time": time, "type": kind, "record": record}).to_string()
    }
}

/// The text form, as Lambda writes it with `LogFormat: Text`; `None` for what it does not write.
fn text_line(event: PlatformEvent<'_>) -> Option<String> {
    Some(match event {
        PlatformEvent::InitStart => return None,
        PlatformEvent::Start { request_id } => {
            format!("START RequestId: {request_id} Version: $LATEST")
        }
        PlatformEvent::End { request_id, .. } => format!("END RequestId: {request_id}"),
        PlatformEvent::Report(report) => report.to_string(),
        PlatformEvent::InitReport {
            duration_ms,
            status,
            error_type,
        } => {
            let mut line = format!(
                "INIT_REPORT Init Duration: {duration_ms:.2} ms\tPhase: init\tStatus: {status}"
            );
            if let Some(error_type) = error_type {
                line.push_str(&format!("\tError Type: {error_type}"));
            }
            line
        }
        PlatformEvent::Message(text) => text.to_owned(),
    })
}

fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// `2026-11-28T01:37:00.123Z`, the timestamps Lambda writes.
pub(crate) fn rfc3339_millis(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn log_with(logging: FunctionLogging) -> (PlatformLog, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let sink = LogSink::new(move |line: LogLine| seen.lock().unwrap().push(line.text));
        let config = FunctionConfig {
            memory_mb: 256,
            logging,
            ..FunctionConfig::new("catalog-dev-lith", "/nonexistent.zip")
        };
        (PlatformLog::new(&config, sink), lines)
    }

    fn one_invocation(log: &PlatformLog) {
        let report = Report {
            billed_duration_ms: Some(1698),
            memory_size_mb: Some(256),
            max_memory_used_mb: Some(123),
            init_duration_ms: Some(463.512),
            ..Report::new("79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36", 1233.96)
        };
        let request_id = report.request_id.as_str();
        log.emit(PlatformEvent::InitStart);
        log.emit(PlatformEvent::Start { request_id });
        log.emit(PlatformEvent::End {
            request_id,
            status: None,
        });
        log.emit(PlatformEvent::Report(&report));
    }

    /// The shape of a real function's CloudWatch stream with LogFormat JSON and the default
    /// levels (a nodejs22.x function's records of 2026-10-08, published in a public repository):
    /// initStart, start, report, each `{"time","type","record"}`, and no runtimeDone at INFO.
    #[test]
    fn json_records_have_the_shape_and_levels_of_a_real_stream() {
        let (log, lines) = log_with(FunctionLogging::json(LogLevel::Info));
        one_invocation(&log);
        let records: Vec<Value> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let types: Vec<&str> = records
            .iter()
            .map(|r| r["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["platform.initStart", "platform.start", "platform.report"]
        );
        for record in &records {
            let time = record["time"].as_str().unwrap();
            assert!(time.len() == 24 && time.ends_with('Z'), "{time}");
        }
        assert_eq!(
            records[0]["record"],
            json!({"initializationType": "on-demand", "phase": "init",
                   "functionName": "catalog-dev-lith", "functionVersion": "$LATEST",
                   "instanceMaxMemory": 268435456})
        );
        assert_eq!(
            records[1]["record"],
            json!({"requestId": "79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36",
                   "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:catalog-dev-lith",
                   "version": "$LATEST"})
        );
        assert_eq!(
            records[2]["record"],
            json!({"requestId": "79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36",
                   "metrics": {"durationMs": 1233.96, "billedDurationMs": 1698,
                               "memorySizeMB": 256, "maxMemoryUsedMB": 123,
                               "initDurationMs": 463.512},
                   "status": "success"})
        );
        let report = Report::parse(&lines.lock().unwrap()[2]).unwrap();
        assert!(report.is_cold());
    }

    #[test]
    fn system_log_level_debug_adds_runtime_done_and_warn_drops_the_report() {
        let debug = FunctionLogging {
            system_level: LogLevel::Debug,
            ..FunctionLogging::json(LogLevel::Info)
        };
        let (log, lines) = log_with(debug);
        one_invocation(&log);
        assert!(lines.lock().unwrap()[2].contains(r#""type":"platform.runtimeDone""#));

        let warn = FunctionLogging {
            system_level: LogLevel::Warn,
            ..FunctionLogging::json(LogLevel::Info)
        };
        let (log, lines) = log_with(warn);
        one_invocation(&log);
        assert!(lines.lock().unwrap().is_empty());
    }

    #[test]
    fn text_is_the_classic_lines() {
        let (log, lines) = log_with(FunctionLogging::text());
        one_invocation(&log);
        let lines = lines.lock().unwrap();
        assert_eq!(
            lines[0],
            "START RequestId: 79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36 Version: $LATEST"
        );
        assert_eq!(
            lines[1],
            "END RequestId: 79b5e81f-9cdd-4145-b1f6-7c50ef8a2a36"
        );
        assert!(lines[2].starts_with("REPORT RequestId: 79b5e81f"));
        assert!(
            lines[2].ends_with("Init Duration: 463.51 ms"),
            "{}",
            lines[2]
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn timestamps_have_milliseconds_and_zulu() {
        let at = time::macros::datetime!(2026-11-28 01:37:00.123456 UTC);
        assert_eq!(rfc3339_millis(at), "2026-11-28T01:37:00.123Z");
    }

    #[test]
    fn a_failed_init_is_reported_in_either_form() {
        let failed = PlatformEvent::InitReport {
            duration_ms: 10.004,
            status: "error",
            error_type: Some("Runtime.ExitError"),
        };
        let (text, lines) = log_with(FunctionLogging::text());
        text.emit(failed);
        assert_eq!(
            lines.lock().unwrap()[0],
            "INIT_REPORT Init Duration: 10.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError"
        );
        let (json_log, lines) = log_with(FunctionLogging::json(LogLevel::Info));
        json_log.emit(failed);
        let record: Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
        assert_eq!(record["type"], "platform.initReport");
        assert_eq!(record["record"]["errorType"], "Runtime.ExitError");
        assert_eq!(record["record"]["metrics"]["durationMs"], 10.0);
    }

    #[test]
    fn application_records_below_the_level_are_dropped_in_json_only() {
        let (json_log, _) = log_with(FunctionLogging::json(LogLevel::Warn));
        assert!(!json_log.keeps_application_line(r#"{"level":"INFO","message":"hello"}"#));
        assert!(json_log.keeps_application_line(r#"{"level":"ERROR","message":"bad"}"#));
        assert!(json_log.keeps_application_line(r#"{"level":"warning","message":"hm"}"#));
        // No readable level: INFO, dropped at WARN.
        assert!(!json_log.keeps_application_line("plain text"));
        let (text_log, _) = log_with(FunctionLogging::text());
        assert!(text_log.keeps_application_line(r#"{"level":"DEBUG"}"#));
    }
}
