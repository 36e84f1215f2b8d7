//! The platform report parser (`platform_report::Report::parse`), on any log line, text `REPORT
//! RequestId:` or JSON `platform.report`: it never panics, what it reads has durations a
//! measurement can sort and add (finite, not negative), and a report it read, written back in
//! the JSON form, reads back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use platform_report::{Report, reports_in};

fuzz_target!(|text: &str| {
    for line in text.lines() {
        let Ok(report) = Report::parse(line) else {
            continue;
        };
        let durations = [Some(report.duration_ms), report.init_duration_ms];
        for duration in durations.into_iter().flatten() {
            assert!(
                duration.is_finite() && duration >= 0.0,
                "{line:?} read as {report:?}"
            );
        }
        let written = report.to_json_line("2026-12-07T00:00:00.000Z");
        assert_eq!(Report::parse(&written).as_ref(), Ok(&report), "{line:?}");
    }
    let _ = reports_in(text);
});
