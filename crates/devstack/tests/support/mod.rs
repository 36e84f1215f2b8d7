//! What the execution-environment and pool tests share: the fixture package and process checks.

use std::io::Write;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

/// A Lambda runtime in Python whose behaviour each event chooses (`{"action": "echo"}`, ...).
const BOOTSTRAP: &str = include_str!("../fixtures/bootstrap.py");

/// Zips the fixture as `<dir>/function.zip`: `bootstrap` (755) at the root, plus a data
/// directory (750) and file (640) whose modes must survive unpacking.
pub fn fixture_package(dir: &Path) -> PathBuf {
    let path = dir.join("function.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = |mode| SimpleFileOptions::default().unix_permissions(mode);
    zip.start_file("bootstrap", options(0o755)).unwrap();
    zip.write_all(BOOTSTRAP.as_bytes()).unwrap();
    zip.add_directory("data/", options(0o750)).unwrap();
    zip.start_file("data/config.txt", options(0o640)).unwrap();
    zip.write_all(b"setting=1\n").unwrap();
    zip.finish().unwrap();
    path
}

/// Zips a package with no `bootstrap` as `<dir>/empty.zip`: one that cannot start.
pub fn package_without_bootstrap(dir: &Path) -> PathBuf {
    let path = dir.join("empty.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("handler.py", SimpleFileOptions::default())
        .unwrap();
    zip.finish().unwrap();
    path
}

pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}
