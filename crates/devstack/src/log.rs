//! Where a function's log lines go: what it prints, and what the platform says about it
//! (START, END, REPORT), as CloudWatch would receive them. Files are rotated by size
//! ([`LogRotation`]), so a long-running stack keeps a bounded amount of log on disk.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
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

/// How big a log file may grow: once a line would take the current file past `max_file_bytes`,
/// the file becomes `<name>.1` (an older `<name>.1` becomes `<name>.2`, and so on) and a new one
/// is started; only `kept_files` older files are kept. A log then never takes more than about
/// `max_file_bytes * (kept_files + 1)` on disk. CloudWatch keeps logs for the log group's
/// retention instead; a developer's disk has no such service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    pub max_file_bytes: u64,
    pub kept_files: usize,
}

impl LogRotation {
    /// 10 MiB per file, two older files: at most 30 MiB per log (a function's, the access
    /// log...), hours of ordinary use and the last minutes of a load test.
    pub const DEFAULT: LogRotation = LogRotation {
        max_file_bytes: 10 * 1024 * 1024,
        kept_files: 2,
    };

    /// The path of the `generation`th older file of `path` (`access.log.1` is the newest).
    pub fn older_file(path: &Path, generation: usize) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{generation}"));
        PathBuf::from(name)
    }
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation::DEFAULT
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

    /// [`LogSink::rotating_file`] with the [`LogRotation::DEFAULT`] sizes.
    pub fn file(path: &Path) -> io::Result<Self> {
        Self::rotating_file(path, LogRotation::DEFAULT)
    }

    /// Appends `<RFC 3339 time> <text>` lines to a file, created if missing, rotated as
    /// `rotation` says. The time prefix mirrors a CloudWatch export, which
    /// [`crate::Report::parse`] reads past.
    ///
    /// The file is written by a thread of its own through a buffer, flushed whenever no line is
    /// waiting: emitting a line costs a channel send, never a system call on the request's path
    /// (several `write`s per line, unbuffered, were most of the stack's system calls). Lines keep
    /// their order; [`LogSink::flush`] waits until they are in the file. The thread ends, after
    /// writing everything, when the last clone of the sink is dropped.
    pub fn rotating_file(path: &Path, rotation: LogRotation) -> io::Result<Self> {
        let file = RotatingFile::open(path.to_owned(), rotation)?;
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

/// A log file that starts over under a new name when it is full (see [`LogRotation`]).
struct RotatingFile {
    path: PathBuf,
    rotation: LogRotation,
    out: BufWriter<File>,
    /// Bytes in the current file, counted as they are written (and at open).
    size: u64,
}

impl RotatingFile {
    fn open(path: PathBuf, rotation: LogRotation) -> io::Result<RotatingFile> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path,
            rotation,
            out: BufWriter::with_capacity(64 * 1024, file),
            size,
        })
    }

    /// Writes one whole line (with its newline), rotating first when it would not fit. A line
    /// longer than a whole file still goes in one piece, into a file of its own.
    fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let length = line.len() as u64;
        if self.size > 0 && self.size + length > self.rotation.max_file_bytes {
            self.rotate()?;
        }
        self.size += length;
        self.out.write_all(line)
    }

    /// Shifts the older files up by one (dropping the oldest), moves the current one to
    /// `.1` and starts an empty file.
    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        // Counted as rotated even if what follows fails: the next attempt then comes after
        // another file's worth of lines, not at every line.
        self.size = 0;
        let older = |generation| LogRotation::older_file(&self.path, generation);
        if self.rotation.kept_files == 0 {
            let file = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&self.path)?;
            // Appending from here on, as a file opened in append mode does.
            self.out = BufWriter::with_capacity(64 * 1024, file);
            return Ok(());
        }
        for generation in (1..self.rotation.kept_files).rev() {
            match std::fs::rename(older(generation), older(generation + 1)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        std::fs::rename(&self.path, older(1))?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.out = BufWriter::with_capacity(64 * 1024, file);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The file writer thread: buffers lines while more are waiting, flushes when none is.
fn write_lines(mut out: RotatingFile, receiver: std::sync::mpsc::Receiver<ToWriter>) {
    let mut waiting = Vec::new();
    let mut text = Vec::with_capacity(256);
    while let Ok(message) = receiver.recv() {
        let mut next = Some(message);
        while let Some(message) = next.take() {
            match message {
                ToWriter::Line(line) => {
                    let time = line.time.format(&Rfc3339).unwrap_or_default();
                    text.clear();
                    let _ = writeln!(text, "{time} {}", line.text);
                    // A full disk must not take the stack down with it; the line is lost instead.
                    let _ = out.write_line(&text);
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

    /// A line of known length: `2026-12-07T06:00:00Z <text>\n` is 21 bytes plus the text's
    /// and the newline.
    fn fixed_line(text: String) -> LogLine {
        LogLine {
            time: time::macros::datetime!(2026-12-07 06:00:00 UTC),
            ..LogLine::new("f", LogStream::Stdout, text)
        }
    }

    /// Each file's lines, without their time prefix; an absent file has none.
    fn texts(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| line.split_once(' ').unwrap().1.to_owned())
            .collect()
    }

    fn numbered(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("line {i:03}")).collect()
    }

    #[test]
    fn a_full_file_is_rotated_and_only_the_kept_older_files_remain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        // 30 bytes a line: three fit in 100 bytes, a fourth does not.
        let rotation = LogRotation {
            max_file_bytes: 100,
            kept_files: 2,
        };
        let sink = LogSink::rotating_file(&path, rotation).unwrap();
        for line in numbered(0..20) {
            sink.emit(fixed_line(line));
        }
        sink.flush();
        let older = |generation| LogRotation::older_file(&path, generation);
        assert_eq!(texts(&path), numbered(18..20));
        assert_eq!(texts(&older(1)), numbered(15..18));
        assert_eq!(texts(&older(2)), numbered(12..15));
        assert!(!older(3).exists(), "only two older files are kept");
        for file in [path.clone(), older(1), older(2)] {
            let size = std::fs::metadata(&file).unwrap().len();
            assert!(size <= 100, "{}: {size} bytes", file.display());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn what_a_file_held_before_the_stack_started_counts_towards_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        std::fs::write(&path, "x".repeat(79) + "\n").unwrap();
        let rotation = LogRotation {
            max_file_bytes: 100,
            kept_files: 1,
        };
        let sink = LogSink::rotating_file(&path, rotation).unwrap();
        sink.emit(fixed_line("line 000".into()));
        sink.flush();
        assert_eq!(texts(&path), numbered(0..1));
        let earlier = std::fs::read_to_string(LogRotation::older_file(&path, 1)).unwrap();
        assert_eq!(earlier, "x".repeat(79) + "\n");
    }

    #[test]
    fn with_no_older_file_kept_the_file_starts_over_and_a_huge_line_stays_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let rotation = LogRotation {
            max_file_bytes: 100,
            kept_files: 0,
        };
        let sink = LogSink::rotating_file(&path, rotation).unwrap();
        for line in numbered(0..7) {
            sink.emit(fixed_line(line));
        }
        sink.flush();
        assert_eq!(texts(&path), numbered(6..7));
        let huge = "y".repeat(300);
        sink.emit(fixed_line(huge.clone()));
        sink.emit(fixed_line("after".into()));
        sink.flush();
        assert_eq!(texts(&path), ["after"]);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let kept = dir.path().join("kept.log");
        let sink = LogSink::rotating_file(
            &kept,
            LogRotation {
                max_file_bytes: 100,
                kept_files: 1,
            },
        )
        .unwrap();
        sink.emit(fixed_line("before".into()));
        sink.emit(fixed_line(huge.clone()));
        sink.emit(fixed_line("after".into()));
        sink.flush();
        assert_eq!(texts(&LogRotation::older_file(&kept, 1)), [huge]);
        assert_eq!(texts(&kept), ["after"]);
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
