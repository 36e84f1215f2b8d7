//! The storage contract every store adapter (memory, SQLite, later DynamoDB) fulfils.

use async_trait::async_trait;

use crate::{Collection, Cursor, CursorError, Item, NewItem};

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
    /// Resume where the previous page ended: its [`Page::next`], exactly as the store made it.
    pub after: Option<Cursor>,
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
    /// The cursor to pass as [`ListQuery::after`] for the next page; `None` on the last page.
    pub next: Option<Cursor>,
}

impl Page {
    /// Builds a page from up to `limit + 1` items fetched in name order: the extra one, if present,
    /// only tells that another page exists, which then resumes after the cursor `next` makes of
    /// the last item kept.
    pub fn from_overfetched(
        mut items: Vec<Item>,
        limit: usize,
        next: impl FnOnce(&Item) -> Cursor,
    ) -> Page {
        let more = items.len() > limit;
        items.truncate(limit);
        let next = if more { items.last().map(next) } else { None };
        Page { items, next }
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
    /// The store could not serve this request (throttled, timed out, connection lost, a lock
    /// held too long); the same request may well succeed in a moment.
    #[error("store unavailable for now: {0}")]
    Retryable(String),
    /// The store is set up wrongly (a missing table or file, a permission this process lacks):
    /// every request fails the same way until someone fixes it, so retrying does not help. `what`
    /// is for the operator: it names the resource and what is missing or wrong.
    #[error("store misconfigured: {what}")]
    Misconfigured { what: String },
    /// The listing's cursor is not one this store made for this listing.
    #[error(transparent)]
    BadCursor(#[from] CursorError),
}

/// Storage of catalog items. Names are unique per collection, and the store (not the caller)
/// enforces it, so concurrent creates of one name give exactly one success. Listings page by
/// cursors the store makes and checks ([`crate::CursorCodec`]). The rules are written out as the
/// contract suite every adapter runs (the `store-contract` crate).
#[async_trait]
pub trait Repository: Send + Sync + 'static {
    async fn create(&self, collection: Collection, item: NewItem) -> Result<Item, RepositoryError>;
    async fn get(&self, collection: Collection, name: &str) -> Result<Item, RepositoryError>;
    async fn delete(&self, collection: Collection, name: &str) -> Result<(), RepositoryError>;
    /// One page of `collection` in name order; [`RepositoryError::BadCursor`] when `query.after`
    /// is not a cursor this kind of store made for this listing.
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
