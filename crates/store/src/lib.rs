//! Repository adapters for the catalog, and the choice between them from `STORE_URL`.
//!
//! - `memory:` keeps items in the process: for tests, lost on restart.
//! - `sqlite:///absolute/path.db` keeps them in a SQLite file that several processes may share.
//! - `dynamodb://TABLE` keeps them in a DynamoDB table (feature `dynamodb`, which the Lambda
//!   functions turn on), reached as Lambda's environment says: credentials, `AWS_REGION`,
//!   `AWS_ENDPOINT_URL`.
//! - unset: a SQLite file in the process's writable temporary directory (`/tmp` in Lambda).

mod memory;
mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use catalog::Repository;

pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

/// The environment variable that picks the store.
pub const STORE_URL_VAR: &str = "STORE_URL";

/// Where items are kept, as parsed from `STORE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Memory,
    Sqlite(PathBuf),
    DynamoDb { table: String },
}

#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    #[error(
        "STORE_URL={0:?} is not understood: use `memory:`, `sqlite:///absolute/path.db` (three slashes) or `dynamodb://TABLE`"
    )]
    Unknown(String),
    #[error(
        "STORE_URL={url:?} names no usable DynamoDB table: {table:?} must be 3 to 255 letters, digits, '_', '-' or '.', as in `dynamodb://catalog-dev`"
    )]
    BadTable { url: String, table: String },
    #[error(
        "STORE_URL={0:?} names a relative SQLite path: give an absolute one, as in `sqlite:///tmp/catalog.db`"
    )]
    RelativePath(String),
}

impl std::str::FromStr for StoreUrl {
    type Err = StoreUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        if url == "memory:" {
            return Ok(StoreUrl::Memory);
        }
        if let Some(table) = url.strip_prefix("dynamodb://") {
            // DynamoDB's own rule for table names, checked here so that every build refuses the
            // same URLs, with or without the DynamoDB store in it.
            let usable = (3..=255).contains(&table.len())
                && table
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !usable {
                return Err(StoreUrlError::BadTable {
                    url: url.to_owned(),
                    table: table.to_owned(),
                });
            }
            return Ok(StoreUrl::DynamoDb {
                table: table.to_owned(),
            });
        }
        let Some(path) = url.strip_prefix("sqlite://") else {
            return Err(StoreUrlError::Unknown(url.to_owned()));
        };
        if !path.starts_with('/') {
            return Err(StoreUrlError::RelativePath(url.to_owned()));
        }
        if path.len() == 1 || path.ends_with('/') {
            return Err(StoreUrlError::Unknown(url.to_owned()));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(path)))
    }
}

impl StoreUrl {
    /// The store used when `STORE_URL` is unset: a SQLite file in the writable temporary directory.
    pub fn default_sqlite() -> StoreUrl {
        StoreUrl::Sqlite(std::env::temp_dir().join("catalog.db"))
    }

    /// Reads `STORE_URL`, falling back to [`StoreUrl::default_sqlite`].
    pub fn from_env() -> Result<StoreUrl, StoreUrlError> {
        match std::env::var(STORE_URL_VAR) {
            Ok(url) if !url.is_empty() => url.parse(),
            _ => {
                let url = StoreUrl::default_sqlite();
                if let StoreUrl::Sqlite(path) = &url {
                    tracing::info!(
                        path = %path.display(),
                        "STORE_URL is unset: keeping items in a SQLite file at {}; set STORE_URL=sqlite:///path.db to choose",
                        path.display()
                    );
                }
                Ok(url)
            }
        }
    }

    /// Opens the store, once per process, at start-up. Async, and fallible, for the stores that
    /// build a client first (an SDK client reads its configuration); memory and SQLite do no I/O
    /// here: a SQLite file that cannot be opened makes requests fail (and heals once fixed),
    /// rather than the process fail to start.
    /// DynamoDB builds its client here from the environment (no request is sent), and fails when
    /// the credentials or region are missing.
    pub async fn open(&self) -> Result<Arc<dyn Repository>, OpenError> {
        Ok(match self {
            StoreUrl::Memory => Arc::new(MemoryStore::default()),
            StoreUrl::Sqlite(path) => Arc::new(SqliteStore::new(path.clone())),
            #[cfg(feature = "dynamodb")]
            StoreUrl::DynamoDb { table } => {
                Arc::new(store_dynamodb::DynamoDbStore::from_env(table)?)
            }
            #[cfg(not(feature = "dynamodb"))]
            StoreUrl::DynamoDb { .. } => return Err(OpenError::NotBuiltIn("dynamodb")),
        })
    }
}

/// Why no store could be opened: start-up stops with this message, which says what to change.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Url(#[from] StoreUrlError),
    #[cfg(feature = "dynamodb")]
    #[error("the DynamoDB store cannot reach AWS: {0}")]
    DynamoDb(#[from] store_dynamodb::OpenError),
    /// The URL names a store this binary was built without (the Lambda functions carry every
    /// store; `catalog-serve` and the tests only those their features ask for).
    #[error(
        "STORE_URL names a {0} store, which this program was built without: build it with the store crate's `{0}` feature"
    )]
    #[cfg_attr(feature = "dynamodb", allow(dead_code))]
    NotBuiltIn(&'static str),
}

/// Opens the store `STORE_URL` names.
pub async fn open_from_env() -> Result<Arc<dyn Repository>, OpenError> {
    StoreUrl::from_env()?.open().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_urls() {
        assert_eq!("memory:".parse::<StoreUrl>().unwrap(), StoreUrl::Memory);
        assert_eq!(
            "sqlite:///var/data/catalog.db".parse::<StoreUrl>().unwrap(),
            StoreUrl::Sqlite("/var/data/catalog.db".into())
        );
    }

    #[test]
    fn dynamodb_urls_name_a_table_by_dynamodbs_rules() {
        assert_eq!(
            "dynamodb://catalog-dev".parse::<StoreUrl>().unwrap(),
            StoreUrl::DynamoDb {
                table: "catalog-dev".into()
            }
        );
        for bad in [
            "dynamodb://",
            "dynamodb://ab",
            "dynamodb://a/b",
            "dynamodb://x y z",
        ] {
            let err = bad.parse::<StoreUrl>().unwrap_err();
            assert!(
                err.to_string().contains("dynamodb://catalog-dev"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn rejects_unclear_urls_with_a_hint() {
        let relative = "sqlite://catalog.db".parse::<StoreUrl>().unwrap_err();
        assert!(relative.to_string().contains("absolute"), "{relative}");
        for bad in ["postgres://x", "sqlite:///", "sqlite:///tmp/", "memory", ""] {
            let err = bad.parse::<StoreUrl>().unwrap_err();
            assert!(err.to_string().contains("memory:"), "{bad}: {err}");
        }
    }

    #[tokio::test]
    async fn opening_touches_nothing_until_the_first_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.db");
        let url: StoreUrl = format!("sqlite://{}", path.display()).parse().unwrap();
        let store = url.open().await.unwrap();
        assert_eq!(store.describe(), format!("sqlite:{}", path.display()));
        assert!(!path.exists(), "opened at start-up");
        store.check().await.unwrap();
        assert!(path.exists());
    }

    #[test]
    fn default_is_a_sqlite_file_in_the_temp_dir() {
        let StoreUrl::Sqlite(path) = StoreUrl::default_sqlite() else {
            panic!()
        };
        assert!(path.starts_with(std::env::temp_dir()));
    }
}
