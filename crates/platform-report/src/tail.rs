//! Following a growing log file: only what was appended since the last look is read, so waiting
//! for a report costs the new bytes, not the whole file again. A file rotated away meanwhile
//! (renamed `<name>.1`, older ones shifted to `.2` and on, as the local stack rotates its logs) is
//! read to its end first, so no report is lost to a rotation between two looks.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
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
    /// The file `offset` counts in; `None` before the first read of a file.
    followed: Option<FileId>,
}

/// A file, whatever its name: device and inode, and its creation time where the file system
/// keeps one, since a new file may get the inode of one just deleted.
type FileId = (u64, u64, Option<std::time::SystemTime>);

fn file_id(metadata: &std::fs::Metadata) -> FileId {
    (metadata.dev(), metadata.ino(), metadata.created().ok())
}

/// Which file a path names now; `None` when there is none.
fn identity(path: &Path) -> io::Result<Option<FileId>> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(Some(file_id(&metadata))),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The `generation`th rotated file of `path`: `<path>.1` is the newest.
fn rotated(path: &Path, generation: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{generation}"));
    PathBuf::from(name)
}

/// Appends what `path` holds from `offset` on to `into`; a file gone meanwhile adds nothing.
fn read_from(path: &Path, offset: u64, into: &mut Vec<u8>) -> io::Result<()> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    file.seek(SeekFrom::Start(offset))?;
    file.read_to_end(into)?;
    Ok(())
}

impl ReportTail {
    /// Follows `path` from its beginning (a missing file is empty until it appears).
    pub fn from_start(path: impl Into<PathBuf>) -> ReportTail {
        ReportTail {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
            followed: None,
        }
    }

    /// Follows `path` from its current end: only reports written from now on are seen.
    pub fn from_end(path: impl Into<PathBuf>) -> io::Result<ReportTail> {
        let path = path.into();
        let (offset, followed) = match std::fs::metadata(&path) {
            Ok(metadata) => (metadata.len(), Some(file_id(&metadata))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => (0, None),
            Err(error) => return Err(error),
        };
        Ok(ReportTail {
            path,
            offset,
            partial: Vec::new(),
            followed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The reports in the complete lines appended since the last call, in order.
    pub fn read_new(&mut self) -> io::Result<Vec<Report>> {
        let mut appended = Vec::new();
        let current = match File::open(&self.path) {
            Ok(file) => Some(file),
            Err(error) if error.kind() == io::ErrorKind::NotFound => None,
            Err(error) => return Err(error),
        };
        let current_id = match &current {
            Some(file) => Some(file_id(&file.metadata()?)),
            None => None,
        };
        if let Some(followed) = self.followed
            && current_id != Some(followed)
        {
            self.catch_up_rotated(followed, current_id, &mut appended)?;
            self.offset = 0;
        }
        self.followed = current_id;
        if let Some(mut file) = current {
            if file.metadata()?.len() < self.offset {
                // Truncated in place: start over rather than read from the middle of a line.
                self.offset = 0;
                self.partial.clear();
            }
            file.seek(SeekFrom::Start(self.offset))?;
            let before = appended.len();
            file.read_to_end(&mut appended)?;
            self.offset += (appended.len() - before) as u64;
        }
        self.partial.extend_from_slice(&appended);
        let complete = match self.partial.iter().rposition(|&b| b == b'\n') {
            Some(end) => self.partial.drain(..=end).collect::<Vec<u8>>(),
            None => return Ok(Vec::new()),
        };
        Ok(crate::reports_in(&String::from_utf8_lossy(&complete)))
    }

    /// The followed file is no longer at `path`: reads the rest of it where rotation put it,
    /// then every rotated file newer than it (not the one now at `path`, `current`). When it
    /// cannot be found (rotated out of reach, or replaced), what it held past `offset` is lost,
    /// and so is a line it left half read.
    fn catch_up_rotated(
        &mut self,
        followed: FileId,
        current: Option<FileId>,
        appended: &mut Vec<u8>,
    ) -> io::Result<()> {
        let mut newer: Vec<PathBuf> = Vec::new();
        for generation in 1.. {
            let path = rotated(&self.path, generation);
            match identity(&path)? {
                None => break,
                Some(id) if id == followed => {
                    read_from(&path, self.offset, appended)?;
                    for path in newer.iter().rev() {
                        read_from(path, 0, appended)?;
                    }
                    return Ok(());
                }
                // Rotated after it was opened just now: it is read as the current file.
                Some(id) if Some(id) == current => {}
                Some(_) => newer.push(path),
            }
        }
        self.partial.clear();
        Ok(())
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

    fn report(id: &str) -> String {
        format!("REPORT RequestId: {id}\tDuration: 1.00 ms\n")
    }

    fn ids(reports: Vec<Report>) -> Vec<String> {
        reports.into_iter().map(|r| r.request_id).collect()
    }

    fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    /// What a log writer rotating by size does: `.1` to `.2` and so on, the file to `.1`.
    fn rotate(path: &Path, kept: usize) {
        for generation in (1..kept).rev() {
            let _ = std::fs::rename(rotated(path, generation), rotated(path, generation + 1));
        }
        std::fs::rename(path, rotated(path, 1)).unwrap();
    }

    #[test]
    fn reports_written_before_a_rotation_are_read_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        append(&path, &report("a"));
        let mut tail = ReportTail::from_end(&path).unwrap();
        append(&path, &report("b"));
        // Half a line when first looked at; the writer finishes it before rotating.
        append(&path, "REPORT RequestId: c\tDura");
        assert_eq!(ids(tail.read_new().unwrap()), ["b"]);
        append(&path, "tion: 1.00 ms\n");
        rotate(&path, 3);
        append(&path, &report("d"));
        assert_eq!(ids(tail.read_new().unwrap()), ["c", "d"]);

        // Two rotations between looks: the rest of `.2`, all of `.1`, then the file.
        append(&path, &report("e"));
        rotate(&path, 3);
        append(&path, &report("f"));
        rotate(&path, 3);
        append(&path, &report("g"));
        assert_eq!(ids(tail.read_new().unwrap()), ["e", "f", "g"]);
        assert!(tail.read_new().unwrap().is_empty());
    }

    #[test]
    fn a_file_rotated_out_of_reach_leaves_only_what_came_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.log");
        let mut tail = ReportTail::from_start(&path);
        append(&path, &report("a"));
        assert_eq!(ids(tail.read_new().unwrap()), ["a"]);
        append(&path, &report("lost"));
        std::fs::remove_file(&path).unwrap();
        append(&path, &report("b"));
        assert_eq!(ids(tail.read_new().unwrap()), ["b"]);
    }
}
