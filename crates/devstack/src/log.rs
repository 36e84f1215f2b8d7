//! Where a function's log lines go: what it prints, and what the platform says about it
//! (START, END, REPORT), as CloudWatch would receive them.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Which pipe a line came from; `Platform` lines are the ones Lambda itself writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    Stdout,
    Stderr,
    Platform,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub function: String,
    pub stream: LogStream,
    /// The line without its trailing newline.
    pub text: String,
    pub time: OffsetDateTime,
}

impl LogLine {
    pub fn new(function: impl Into<String>, stream: LogStream, text: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            stream,
            text: text.into(),
            time: OffsetDateTime::now_utc(),
        }
    }
}

/// A cheap, cloneable destination for log lines, called from several tasks at once.
#[derive(Clone)]
pub struct LogSink(Arc<dyn Fn(LogLine) + Send + Sync>);

impl LogSink {
    pub fn new(write: impl Fn(LogLine) + Send + Sync + 'static) -> Self {
        Self(Arc::new(write))
    }

    pub fn discard() -> Self {
        Self::new(|_| {})
    }

    /// Keeps every line in memory, for tests to inspect.
    pub fn collect(into: Arc<Mutex<Vec<LogLine>>>) -> Self {
        Self::new(move |line| into.lock().unwrap_or_else(|e| e.into_inner()).push(line))
    }

    /// Appends `<RFC 3339 time> <text>` lines to a file, created if missing. The time prefix
    /// mirrors a CloudWatch export, which [`crate::Report::parse`] reads past.
    pub fn file(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let file: Mutex<File> = Mutex::new(file);
        Ok(Self::new(move |line| {
            let time = line.time.format(&Rfc3339).unwrap_or_default();
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // A full disk must not take the function down with it; the line is lost instead.
            let _ = writeln!(file, "{time} {}", line.text);
        }))
    }

    /// Forwards lines to `tracing` at INFO, handy when debugging a test.
    pub fn tracing() -> Self {
        Self::new(|line| {
            tracing::info!(function = %line.function, stream = ?line.stream, "{}", line.text);
        })
    }

    pub fn emit(&self, line: LogLine) {
        (self.0)(line)
    }
}

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_keeps_lines_in_order() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = LogSink::collect(lines.clone());
        sink.emit(LogLine::new("f", LogStream::Stdout, "one"));
        sink.clone()
            .emit(LogLine::new("f", LogStream::Platform, "two"));
        let texts: Vec<_> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.text.clone())
            .collect();
        assert_eq!(texts, ["one", "two"]);
    }

    #[test]
    fn file_appends_timestamped_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let sink = LogSink::file(&path).unwrap();
        sink.emit(LogLine::new(
            "f",
            LogStream::Platform,
            "REPORT RequestId: x\tDuration: 1.00 ms",
        ));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines[0], "earlier");
        assert!(
            lines[1].ends_with(" REPORT RequestId: x\tDuration: 1.00 ms"),
            "{}",
            lines[1]
        );
        assert_eq!(crate::Report::parse(lines[1]).unwrap().duration_ms, 1.0);
    }
}
