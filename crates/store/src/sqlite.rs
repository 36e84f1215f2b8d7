//! The embedded SQLite store: one file that several processes (execution environments) share.
//!
//! WAL lets readers and a writer work at once; the busy timeout makes writers queue instead of
//! failing; the primary key (collection, name) makes the database, not the caller, reject a second
//! item of the same name, so concurrent creates give exactly one success.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use catalog::{Collection, Item, ItemId, ListQuery, NewItem, Page, Repository, RepositoryError};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long a writer waits for another process's transaction before the store reports unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
/// a missing or locked file shows as 503s that heal, not as a process that cannot start.
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
                None => slot.insert(Self::open(&path).map_err(|e| unavailable(&path, &e))?),
            };
            match work(connection) {
                Ok(value) => Ok(value),
                Err(Failure::Domain(error)) => Err(error),
                Err(Failure::Sqlite(error)) => {
                    // Start afresh next time: the file may have been fixed or unlocked by then.
                    *slot = None;
                    Err(unavailable(&path, &error))
                }
            }
        })
        .await;
        outcome.unwrap_or_else(|join| {
            Err(RepositoryError::Unavailable(format!(
                "store task failed: {join}"
            )))
        })
    }
}

fn unavailable(path: &Path, error: &rusqlite::Error) -> RepositoryError {
    let hint = match error.sqlite_error_code() {
        Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::PermissionDenied) => {
            "; check that the directory exists and is writable, or set STORE_URL"
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            "; another process holds a long write lock, retry later"
        }
        _ => "",
    };
    tracing::error!(path = %path.display(), %error, "SQLite store unavailable");
    RepositoryError::Unavailable(format!("SQLite file {}: {error}{hint}", path.display()))
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
                    params![collection.name(), query.after, query.name_contains, limit],
                    item_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Page::from_overfetched(items, query.limit))
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
    async fn concurrent_creates_of_one_name_through_separate_connections_give_one_success() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.db");
        // Separate stores mean separate connections, as separate processes would have.
        let stores: Vec<_> = (0..8).map(|_| SqliteStore::new(path.clone())).collect();
        let attempts = stores.iter().map(|store| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create(Collection::Technologies, new_item("Rust"))
                    .await
            })
        });
        let mut successes = 0;
        for attempt in attempts {
            match attempt.await.unwrap() {
                Ok(_) => successes += 1,
                Err(RepositoryError::Duplicate { .. }) => {}
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert_eq!(successes, 1);
    }

    #[tokio::test]
    async fn an_unopenable_file_is_unavailable_with_a_hint_and_heals_once_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let missing_dir = dir.path().join("not-yet");
        let store = SqliteStore::new(missing_dir.join("catalog.db"));
        let err = store.check().await.unwrap_err();
        assert!(matches!(err, RepositoryError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("writable"), "{err}");
        std::fs::create_dir(&missing_dir).unwrap();
        store.check().await.unwrap();
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
}
