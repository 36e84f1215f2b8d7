//! The text form: `REPORT RequestId: ...\tDuration: ... ms\t...`, as Lambda writes it with
//! LogFormat Text (and as the local stack writes it), in CloudWatch exports, console copies and
//! log tails alike.

use std::fmt;
use std::str::FromStr;

use crate::{Report, ReportParseError};

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "REPORT RequestId: {}\tDuration: {:.2} ms",
            self.request_id, self.duration_ms
        )?;
        if let Some(billed) = self.billed_duration_ms {
            write!(f, "\tBilled Duration: {billed} ms")?;
        }
        if let Some(size) = self.memory_size_mb {
            write!(f, "\tMemory Size: {size} MB")?;
        }
        if let Some(used) = self.max_memory_used_mb {
            write!(f, "\tMax Memory Used: {used} MB")?;
        }
        if let Some(init) = self.init_duration_ms {
            write!(f, "\tInit Duration: {init:.2} ms")?;
        }
        if let Some(status) = &self.status {
            write!(f, "\tStatus: {status}")?;
        }
        if let Some(error_type) = &self.error_type {
            write!(f, "\tError Type: {error_type}")?;
        }
        Ok(())
    }
}

const MARKER: &str = "REPORT RequestId:";

/// Multi-word labels have to be known up front: in the space-separated form some tools print
/// (tabs turned into spaces) nothing else tells where a value ends and the next label begins.
const LABELS: &[&[&str]] = &[
    &["Billed", "Restore", "Duration:"],
    &["Billed", "Duration:"],
    &["Init", "Duration:"],
    &["Restore", "Duration:"],
    &["Max", "Memory", "Used:"],
    &["Memory", "Size:"],
    &["XRAY", "TraceId:"],
    &["Error", "Type:"],
];

/// Whether `line` holds a text REPORT (wherever in the line).
pub(crate) fn is_text_report(line: &str) -> bool {
    line.contains(MARKER)
}

/// Reads the text REPORT in `line`, ignoring whatever a log viewer put in front of it.
pub(crate) fn parse_text(line: &str) -> Result<Report, ReportParseError> {
    let start = line.find(MARKER).ok_or(ReportParseError::NotAReport)?;
    let body = &line[start + "REPORT ".len()..];

    let mut fields: Vec<(String, String)> = Vec::new();
    for segment in body.split('\t') {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let mut i = 0;
        while i < words.len() {
            if let Some(label) = label_at(&words[i..]) {
                fields.push((label.join(" "), String::new()));
                i += label.len();
            } else if words[i].ends_with(':') {
                // A field this parser does not know; keep it apart so it cannot spill into
                // the value before it.
                fields.push((words[i].to_owned(), String::new()));
                i += 1;
            } else {
                if let Some((_, value)) = fields.last_mut() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(words[i]);
                }
                i += 1;
            }
        }
    }
    let get = |label: &str| {
        fields
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };

    let request_id = get("RequestId:")
        .and_then(|v| v.split_whitespace().next())
        .ok_or(ReportParseError::Missing("RequestId"))?
        .to_owned();
    let duration_ms =
        duration(get("Duration:"), "Duration")?.ok_or(ReportParseError::Missing("Duration"))?;
    Ok(Report {
        request_id,
        duration_ms,
        billed_duration_ms: number(get("Billed Duration:"), "Billed Duration")?,
        memory_size_mb: number(get("Memory Size:"), "Memory Size")?,
        max_memory_used_mb: number(get("Max Memory Used:"), "Max Memory Used")?,
        init_duration_ms: duration(get("Init Duration:"), "Init Duration")?,
        status: get("Status:").map(first_word),
        error_type: get("Error Type:").map(first_word),
    })
}

fn label_at<'a>(words: &[&str]) -> Option<&'a [&'a str]> {
    if words.first() == Some(&"RequestId:") {
        return Some(&["RequestId:"]);
    }
    if words.first() == Some(&"Duration:") {
        return Some(&["Duration:"]);
    }
    LABELS
        .iter()
        .copied()
        .find(|label| words.starts_with(label))
}

fn first_word(value: &str) -> String {
    value
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A duration in milliseconds. Rust's float parser also takes `NaN`, `inf` and `1e999`, and a
/// minus sign: Lambda writes none of those, and a measurement that sorts and adds durations
/// cannot use them, so they are refused like any unreadable value.
fn duration(value: Option<&str>, field: &'static str) -> Result<Option<f64>, ReportParseError> {
    let ms = number::<f64>(value, field)?;
    match ms {
        Some(ms) if !crate::is_duration(ms) => Err(ReportParseError::BadValue {
            field,
            value: value.unwrap_or_default().to_owned(),
        }),
        _ => Ok(ms),
    }
}

/// Values look like `1.52 ms` or `128 MB`; the unit is fixed per field, so only the number counts.
fn number<T: FromStr>(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<T>, ReportParseError> {
    let Some(value) = value else { return Ok(None) };
    let bad = || ReportParseError::BadValue {
        field,
        value: value.to_owned(),
    };
    let first = value.split_whitespace().next().ok_or_else(bad)?;
    first.parse().map(Some).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use crate::{Report, ReportParseError};

    const ID: &str = "8f5c3e1a-7b2d-4c9e-a1f0-3d6b2e9c4a71";

    #[test]
    fn display_matches_the_cloudwatch_format() {
        let report = Report {
            billed_duration_ms: Some(2),
            memory_size_mb: Some(128),
            max_memory_used_mb: Some(18),
            init_duration_ms: Some(21.37),
            ..Report::new(ID, 1.52)
        };
        assert_eq!(
            report.to_string(),
            format!(
                "REPORT RequestId: {ID}\tDuration: 1.52 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 21.37 ms"
            )
        );
        let warm = Report {
            init_duration_ms: None,
            ..report
        };
        assert!(!warm.to_string().contains("Init Duration"));
    }

    #[test]
    fn display_then_parse_round_trips() {
        let report = Report {
            billed_duration_ms: Some(1001),
            memory_size_mb: Some(256),
            max_memory_used_mb: Some(40),
            init_duration_ms: Some(180.2),
            status: Some("timeout".into()),
            ..Report::new(ID, 1000.75)
        };
        assert_eq!(Report::parse(&report.to_string()).unwrap(), report);
    }

    #[test]
    fn parses_a_cold_start_line_with_trailing_tab() {
        let line = format!(
            "REPORT RequestId: {ID}\tDuration: 1.83 ms\tBilled Duration: 35 ms\tMemory Size: 128 MB\tMax Memory Used: 19 MB\tInit Duration: 32.66 ms\t\n"
        );
        let r = Report::parse(&line).unwrap();
        assert_eq!(r.request_id, ID);
        assert_eq!(r.duration_ms, 1.83);
        assert_eq!(r.billed_duration_ms, Some(35));
        assert_eq!(r.memory_size_mb, Some(128));
        assert_eq!(r.max_memory_used_mb, Some(19));
        assert_eq!(r.init_duration_ms, Some(32.66));
        assert!(r.is_cold());
    }

    #[test]
    fn parses_a_warm_line_without_init_duration() {
        let line = format!(
            "REPORT RequestId: {ID}\tDuration: 0.98 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 19 MB\t"
        );
        let r = Report::parse(&line).unwrap();
        assert_eq!(r.init_duration_ms, None);
        assert!(!r.is_cold());
        assert_eq!(r.billed_duration_ms, Some(1));
    }

    #[test]
    fn tolerates_missing_billing_and_memory_fields() {
        let r = Report::parse(&format!("REPORT RequestId: {ID}\tDuration: 12.00 ms")).unwrap();
        assert_eq!(r, Report::new(ID, 12.0));
    }

    #[test]
    fn ignores_xray_and_snapstart_fields() {
        let line = format!(
            "REPORT RequestId: {ID}\tDuration: 92.17 ms\tBilled Duration: 377 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB\tRestore Duration: 284.32 ms\tBilled Restore Duration: 284 ms\t\nXRAY TraceId: 1-5e1b4151-43a0913a12345678901234567\tSegmentId: 6c3d2ae7a5f0bd2f\tSampled: true\t"
        );
        let r = Report::parse(&line).unwrap();
        assert_eq!(r.duration_ms, 92.17);
        assert_eq!(r.billed_duration_ms, Some(377));
        assert_eq!(r.max_memory_used_mb, Some(88));
        assert_eq!(r.init_duration_ms, None);
    }

    #[test]
    fn tolerates_a_prefix_before_report() {
        let line = format!(
            "2026-11-28T01:37:00.123Z\tREPORT RequestId: {ID}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout"
        );
        let r = Report::parse(&line).unwrap();
        assert_eq!(r.duration_ms, 3000.0);
        assert_eq!(r.status.as_deref(), Some("timeout"));

        let cli = format!(
            "2026-11-28T01:37:00 /aws/lambda/lith 2026/11/28/[$LATEST]abc REPORT RequestId: {ID}\tDuration: 2.00 ms"
        );
        assert_eq!(Report::parse(&cli).unwrap().duration_ms, 2.0);
    }

    #[test]
    fn reads_the_space_separated_form() {
        let line = format!(
            "REPORT RequestId: {ID} Duration: 1.52 ms Billed Duration: 2 ms Memory Size: 128 MB Max Memory Used: 18 MB Init Duration: 21.37 ms Status: error Error Type: Runtime.ExitError"
        );
        let r = Report::parse(&line).unwrap();
        assert_eq!(r.duration_ms, 1.52);
        assert_eq!(r.billed_duration_ms, Some(2));
        assert_eq!(r.memory_size_mb, Some(128));
        assert_eq!(r.max_memory_used_mb, Some(18));
        assert_eq!(r.init_duration_ms, Some(21.37));
        assert_eq!(r.status.as_deref(), Some("error"));
        assert_eq!(r.error_type.as_deref(), Some("Runtime.ExitError"));
    }

    #[test]
    fn rejects_other_lines() {
        for line in [
            format!("START RequestId: {ID} Version: $LATEST"),
            format!("END RequestId: {ID}"),
            "INIT_START Runtime Version: provided:al2023.v30".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                Report::parse(&line),
                Err(ReportParseError::NotAReport),
                "{line}"
            );
        }
    }

    #[test]
    fn refuses_durations_lambda_never_writes() {
        // Found by the property tests (tests/properties.rs): `NaN` was read as a duration.
        for duration in ["NaN", "inf", "-inf", "infinity", "1e999", "-1.5"] {
            let line = format!("REPORT RequestId: {ID}\tDuration: {duration} ms");
            assert!(
                matches!(
                    Report::parse(&line),
                    Err(ReportParseError::BadValue {
                        field: "Duration",
                        ..
                    })
                ),
                "{line}"
            );
            let cold =
                format!("REPORT RequestId: {ID}\tDuration: 1 ms\tInit Duration: {duration} ms");
            assert!(Report::parse(&cold).is_err(), "{cold}");
        }
        let zero = Report::parse(&format!("REPORT RequestId: {ID}\tDuration: 0.00 ms")).unwrap();
        assert_eq!(zero.duration_ms, 0.0);
    }

    #[test]
    fn rejects_broken_report_lines() {
        assert_eq!(
            Report::parse("REPORT RequestId: abc\tBilled Duration: 2 ms"),
            Err(ReportParseError::Missing("Duration"))
        );
        assert!(matches!(
            Report::parse("REPORT RequestId: abc\tDuration: fast ms"),
            Err(ReportParseError::BadValue {
                field: "Duration",
                ..
            })
        ));
        assert_eq!(
            Report::parse("REPORT RequestId: \tDuration: 1.00 ms"),
            Err(ReportParseError::Missing("RequestId"))
        );
    }
}
