//! The local backend: each IP set is a JSON file, `<state_dir>/waf/<ip-set-name>.json`, that the
//! CLI writes and the local stack's gateway reads.
//!
//! Writers take an advisory lock on `<ip-set-name>.lock` beside the file, read, change, write a
//! temporary file and rename it over the old one. The lock means two writers (two CLI runs, or
//! threads) never lose each other's entries; the rename means a reader, which takes no lock, sees
//! the old file or the new one, never half of one. The lock is the OS's (`flock` on Unix): it
//! goes away with the process that held it, so a crash leaves no stale lock behind.
//!
//! [`LocalAllowList`] is the reader for the gateway: it keeps each set in memory and re-reads a
//! file only when its metadata changes, so checking a peer costs one `stat`.

use std::fs::{self, File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::allow_list::{AllowList, Entry, IpSet};
use crate::backend::{AllowListBackend, BackendError, IpSetNames, SetChange};
use crate::cidr::IpVersion;

/// The directory under the state directory that holds the IP set files.
pub const WAF_DIR: &str = "waf";

/// How long a writer waits for another writer's lock before giving up.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The file of the IP set `name`: `<state_dir>/waf/<name>.json`.
pub fn set_path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join(WAF_DIR).join(format!("{name}.json"))
}

/// An IP set file as read. Its `name` field is there for people reading the file and is not
/// read back: the file name is what counts.
#[derive(Deserialize)]
struct SetFile {
    ip_address_version: IpVersion,
    entries: Vec<Entry>,
}

/// An IP set file as written (borrowing, so writing copies nothing).
#[derive(Serialize)]
struct SetFileRef<'a> {
    name: &'a str,
    ip_address_version: IpVersion,
    entries: &'a [Entry],
}

/// The allow-list of one environment, kept in `<state_dir>/waf/`. Cloning is cheap; clones and
/// other processes using the same directory share the files safely.
///
/// The [`AllowListBackend`] methods do blocking file I/O (and may wait up to the lock timeout
/// for another writer): from an async server, call them through `spawn_blocking`.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    state_dir: PathBuf,
    names: IpSetNames,
    lock_timeout: Duration,
}

impl LocalBackend {
    /// The allow-list under `state_dir` (for the workspace, `<root>/.devstack`). Nothing is
    /// created until the first change.
    pub fn new(state_dir: impl Into<PathBuf>, names: IpSetNames) -> LocalBackend {
        LocalBackend {
            state_dir: state_dir.into(),
            names,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Waits up to `timeout` for another writer, instead of [`DEFAULT_LOCK_TIMEOUT`].
    pub fn with_lock_timeout(mut self, timeout: Duration) -> LocalBackend {
        self.lock_timeout = timeout;
        self
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `<state_dir>/waf`.
    pub fn dir(&self) -> PathBuf {
        self.state_dir.join(WAF_DIR)
    }

    /// `<state_dir>/waf/<name>.json` for the set of `version`.
    pub fn set_path(&self, version: IpVersion) -> PathBuf {
        set_path(&self.state_dir, self.names.get(version))
    }

    /// `<state_dir>/waf/<name>.lock`, which writers of that set lock.
    pub fn lock_path(&self, version: IpVersion) -> PathBuf {
        self.dir().join(format!("{}.lock", self.names.get(version)))
    }

    /// [`AllowListBackend::read_set`] without async.
    pub fn read_set_blocking(&self, version: IpVersion) -> Result<IpSet, BackendError> {
        read_set_file(&self.set_path(version), version).map(|(_, set)| set)
    }

    /// [`AllowListBackend::update_set`] without async: lock, read, change, write, unlock.
    pub fn update_set_blocking(
        &self,
        version: IpVersion,
        change: &mut SetChange<'_>,
    ) -> Result<(), BackendError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        let _lock = lock(&self.lock_path(version), self.lock_timeout)?;
        let path = self.set_path(version);
        let (_, mut set) = read_set_file(&path, version)?;
        if change(&mut set)? {
            write_set_file(&path, self.names.get(version), &set)?;
        }
        Ok(())
    }
}

#[async_trait]
impl AllowListBackend for LocalBackend {
    fn names(&self) -> &IpSetNames {
        &self.names
    }

    fn location(&self) -> String {
        format!("local files in {}", self.dir().display())
    }

    fn caller(&self) -> Option<String> {
        ["USER", "USERNAME"]
            .iter()
            .find_map(|var| std::env::var(var).ok().filter(|user| !user.is_empty()))
    }

    async fn read_set(&self, version: IpVersion) -> Result<IpSet, BackendError> {
        self.read_set_blocking(version)
    }

    async fn update_set(
        &self,
        version: IpVersion,
        change: &mut SetChange<'_>,
    ) -> Result<(), BackendError> {
        self.update_set_blocking(version, change)
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> BackendError {
    let path = path.to_path_buf();
    move |error| BackendError::Io {
        action,
        path,
        error,
    }
}

/// Takes the exclusive lock on `path` (creating the file), polling so that a writer that hangs
/// gives an error instead of hanging every other writer too.
fn lock(path: &Path, timeout: Duration) -> Result<File, BackendError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_error("open the lock file", path))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(error)) => {
                return Err(BackendError::Io {
                    action: "lock",
                    path: path.to_path_buf(),
                    error,
                });
            }
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(BackendError::LockTimeout {
                path: path.to_path_buf(),
                waited,
            });
        }
        thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// Reads the set file at `path`; a missing file is an empty set. Also returns the fingerprint of
/// exactly what was read (taken from the open file, so a rename in between cannot mismatch them).
fn read_set_file(
    path: &Path,
    version: IpVersion,
) -> Result<(Option<Fingerprint>, IpSet), BackendError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok((None, IpSet::new(version)));
        }
        Err(error) => return Err(io_error("read", path)(error)),
    };
    let metadata = file.metadata().map_err(io_error("read", path))?;
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.read_to_end(&mut bytes)
        .map_err(io_error("read", path))?;
    let corrupt = |problem: String| BackendError::Corrupt {
        path: path.to_path_buf(),
        problem,
    };
    let parsed: SetFile =
        serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
    if parsed.ip_address_version != version {
        return Err(corrupt(format!(
            "it holds an {} set where the {version} set belongs",
            parsed.ip_address_version
        )));
    }
    let set =
        IpSet::from_entries(version, parsed.entries).map_err(|error| corrupt(error.to_string()))?;
    Ok((Some(Fingerprint::of(&metadata)), set))
}

/// Writes the whole set to a temporary file beside `path` and renames it over `path`. Only a
/// lock holder calls this, so one temporary name per set is enough.
fn write_set_file(path: &Path, name: &str, set: &IpSet) -> Result<(), BackendError> {
    let mut json = serde_json::to_vec_pretty(&SetFileRef {
        name,
        ip_address_version: set.version(),
        entries: set.entries(),
    })
    .expect("an IP set always serializes");
    json.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(&json)?;
        // On disk before the rename, so a crash cannot leave an empty file under the real name.
        file.sync_all()
    });
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(io_error("write", &temporary)(error));
    }
    fs::rename(&temporary, path).map_err(io_error("replace", path))
}

/// What tells one version of a set file from the next without reading it. Every write is a new
/// file renamed into place, so the inode (Unix) changes too, which catches two writes within the
/// file system's timestamp granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl Fingerprint {
    fn of(metadata: &Metadata) -> Fingerprint {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Fingerprint {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            #[cfg(unix)]
            inode: (metadata.dev(), metadata.ino()),
            #[cfg(unix)]
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }

    /// The fingerprint of the file at `path` now; `None` when there is no file.
    fn current(path: &Path) -> Result<Option<Fingerprint>, BackendError> {
        match fs::metadata(path) {
            Ok(metadata) => Ok(Some(Fingerprint::of(&metadata))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("check", path)(error)),
        }
    }
}

/// The allow-list as the local gateway reads it on every request: both sets in memory, each
/// re-read only when its file has changed. Share it between threads (it is `Sync`), e.g. in an
/// `Arc`.
#[derive(Debug)]
pub struct LocalAllowList {
    v4: WatchedSet,
    v6: WatchedSet,
}

#[derive(Debug)]
struct WatchedSet {
    path: PathBuf,
    version: IpVersion,
    cached: RwLock<CachedSet>,
}

#[derive(Debug)]
struct CachedSet {
    /// `None`: there was no file, so the set is empty.
    fingerprint: Option<Fingerprint>,
    set: IpSet,
}

impl LocalAllowList {
    /// Reads both set files under `state_dir` (the same directory the [`LocalBackend`] writing
    /// them was given). Missing files are empty sets, which allow nobody; a corrupt file is an
    /// error that names it.
    pub fn load(
        state_dir: impl AsRef<Path>,
        names: &IpSetNames,
    ) -> Result<LocalAllowList, BackendError> {
        let watch = |version| -> Result<WatchedSet, BackendError> {
            let path = set_path(state_dir.as_ref(), names.get(version));
            let (fingerprint, set) = read_set_file(&path, version)?;
            Ok(WatchedSet {
                path,
                version,
                cached: RwLock::new(CachedSet { fingerprint, set }),
            })
        };
        Ok(LocalAllowList {
            v4: watch(IpVersion::V4)?,
            v6: watch(IpVersion::V6)?,
        })
    }

    /// Whether the peer `ip` may pass at `now`: an unexpired entry of the set of its version
    /// contains it (an IPv4-mapped IPv6 peer is looked up as IPv4). Costs one `stat` of that
    /// set's file, plus a re-read when the file has changed.
    ///
    /// On `Err` (the file became unreadable or corrupt) the caller should block the request, as
    /// a WAF that cannot read its rules must not let everyone through, and log the error: it
    /// names the file and the fix. The next call tries the file again.
    pub fn allows(&self, ip: IpAddr, now: OffsetDateTime) -> Result<bool, BackendError> {
        self.watched(IpVersion::of(ip))
            .with_current(|set| set.allows(ip, now))
    }

    /// Both sets as they are now (re-read where changed), e.g. to log what the gateway enforces.
    pub fn snapshot(&self) -> Result<AllowList, BackendError> {
        let v4 = self.v4.with_current(IpSet::clone)?;
        let v6 = self.v6.with_current(IpSet::clone)?;
        Ok(AllowList::from_sets(v4, v6).expect("each watched set has its own version"))
    }

    /// The file of the set of `version`.
    pub fn path(&self, version: IpVersion) -> &Path {
        &self.watched(version).path
    }

    fn watched(&self, version: IpVersion) -> &WatchedSet {
        match version {
            IpVersion::V4 => &self.v4,
            IpVersion::V6 => &self.v6,
        }
    }
}

impl WatchedSet {
    fn with_current<T>(&self, look: impl FnOnce(&IpSet) -> T) -> Result<T, BackendError> {
        let current = Fingerprint::current(&self.path)?;
        {
            // A poisoned lock still holds a whole set: it is only ever replaced in one assignment.
            let cached = self.cached.read().unwrap_or_else(PoisonError::into_inner);
            if cached.fingerprint == current {
                return Ok(look(&cached.set));
            }
        }
        let mut cached = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have re-read it while this one waited for the write lock.
        if cached.fingerprint != current {
            let (fingerprint, set) = read_set_file(&self.path, self.version)?;
            *cached = CachedSet { fingerprint, set };
        }
        Ok(look(&cached.set))
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use time::macros::datetime;

    use super::*;
    use crate::backend::Revoked;
    use crate::cidr::Cidr;

    const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
    const HOUR: Duration = Duration::from_secs(3600);

    /// Runs a local backend future: it never waits on anything but the file system, so it is
    /// ready on its first poll.
    fn ready<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("a local backend future waited"),
        }
    }

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn names() -> IpSetNames {
        IpSetNames::for_env("test").unwrap()
    }

    fn backend(dir: &tempfile::TempDir) -> LocalBackend {
        LocalBackend::new(dir.path(), names())
    }

    #[test]
    fn the_gateway_reader_can_be_shared_and_the_backend_boxed() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<LocalAllowList>();
        let dir = tempfile::tempdir().unwrap();
        let boxed: Box<dyn AllowListBackend> = Box::new(backend(&dir));
        assert_eq!(boxed.names().v4(), "catalog-test-allow-v4");
        assert!(boxed.location().ends_with("waf"), "{}", boxed.location());
    }

    #[test]
    fn the_allow_list_survives_a_new_instance() {
        let dir = tempfile::tempdir().unwrap();
        ready(backend(&dir).allow(
            &[cidr("127.0.0.2"), cidr("::1")],
            Some(HOUR),
            Some("me"),
            NOW,
        ))
        .unwrap();
        let list = ready(backend(&dir).list()).unwrap();
        let cidrs: Vec<String> = list.entries().map(|e| e.cidr.to_string()).collect();
        assert_eq!(cidrs, ["127.0.0.2/32", "::1/128"]);
        assert_eq!(list.v4().entries()[0].note.as_deref(), Some("me"));
        assert_eq!(
            list.v4().entries()[0].expires_at,
            Some(datetime!(2026-11-28 03:00 UTC))
        );
    }

    #[test]
    fn each_version_has_its_own_named_file() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        ready(backend.allow(
            &[cidr("10.0.0.0/8"), cidr("2001:db8::/32")],
            None,
            None,
            NOW,
        ))
        .unwrap();
        let v4 = dir.path().join("waf/catalog-test-allow-v4.json");
        let v6 = dir.path().join("waf/catalog-test-allow-v6.json");
        assert_eq!(backend.set_path(IpVersion::V4), v4);
        let v4: serde_json::Value = serde_json::from_slice(&fs::read(v4).unwrap()).unwrap();
        let v6: serde_json::Value = serde_json::from_slice(&fs::read(v6).unwrap()).unwrap();
        assert_eq!(v4["name"], "catalog-test-allow-v4");
        assert_eq!(v4["ip_address_version"], "IPV4");
        assert_eq!(v4["entries"][0]["cidr"], "10.0.0.0/8");
        assert_eq!(v4["entries"][0]["expires_at"], serde_json::Value::Null);
        assert_eq!(v6["ip_address_version"], "IPV6");
        assert_eq!(v6["entries"][0]["cidr"], "2001:db8::/32");
        assert_eq!(v6["entries"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn re_allowing_refreshes_the_stored_entry() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        ready(backend.allow(&[cidr("127.0.0.2")], Some(HOUR), None, NOW)).unwrap();
        let later = NOW + time::Duration::minutes(30);
        let allowed = ready(backend.allow(&[cidr("127.0.0.2")], Some(HOUR), None, later)).unwrap();
        assert!(allowed[0].is_refresh());
        let set = backend.read_set_blocking(IpVersion::V4).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(
            set.entries()[0].expires_at,
            Some(later + time::Duration::HOUR)
        );
    }

    #[test]
    fn results_follow_the_order_given() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        let given = [cidr("::1"), cidr("127.0.0.1")];
        let allowed = ready(backend.allow(&given, None, None, NOW)).unwrap();
        assert_eq!(allowed[0].entry.cidr, given[0]);
        assert_eq!(allowed[1].entry.cidr, given[1]);

        let revoked = ready(backend.revoke(&[cidr("::2"), cidr("127.0.0.1")])).unwrap();
        assert_eq!(revoked[0], Revoked::NotFound(cidr("::2")));
        assert!(matches!(&revoked[1], Revoked::Removed(entry) if entry.cidr == given[1]));
    }

    #[test]
    fn expired_entries_stop_allowing_and_flush_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        ready(backend.allow(&[cidr("127.0.0.2")], Some(HOUR), None, NOW)).unwrap();
        ready(backend.allow(&[cidr("127.0.0.3")], None, None, NOW)).unwrap();
        let gateway = LocalAllowList::load(dir.path(), &names()).unwrap();
        let later = NOW + time::Duration::hours(2);
        assert!(gateway.allows(ip("127.0.0.2"), NOW).unwrap());
        assert!(
            !gateway.allows(ip("127.0.0.2"), later).unwrap(),
            "expired, not yet flushed"
        );
        assert!(gateway.allows(ip("127.0.0.3"), later).unwrap());

        assert!(ready(backend.flush_expired(NOW)).unwrap().is_empty());
        let flushed = ready(backend.flush_expired(later)).unwrap();
        assert_eq!(flushed.len(), 1);
        assert_eq!(flushed[0].cidr, cidr("127.0.0.2"));
        let left = ready(backend.list()).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(gateway.snapshot().unwrap(), left);
    }

    #[test]
    fn the_gateway_reader_sees_every_change_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        let gateway = LocalAllowList::load(dir.path(), &names()).unwrap();
        assert!(
            !gateway.allows(ip("127.0.0.2"), NOW).unwrap(),
            "no files: nobody passes"
        );
        // No sleeps: two writes within one timestamp tick must still be told apart.
        for round in 0..20 {
            ready(backend.allow(&[cidr("127.0.0.2")], None, None, NOW)).unwrap();
            assert!(
                gateway.allows(ip("127.0.0.2"), NOW).unwrap(),
                "round {round}"
            );
            assert!(
                gateway.allows(ip("::ffff:127.0.0.2"), NOW).unwrap(),
                "round {round}"
            );
            ready(backend.revoke(&[cidr("127.0.0.2")])).unwrap();
            assert!(
                !gateway.allows(ip("127.0.0.2"), NOW).unwrap(),
                "round {round}"
            );
        }
        ready(backend.allow(&[cidr("::1")], None, None, NOW)).unwrap();
        assert!(gateway.allows(ip("::1"), NOW).unwrap());
        assert!(!gateway.allows(ip("127.0.0.1"), NOW).unwrap());
    }

    #[test]
    fn concurrent_writers_lose_no_entries() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0..2u8)
            .map(|writer| {
                // Each thread has its own backend, as two processes would.
                let backend = backend(&dir);
                thread::spawn(move || {
                    for n in 0..40u8 {
                        let cidr = Cidr::host(IpAddr::from([10, writer, n, 1]));
                        ready(backend.allow(&[cidr], Some(HOUR), None, NOW)).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        assert_eq!(ready(backend(&dir).list()).unwrap().len(), 80);
    }

    #[test]
    fn readers_never_see_a_torn_file() {
        let dir = tempfile::tempdir().unwrap();
        let writer = {
            let backend = backend(&dir);
            thread::spawn(move || {
                for n in 0..60u8 {
                    let cidr = Cidr::host(IpAddr::from([10, 0, n, 1]));
                    ready(backend.allow(&[cidr], None, Some(&"x".repeat(200)), NOW)).unwrap();
                }
            })
        };
        let gateway = Arc::new(LocalAllowList::load(dir.path(), &names()).unwrap());
        let reader = backend(&dir);
        while !writer.is_finished() {
            gateway.allows(ip("10.0.0.1"), NOW).unwrap();
            reader.read_set_blocking(IpVersion::V4).unwrap();
        }
        writer.join().unwrap();
        assert!(gateway.allows(ip("10.0.59.1"), NOW).unwrap());
    }

    #[test]
    fn a_corrupt_file_names_itself_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        let path = backend.set_path(IpVersion::V4);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "{\"entries\": [").unwrap();

        let message = ready(backend.list()).unwrap_err().to_string();
        assert!(message.starts_with(&format!("{} is not a valid IP set file (", path.display())));
        assert!(message.contains("line 1"), "{message}");
        assert!(
            message.ends_with(
                "delete it, then allow the addresses again (`cargo xtask ip allow <CIDR>`)"
            ),
            "{message}"
        );
        let error = ready(backend.allow(&[cidr("1.1.1.1")], None, None, NOW)).unwrap_err();
        assert!(
            matches!(error, BackendError::Corrupt { .. }),
            "writes refuse too: {error}"
        );
        let error = LocalAllowList::load(dir.path(), &names()).unwrap_err();
        assert!(error.to_string().contains("is not a valid IP set file"));

        // Following the advice works.
        fs::remove_file(&path).unwrap();
        ready(backend.allow(&[cidr("1.1.1.1")], None, None, NOW)).unwrap();
    }

    #[test]
    fn a_file_with_wrong_content_is_corrupt_too() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        ready(backend.allow(&[cidr("::1")], None, None, NOW)).unwrap();
        // The IPv6 file copied over the IPv4 one.
        fs::copy(
            backend.set_path(IpVersion::V6),
            backend.set_path(IpVersion::V4),
        )
        .unwrap();
        let message = backend
            .read_set_blocking(IpVersion::V4)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("(it holds an IPv6 set where the IPv4 set belongs)"),
            "{message}"
        );

        let entry =
            r#"{"cidr": "10.0.0.1/8", "added_at": "2026-11-28T02:00:00Z", "expires_at": null}"#;
        let file =
            format!(r#"{{"name": "x", "ip_address_version": "IPV4", "entries": [{entry}]}}"#);
        fs::write(backend.set_path(IpVersion::V4), file).unwrap();
        let message = backend
            .read_set_blocking(IpVersion::V4)
            .unwrap_err()
            .to_string();
        assert!(message.contains("has host bits set"), "{message}");
    }

    #[test]
    fn the_gateway_blocks_when_a_file_turns_corrupt_and_recovers_after() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        ready(backend.allow(&[cidr("127.0.0.2")], None, None, NOW)).unwrap();
        let gateway = LocalAllowList::load(dir.path(), &names()).unwrap();
        fs::write(backend.set_path(IpVersion::V4), "not json").unwrap();
        assert!(gateway.allows(ip("127.0.0.2"), NOW).is_err());
        assert!(
            gateway.allows(ip("::1"), NOW).is_ok(),
            "the other set is unaffected"
        );
        fs::remove_file(backend.set_path(IpVersion::V4)).unwrap();
        assert!(!gateway.allows(ip("127.0.0.2"), NOW).unwrap());
    }

    #[test]
    fn a_held_lock_times_out_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir).with_lock_timeout(Duration::from_millis(50));
        fs::create_dir_all(backend.dir()).unwrap();
        let held = File::create(backend.lock_path(IpVersion::V4)).unwrap();
        held.lock().unwrap();
        let error = ready(backend.allow(&[cidr("1.1.1.1")], None, None, NOW)).unwrap_err();
        assert!(matches!(error, BackendError::LockTimeout { .. }), "{error}");
        assert!(
            error
                .to_string()
                .contains("held by another process changing the allow-list")
        );
        // The other set has its own lock.
        ready(backend.allow(&[cidr("::1")], None, None, NOW)).unwrap();
        drop(held);
        ready(backend.allow(&[cidr("1.1.1.1")], None, None, NOW)).unwrap();
    }

    #[test]
    fn nothing_is_written_when_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        let revoked = ready(backend.revoke(&[cidr("1.1.1.1")])).unwrap();
        assert_eq!(revoked, [Revoked::NotFound(cidr("1.1.1.1"))]);
        assert!(ready(backend.flush_expired(NOW)).unwrap().is_empty());
        assert!(!backend.set_path(IpVersion::V4).exists());
        assert!(!backend.set_path(IpVersion::V6).exists());
    }

    #[test]
    fn a_refused_change_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let backend = backend(&dir);
        let error = ready(backend.allow(&[cidr("1.1.1.1"), cidr("::1")], None, Some("a\nb"), NOW))
            .unwrap_err();
        assert!(matches!(error, BackendError::AllowList(_)), "{error}");
        assert!(ready(backend.list()).unwrap().is_empty());
    }
}
