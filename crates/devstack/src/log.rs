//! Where a function's log lines go: what it prints, and what the platform says about it
//! (START, END, REPORT), as CloudWatch would receive them.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
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
pub struct LogSink {
    write: Arc<dyn Fn(LogLine) + Send + Sync>,
    /// Waits until every line emitted so far is where it goes; `None`: always there at once.
    flush: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// What the file writer thread receives.
enum ToWriter {
    Line(LogLine),
    /// Flush, then say so.
    Flush(std::sync::mpsc::SyncSender<()>),
}

impl LogSink {
    pub fn new(write: impl Fn(LogLine) + Send + Sync + 'static) -> Self {
        Self {
            write: Arc::new(write),
            flush: None,
        }
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
    ///
    /// The file is written by a thread of its own through a buffer, flushed whenever no line is
    /// waiting: emitting a line costs a channel send, never a system call on the request's path
    /// (several `write`s per line, unbuffered, were most of the stack's system calls). Lines keep
    /// their order; [`LogSink::flush`] waits until they are in the file. The thread ends, after
    /// writing everything, when the last clone of the sink is dropped.
    pub fn file(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (sender, receiver) = std::sync::mpsc::channel::<ToWriter>();
        let name = format!(
            "log-{}",
            path.file_stem().unwrap_or_default().to_string_lossy()
        );
        std::thread::Builder::new()
            .name(name)
            .spawn(move || write_lines(file, receiver))?;
        // A std Sender is Sync: every task sends on it without a lock.
        let flusher = sender.clone();
        Ok(Self {
            write: Arc::new(move |line| {
                // Once the writer is gone (it never stops first) the line has nowhere to go.
                let _ = sender.send(ToWriter::Line(line));
            }),
            flush: Some(Arc::new(move || {
                let (done, wait) = std::sync::mpsc::sync_channel(1);
                if flusher.send(ToWriter::Flush(done)).is_ok() {
                    let _ = wait.recv();
                }
            })),
        })
    }

    /// Forwards lines to `tracing` at INFO, handy when debugging a test.
    pub fn tracing() -> Self {
        Self::new(|line| {
            tracing::info!(function = %line.function, stream = ?line.stream, "{}", line.text);
        })
    }

    /// This sink, with `also` shown every line first (e.g. printing it on the console); flushing
    /// still flushes this sink.
    pub fn also(self, also: impl Fn(&LogLine) + Send + Sync + 'static) -> Self {
        let write = self.write;
        Self {
            write: Arc::new(move |line| {
                also(&line);
                write(line);
            }),
            flush: self.flush,
        }
    }

    pub fn emit(&self, line: LogLine) {
        (self.write)(line)
    }

    /// Blocks until every line emitted before the call is written. Blocking: from async code,
    /// call it through `spawn_blocking`.
    pub fn flush(&self) {
        if let Some(flush) = &self.flush {
            flush();
        }
    }
}

/// The file writer thread: buffers lines while more are waiting, flushes when none is.
fn write_lines(file: File, receiver: std::sync::mpsc::Receiver<ToWriter>) {
    let mut out = BufWriter::with_capacity(64 * 1024, file);
    let mut waiting = Vec::new();
    while let Ok(message) = receiver.recv() {
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                ToWriter::Line(line) => {
                    let time = line.time.format(&Rfc3339).unwrap_or_default();
                    // A full disk must not take the stack down with it; the line is lost instead.
                    let _ = writeln!(out, "{time} {}", line.text);
                }
                ToWriter::Flush(done) => waiting.push(done),
            }
            next = receiver.try_recv().ok();
        }
        let _ = out.flush();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        // A pause before waiting again: lines sent meanwhile queue up without waking this
        // thread, so under load one wake-up writes many lines instead of one each (a futex
        // wake per line showed in profiles). Lines reach the file at most this much later.
        std::thread::sleep(WRITER_PAUSE);
    }
    let _ = out.flush();
}

/// How long the file writer lets lines gather after a write; see [`write_lines`].
const WRITER_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

impl fmt::Debug for LogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogSink")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gets_every_line_in_order_once_flushed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.log");
        let sink = LogSink::file(&path).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        sink.emit(LogLine::new("f", LogStream::Stdout, format!("{t} {i}")));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        sink.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2000);
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.split_once(' ').map(|(_, rest)| rest))
                .filter_map(|rest| rest.strip_prefix(&format!("{t} ")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..500).collect::<Vec<_>>(),
                "thread {t}'s lines in order"
            );
        }

        let printed = Arc::new(Mutex::new(Vec::new()));
        let seen = printed.clone();
        let sink = LogSink::file(&path)
            .unwrap()
            .also(move |line| seen.lock().unwrap().push(line.text.clone()));
        sink.emit(LogLine::new("f", LogStream::Stdout, "last"));
        drop(sink);
        assert_eq!(*printed.lock().unwrap(), ["last"]);
        // Dropped: the writer finishes on its own; flushing a clone-less sink is not possible,
        // so wait for its line the way a reader of the file would.
        let mut found = false;
        for _ in 0..500 {
            if std::fs::read_to_string(&path).unwrap().ends_with(" last\n") {
                found = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(found, "the line was written after the sink was dropped");
        LogSink::discard().flush();
    }

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
        sink.flush();
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
