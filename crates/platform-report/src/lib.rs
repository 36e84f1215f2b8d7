//! Lambda's platform report, the account of one invocation (duration, billing, memory and, on a
//! cold start, the init duration), read from whatever text holds it.
//!
//! Lambda writes it in two forms, depending on the function's LogFormat:
//! - text: `REPORT RequestId: <id>\tDuration: 1.52 ms\tBilled Duration: 2 ms\t...Init Duration: 21.37 ms`;
//! - JSON: `{"time":...,"type":"platform.report","record":{"requestId":...,"metrics":{"durationMs":...,"initDurationMs":...},"status":"success"}}`.
//!
//! Both are read into one [`Report`], wherever they sit in a line (a CloudWatch export or a log
//! viewer puts timestamps and stream names in front), so the local stack's log files, an invoke's
//! base64 log tail and CloudWatch are measured by the same code. [`reports_in`] scans any text;
//! [`ReportTail`] follows a growing log file.

mod json;
mod tail;
mod text;

use serde::{Deserialize, Serialize};

pub use tail::ReportTail;

/// What Lambda says about one invocation once it is over.
///
/// Only `request_id` and `duration_ms` are always present in the wild; the rest depends on the
/// runtime, the age of the log and the outcome, so it is optional here too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub request_id: String,
    pub duration_ms: f64,
    pub billed_duration_ms: Option<u64>,
    pub memory_size_mb: Option<u32>,
    pub max_memory_used_mb: Option<u32>,
    /// Present only on the first invocation of an execution environment (a cold start).
    pub init_duration_ms: Option<f64>,
    /// `timeout` or `error` when the invocation ended the environment; absent on success (the
    /// JSON form's `success` is read as absent, so both forms compare equal).
    pub status: Option<String>,
    /// Accompanies `status: error`, e.g. `Runtime.ExitError`.
    pub error_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportParseError {
    #[error("not a Lambda platform report")]
    NotAReport,
    #[error("REPORT line has no {0} field")]
    Missing(&'static str),
    #[error("REPORT field {field} has an unreadable value {value:?}")]
    BadValue { field: &'static str, value: String },
    #[error("platform.report record is not readable: {0}")]
    BadRecord(String),
}

impl Report {
    /// A report with only the two fields every report has.
    pub fn new(request_id: impl Into<String>, duration_ms: f64) -> Self {
        Self {
            request_id: request_id.into(),
            duration_ms,
            billed_duration_ms: None,
            memory_size_mb: None,
            max_memory_used_mb: None,
            init_duration_ms: None,
            status: None,
            error_type: None,
        }
    }

    /// Reads the report in one log line, text or JSON, ignoring whatever a log viewer put in
    /// front of it and fields this crate does not model (`Restore Duration`, `XRAY TraceId`,
    /// `spans`...). Any other line is [`ReportParseError::NotAReport`].
    pub fn parse(line: &str) -> Result<Self, ReportParseError> {
        if text::is_text_report(line) {
            text::parse_text(line)
        } else if json::is_json_report(line) {
            json::parse_json(line)
        } else {
            Err(ReportParseError::NotAReport)
        }
    }

    /// True when this invocation paid for starting an execution environment.
    pub fn is_cold(&self) -> bool {
        self.init_duration_ms.is_some()
    }

    /// The JSON form (LogFormat JSON), one line, with `time` as given.
    pub fn to_json_line(&self, time: &str) -> String {
        json::to_json_line(self, time)
    }
}

impl std::str::FromStr for Report {
    type Err = ReportParseError;

    fn from_str(line: &str) -> Result<Self, Self::Err> {
        Report::parse(line)
    }
}

/// Whether `ms` can be a duration Lambda reports: finite and not negative.
fn is_duration(ms: f64) -> bool {
    ms.is_finite() && ms >= 0.0
}

/// Every report in `text`, in order, one per line; other lines are skipped, and so are reports
/// too damaged to read (a log tail can start in the middle of one).
pub fn reports_in(text: &str) -> Vec<Report> {
    text.lines()
        .filter_map(|line| Report::parse(line).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_of_one_invocation_read_the_same() {
        let text = "REPORT RequestId: r-1\tDuration: 1.52 ms\tBilled Duration: 24 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 21.37 ms";
        let json = r#"{"time":"2026-11-28T01:37:00.123Z","type":"platform.report","record":{"requestId":"r-1","metrics":{"durationMs":1.52,"billedDurationMs":24,"memorySizeMB":128,"maxMemoryUsedMB":18,"initDurationMs":21.37},"status":"success"}}"#;
        assert_eq!(Report::parse(text).unwrap(), Report::parse(json).unwrap());
        let written = Report::parse(text)
            .unwrap()
            .to_json_line("2026-11-28T01:37:00.123Z");
        let value = |line: &str| serde_json::from_str::<serde_json::Value>(line).unwrap();
        assert_eq!(
            value(&written),
            value(json),
            "the same object, in any key order"
        );
    }

    #[test]
    fn reports_are_found_in_mixed_text() {
        let log = "START RequestId: a Version: $LATEST\n\
                   hello from the function\n\
                   END RequestId: a\n\
                   2026-11-28T01:37:00Z REPORT RequestId: a\tDuration: 1.00 ms\tInit Duration: 3.00 ms\n\
                   {\"type\":\"platform.start\",\"record\":{\"requestId\":\"b\"}}\n\
                   {\"type\":\"platform.report\",\"record\":{\"requestId\":\"b\",\"metrics\":{\"durationMs\":0.5}}}\n\
                   t ms\tDuration: 9 ms\n";
        let found = reports_in(log);
        assert_eq!(found.len(), 2);
        assert!(found[0].is_cold());
        assert_eq!(found[1], Report::new("b", 0.5));
        assert_eq!(
            "REPORT RequestId: c\tDuration: 2 ms"
                .parse::<Report>()
                .unwrap()
                .duration_ms,
            2.0
        );
    }
}
