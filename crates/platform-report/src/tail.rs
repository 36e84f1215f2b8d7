//! Following a growing log file: only what was appended since the last look is read, so waiting
//! for a report costs the new bytes, not the whole file again.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::Report;

/// The reports appended to one log file. A line still being written (no newline yet) is kept for
/// the next look rather than read half. Reads are blocking file I/O: from async code, they are
/// small, but belong in `spawn_blocking` when the file may be on a slow disk.
#[derive(Debug)]
pub struct ReportTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl ReportTail {
    /// Follows `path` from its beginning (a missing file is empty until it appears).
    pub fn from_start(path: impl Into<PathBuf>) -> ReportTail {
        ReportTail {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Follows `path` from its current end: only reports written from now on are seen.
    pub fn from_end(path: impl Into<PathBuf>) -> io::Result<ReportTail> {
        let path = path.into();
        let offset = match std::fs::metadata(&path) {
            Ok(metadata) => metadata.len(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        Ok(ReportTail {
            path,
            offset,
            partial: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reports in the complete lines appended since the last call, in order.
    pub fn read_new(&mut self) -> io::Result<Vec<Report>> {
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(error),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated or replaced: start over rather than read from the middle of a line.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut appended = Vec::new();
        file.read_to_end(&mut appended)?;
        self.offset += appended.len() as u64;
        self.partial.extend_from_slice(&appended);
        let complete = match self.partial.iter().rposition(|&b| b == b'\n') {
            Some(end) => self.partial.drain(..=end).collect::<Vec<u8>>(),
            None => return Ok(Vec::new()),
        };
        Ok(crate::reports_in(&String::from_utf8_lossy(&complete)))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn only_appended_complete_lines_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        std::fs::write(&path, "REPORT RequestId: old\tDuration: 1.00 ms\n").unwrap();
        let mut from_start = ReportTail::from_start(&path);
        let mut from_end = ReportTail::from_end(&path).unwrap();
        assert_eq!(from_start.read_new().unwrap().len(), 1);
        assert!(from_end.read_new().unwrap().is_empty());

        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(file, "START RequestId: new\nREPORT RequestId: new\tDura").unwrap();
        assert!(from_end.read_new().unwrap().is_empty(), "half a line waits");
        writeln!(file, "tion: 2.00 ms\tInit Duration: 5.00 ms").unwrap();
        let new = from_end.read_new().unwrap();
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].request_id, "new");
        assert!(new[0].is_cold());
        assert_eq!(from_start.read_new().unwrap(), new);

        std::fs::write(&path, "REPORT RequestId: again\tDuration: 3.00 ms\n").unwrap();
        assert_eq!(
            from_end.read_new().unwrap()[0].request_id,
            "again",
            "truncation restarts"
        );
        assert!(
            ReportTail::from_start(dir.path().join("missing"))
                .read_new()
                .unwrap()
                .is_empty()
        );
    }
}
