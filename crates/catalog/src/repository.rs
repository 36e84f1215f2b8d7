//! The storage contract every store adapter (memory, SQLite, later DynamoDB) fulfils.

use async_trait::async_trait;

use crate::{Collection, Item, NewItem};

/// Page size when the client does not ask for one.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// What to list: items ordered by name, optionally filtered, one page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Only names containing this text, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// Page size, 1..=[`MAX_PAGE_SIZE`].
    pub limit: usize,
    /// Resume after this name (exclusive): the last name of the previous page.
    pub after: Option<String>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            name_contains: None,
            limit: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Name to pass as [`ListQuery::after`] for the next page; `None` on the last page.
    pub next_after: Option<String>,
}

impl Page {
    /// Builds a page from up to `limit + 1` items fetched in name order: the extra one, if present,
    /// only tells that another page exists.
    pub fn from_overfetched(mut items: Vec<Item>, limit: usize) -> Page {
        let more = items.len() > limit;
        items.truncate(limit);
        let next_after = if more {
            items.last().map(|item| item.name.clone())
        } else {
            None
        };
        Page { items, next_after }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("{} {name:?} not found", .collection.singular())]
    NotFound {
        collection: Collection,
        name: String,
    },
    #[error("a {} named {name:?} already exists", .collection.singular())]
    Duplicate {
        collection: Collection,
        name: String,
    },
    /// The store cannot be reached or used right now; retrying later may work.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// Storage of catalog items. Names are unique per collection, and the store (not the caller)
/// enforces it, so concurrent creates of one name give exactly one success.
#[async_trait]
pub trait Repository: Send + Sync + 'static {
    async fn create(&self, collection: Collection, item: NewItem) -> Result<Item, RepositoryError>;
    async fn get(&self, collection: Collection, name: &str) -> Result<Item, RepositoryError>;
    async fn delete(&self, collection: Collection, name: &str) -> Result<(), RepositoryError>;
    async fn list(
        &self,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<Page, RepositoryError>;
    /// Checks that the store can serve requests.
    async fn check(&self) -> Result<(), RepositoryError>;
    /// Which store this is, for logs and the health endpoint ("memory", "sqlite:/path.db").
    fn describe(&self) -> String;
}
