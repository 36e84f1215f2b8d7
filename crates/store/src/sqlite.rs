//! The embedded SQLite store: one file that several processes (execution environments) share.
//!
//! WAL lets readers and a writer work at once; the busy timeout makes writers queue instead of
//! failing; the primary key (collection, name) makes the database, not the caller, reject a second
//! item of the same name, so concurrent creates give exactly one success.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use catalog::{
    Collection, CursorCodec, Item, ItemId, ListQuery, NewItem, Page, Repository, RepositoryError,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long a writer waits for another process's transaction; past it, the failure is retryable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Cursors hold the last name of the previous page; the listing resumes after it.
const CURSORS: CursorCodec = CursorCodec::new("sqlite");

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    collection  TEXT NOT NULL,
    name        TEXT NOT NULL,
    id          TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT,
    PRIMARY KEY (collection, name)
) WITHOUT ROWID;
";

/// A SQLite-backed repository. The connection opens on first use and reopens after a failure, so
/// a missing or locked file shows as failed requests that heal once it is fixed, not as a process
/// that cannot start.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    connection: Arc<Mutex<Option<Connection>>>,
}

/// What a store operation can fail with, before it is mapped to the domain's error.
enum Failure {
    Domain(RepositoryError),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Failure::Sqlite(error)
    }
}

impl SqliteStore {
    pub fn new(path: PathBuf) -> SqliteStore {
        SqliteStore {
            path,
            connection: Arc::new(Mutex::new(None)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open(path: &Path) -> rusqlite::Result<Connection> {
        let connection = Connection::open(path)?;
        connection.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode; concurrent writers will wait longer");
        }
        // With WAL, NORMAL loses no committed transaction when a process dies, only on power loss.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.execute_batch(SCHEMA)?;
        Ok(connection)
    }

    /// Runs `work` on the connection in the blocking pool, opening it first if needed.
    async fn run<T, F>(&self, work: F) -> Result<T, RepositoryError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Failure> + Send + 'static,
    {
        let path = self.path.clone();
        let slot = Arc::clone(&self.connection);
        let outcome = tokio::task::spawn_blocking(move || {
            let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let connection = match slot.as_mut() {
                Some(connection) => connection,
                None => slot.insert(Self::open(&path).map_err(|e| failure_kind(&path, &e))?),
            };
            // SQLite quietly opens a file it may not write read-only, and such a connection stays
            // read-only after the file is fixed: it serves this request (reads work) but is not
            // kept, so the first write after the fix succeeds.
            let read_only = connection.is_readonly(rusqlite::MAIN_DB).unwrap_or(true);
            let outcome = match work(connection) {
                Ok(value) => Ok(value),
                Err(Failure::Domain(error)) => Err(error),
                Err(Failure::Sqlite(error)) => {
                    // Start afresh next time: the file may have been fixed or unlocked by then.
                    *slot = None;
                    Err(failure_kind(&path, &error))
                }
            };
            if read_only {
                *slot = None;
            }
            outcome
        })
        .await;
        outcome.unwrap_or_else(|join| {
            Err(RepositoryError::Retryable(format!(
                "store task failed: {join}"
            )))
        })
    }
}

/// Sorts a SQLite failure by what helps: waiting (a lock, a read-only file, a passing I/O error)
/// or someone fixing the set-up (a missing directory, a file that is not a database). What nobody
/// can place is taken as passing, as it was before failures were sorted.
fn failure_kind(path: &Path, error: &rusqlite::Error) -> RepositoryError {
    let file = path.display();
    let misconfigured = |problem: &str| RepositoryError::Misconfigured {
        what: format!("SQLite file {file}: {problem} ({error})"),
    };
    match error.sqlite_error_code() {
        Some(ErrorCode::CannotOpen) => misconfigured(
            "cannot be opened; check that its directory exists and that this process may write there, or set STORE_URL",
        ),
        // Read-only is often passing (a backup, a remount, a mode being fixed) and reads still
        // work: the client is asked to retry (503), while the log says what to fix.
        Some(ErrorCode::ReadOnly) => RepositoryError::Retryable(format!(
            "SQLite file {file} is read-only for this process, so writes fail until it may write it: give this process write permission on it, on its -wal and -shm files (SQLite makes them with the database's mode) and on its directory, or set STORE_URL ({error})"
        )),
        Some(ErrorCode::PermissionDenied) => misconfigured(
            "this process may not write it; give it write permission on the file and its directory, or set STORE_URL",
        ),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            misconfigured("is not a usable SQLite database; point STORE_URL at another file")
        }
        Some(ErrorCode::DiskFull) => misconfigured("the disk that holds it is full"),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            RepositoryError::Retryable(format!(
                "SQLite file {file}: another process held a write lock for over {} s ({error})",
                BUSY_TIMEOUT.as_secs()
            ))
        }
        _ => RepositoryError::Retryable(format!("SQLite file {file}: {error}")),
    }
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation)
}

fn item_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    let id: String = row.get("id")?;
    let created_at: String = row.get("created_at")?;
    let bad_column = |index: usize, error: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, error)
    };
    Ok(Item {
        id: ItemId(id.parse().map_err(|e| bad_column(2, Box::new(e)))?),
        name: row.get("name")?,
        description: row.get("description")?,
        created_at: OffsetDateTime::parse(&created_at, &Rfc3339)
            .map_err(|e| bad_column(4, Box::new(e)))?,
        created_by: row.get("created_by")?,
    })
}

#[async_trait]
impl Repository for SqliteStore {
    async fn create(&self, collection: Collection, item: NewItem) -> Result<Item, RepositoryError> {
        self.run(move |connection| {
            let item = item.into_item();
            let created_at = item
                .created_at
                .format(&Rfc3339)
                .expect("a UTC time always formats as RFC 3339");
            let inserted = connection.execute(
                "INSERT INTO items (collection, name, id, description, created_at, created_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    collection.name(),
                    item.name,
                    item.id.to_string(),
                    item.description,
                    created_at,
                    item.created_by
                ],
            );
            match inserted {
                Ok(_) => Ok(item),
                Err(error) if is_unique_violation(&error) => {
                    Err(Failure::Domain(RepositoryError::Duplicate {
                        collection,
                        name: item.name,
                    }))
                }
                Err(error) => Err(error.into()),
            }
        })
        .await
    }

    async fn get(&self, collection: Collection, name: &str) -> Result<Item, RepositoryError> {
        let name = name.to_owned();
        self.run(move |connection| {
            let found = connection
                .query_row(
                    "SELECT * FROM items WHERE collection = ?1 AND name = ?2",
                    params![collection.name(), name],
                    item_from_row,
                )
                .optional()?;
            found.ok_or(Failure::Domain(RepositoryError::NotFound {
                collection,
                name,
            }))
        })
        .await
    }

    async fn delete(&self, collection: Collection, name: &str) -> Result<(), RepositoryError> {
        let name = name.to_owned();
        self.run(move |connection| {
            let deleted = connection.execute(
                "DELETE FROM items WHERE collection = ?1 AND name = ?2",
                params![collection.name(), name],
            )?;
            if deleted == 0 {
                return Err(Failure::Domain(RepositoryError::NotFound {
                    collection,
                    name,
                }));
            }
            Ok(())
        })
        .await
    }

    async fn list(
        &self,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<Page, RepositoryError> {
        let after = CURSORS.resumes_after(collection, query)?;
        let query = query.clone();
        self.run(move |connection| {
            // SQLite's lower() folds ASCII only, matching the memory store's filter.
            let mut statement = connection.prepare_cached(
                "SELECT * FROM items
                 WHERE collection = ?1
                   AND (?2 IS NULL OR name > ?2)
                   AND (?3 IS NULL OR instr(lower(name), lower(?3)) > 0)
                 ORDER BY name
                 LIMIT ?4",
            )?;
            let limit = i64::try_from(query.limit + 1).unwrap_or(i64::MAX);
            let items = statement
                .query_map(
                    params![collection.name(), after, query.name_contains, limit],
                    item_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page::from_overfetched(items, query.limit, |last| {
                CURSORS.encode(collection, &query, &last.name)
            }))
        })
        .await
    }

    async fn check(&self) -> Result<(), RepositoryError> {
        self.run(|connection| Ok(connection.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(name: &str) -> NewItem {
        NewItem::parse(name, Some("d"), None).unwrap()
    }

    #[tokio::test]
    async fn items_survive_a_new_store_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let first = SqliteStore::new(path.clone());
        let created = first
            .create(Collection::Projects, new_item("alpha"))
            .await
            .unwrap();
        drop(first);
        let second = SqliteStore::new(path);
        assert_eq!(
            second.get(Collection::Projects, "alpha").await.unwrap(),
            created
        );
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_misconfiguration_naming_the_file_and_heals_once_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = dir.path().join("not-yet");
        let store = SqliteStore::new(missing_dir.join("catalog.db"));
        let RepositoryError::Misconfigured { what } = store.check().await.unwrap_err() else {
            panic!("a missing directory is the set-up's fault")
        };
        assert!(what.contains("not-yet/catalog.db"), "{what}");
        assert!(what.contains("directory exists"), "{what}");
        std::fs::create_dir(&missing_dir).unwrap();
        store.check().await.unwrap();
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_a_misconfiguration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(
            &path,
            "not a database, but long enough to have a header".repeat(10),
        )
        .unwrap();
        let error = SqliteStore::new(path).check().await.unwrap_err();
        assert!(
            matches!(&error, RepositoryError::Misconfigured { what } if what.contains("STORE_URL")),
            "{error}"
        );
    }

    #[test]
    fn locks_and_unplaced_failures_are_retryable_and_say_so() {
        let path = Path::new("/data/catalog.db");
        let sqlite = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        for code in [rusqlite::ffi::SQLITE_BUSY, rusqlite::ffi::SQLITE_LOCKED] {
            let kind = failure_kind(path, &sqlite(code));
            assert!(
                matches!(&kind, RepositoryError::Retryable(reason) if reason.contains("write lock")),
                "{kind}"
            );
        }
        let io = failure_kind(path, &sqlite(rusqlite::ffi::SQLITE_IOERR));
        assert!(matches!(io, RepositoryError::Retryable(_)), "{io}");
        for code in [
            rusqlite::ffi::SQLITE_READONLY,
            rusqlite::ffi::SQLITE_READONLY_DIRECTORY,
        ] {
            let kind = failure_kind(path, &sqlite(code));
            assert!(
                matches!(&kind, RepositoryError::Retryable(reason)
                    if reason.contains("/data/catalog.db") && reason.contains("write permission on it")),
                "{code}: {kind}"
            );
        }
        for code in [
            rusqlite::ffi::SQLITE_CANTOPEN,
            rusqlite::ffi::SQLITE_PERM,
            rusqlite::ffi::SQLITE_NOTADB,
            rusqlite::ffi::SQLITE_FULL,
        ] {
            let kind = failure_kind(path, &sqlite(code));
            assert!(
                matches!(&kind, RepositoryError::Misconfigured { what } if what.contains("/data/catalog.db")),
                "{code}: {kind}"
            );
        }
    }

    /// A file this process may not write: writes are retryable failures that say what to fix,
    /// reads go on, and the first write after the fix succeeds (no read-only connection is kept).
    #[test]
    fn a_read_only_file_fails_writes_retryably_and_heals_at_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        let fixed_path = path.clone();
        // In a thread of its own: that is how far giving up the capability reaches.
        std::thread::spawn(move || {
            let path = fixed_path;
            store_contract::without_root_file_override();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                // The file is made (and left) by an earlier process.
                let first = SqliteStore::new(path.clone());
                first
                    .create(Collection::Projects, new_item("alpha"))
                    .await
                    .unwrap();
                drop(first);
                set_mode(&path, 0o444);

                let store = SqliteStore::new(path.clone());
                let error = store
                    .create(Collection::Projects, new_item("beta"))
                    .await
                    .unwrap_err();
                assert!(
                    matches!(&error, RepositoryError::Retryable(reason)
                        if reason.contains("read-only") && reason.contains("-wal and -shm")),
                    "{error}"
                );
                let names = |page: Page| page.items.into_iter().map(|i| i.name).collect::<Vec<_>>();
                let listed = store
                    .list(Collection::Projects, &ListQuery::default())
                    .await
                    .unwrap();
                assert_eq!(names(listed), ["alpha"], "reads go on");

                // The fix an operator makes: the database and the WAL files SQLite made meanwhile
                // (with the database's mode, so read-only too).
                for file in std::fs::read_dir(path.parent().unwrap()).unwrap() {
                    set_mode(&file.unwrap().path(), 0o644);
                }
                store
                    .create(Collection::Projects, new_item("beta"))
                    .await
                    .expect("the first write after the fix succeeds");
            });
        })
        .join()
        .unwrap();
    }

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[tokio::test]
    async fn wal_mode_is_on() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(dir.path().join("catalog.db"));
        store.check().await.unwrap();
        let mode: String = store
            .run(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    /// Each new store is a file of its own, opened by `STORE_URL` as the functions open it; each
    /// handle on one store has its own connection, as separate processes have.
    struct FreshSqliteFiles {
        dir: tempfile::TempDir,
        opened: std::sync::atomic::AtomicUsize,
    }

    impl FreshSqliteFiles {
        fn new() -> FreshSqliteFiles {
            FreshSqliteFiles {
                dir: tempfile::tempdir().unwrap(),
                opened: Default::default(),
            }
        }
    }

    #[async_trait]
    impl store_contract::FreshStores for FreshSqliteFiles {
        async fn open(&self, handles: usize) -> Vec<Arc<dyn Repository>> {
            let number = self
                .opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = self.dir.path().join(format!("contract-{number}.db"));
            let url: crate::StoreUrl = format!("sqlite://{}", path.display()).parse().unwrap();
            let mut opened = Vec::new();
            for _ in 0..handles {
                opened.push(url.open().await.unwrap());
            }
            opened
        }
    }

    store_contract::contract_tests!(FreshSqliteFiles::new());
}
