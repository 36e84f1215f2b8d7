//! An in-process store: fast and disposable, for tests and `STORE_URL=memory:`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use catalog::{
    Collection, CursorCodec, Item, ListQuery, NewItem, Page, Repository, RepositoryError,
};

/// Its cursors hold the last name of a page, as SQLite's do; the kind keeps them apart all the
/// same, since nothing promises that two kinds of store will always page alike.
const CURSORS: CursorCodec = CursorCodec::new("memory");

/// Items per collection, keyed by name so listings come out in name order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    collections: Mutex<BTreeMap<Collection, BTreeMap<String, Item>>>,
}

impl MemoryStore {
    fn with<T>(
        &self,
        collection: Collection,
        f: impl FnOnce(&mut BTreeMap<String, Item>) -> T,
    ) -> T {
        // A panic while holding the lock cannot leave a map half-updated (every update is one
        // insert or remove), so a poisoned lock is safe to keep using.
        let mut all = self
            .collections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(all.entry(collection).or_default())
    }
}

#[async_trait]
impl Repository for MemoryStore {
    async fn create(&self, collection: Collection, item: NewItem) -> Result<Item, RepositoryError> {
        self.with(collection, |items| {
            if items.contains_key(item.name()) {
                return Err(RepositoryError::Duplicate {
                    collection,
                    name: item.name().to_owned(),
                });
            }
            let item = item.into_item();
            items.insert(item.name.clone(), item.clone());
            Ok(item)
        })
    }

    async fn get(&self, collection: Collection, name: &str) -> Result<Item, RepositoryError> {
        self.with(collection, |items| items.get(name).cloned())
            .ok_or_else(|| RepositoryError::NotFound {
                collection,
                name: name.to_owned(),
            })
    }

    async fn delete(&self, collection: Collection, name: &str) -> Result<(), RepositoryError> {
        self.with(collection, |items| items.remove(name))
            .map(drop)
            .ok_or_else(|| RepositoryError::NotFound {
                collection,
                name: name.to_owned(),
            })
    }

    async fn list(
        &self,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<Page, RepositoryError> {
        let after = CURSORS.resumes_after(collection, query)?;
        let needle = query.name_contains.as_deref().map(str::to_ascii_lowercase);
        let items = self.with(collection, |items| {
            let after = after.as_deref();
            items
                .values()
                .filter(|item| after.is_none_or(|after| item.name.as_str() > after))
                .filter(|item| {
                    needle
                        .as_deref()
                        .is_none_or(|n| item.name.to_ascii_lowercase().contains(n))
                })
                .take(query.limit + 1)
                .cloned()
                .collect()
        });
        Ok(Page::from_overfetched(items, query.limit, |last| {
            CURSORS.encode(collection, query, &last.name)
        }))
    }

    async fn check(&self) -> Result<(), RepositoryError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use catalog::Repository;
    use store_contract::FreshStores;

    use super::MemoryStore;

    /// The memory store lives in one process: every handle is the same store.
    struct FreshMemoryStores;

    #[async_trait]
    impl FreshStores for FreshMemoryStores {
        async fn open(&self, handles: usize) -> Vec<Arc<dyn Repository>> {
            let store: Arc<dyn Repository> = Arc::new(MemoryStore::default());
            vec![store; handles]
        }
    }

    store_contract::contract_tests!(FreshMemoryStores);
}
