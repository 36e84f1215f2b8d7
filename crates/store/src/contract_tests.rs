//! The Repository contract, run against every adapter so they cannot drift apart.

use std::sync::Arc;

use catalog::{Collection, ListQuery, NewItem, Repository, RepositoryError};

use crate::{MemoryStore, SqliteStore};

fn adapters() -> Vec<(Arc<dyn Repository>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::new(dir.path().join("contract.db"));
    vec![
        (Arc::new(MemoryStore::default()), None),
        (Arc::new(sqlite), Some(dir)),
    ]
}

fn item(name: &str) -> NewItem {
    NewItem::parse(name, Some("about it"), Some("alice".into())).unwrap()
}

#[tokio::test]
async fn create_get_delete_round_trip() {
    for (store, _dir) in adapters() {
        let created = store
            .create(Collection::Projects, item("Atlas"))
            .await
            .unwrap();
        assert_eq!(created.created_by.as_deref(), Some("alice"));
        assert_eq!(
            store.get(Collection::Projects, "Atlas").await.unwrap(),
            created,
            "{}",
            store.describe()
        );
        store.delete(Collection::Projects, "Atlas").await.unwrap();
        assert!(matches!(
            store.get(Collection::Projects, "Atlas").await,
            Err(RepositoryError::NotFound { .. })
        ));
        assert!(matches!(
            store.delete(Collection::Projects, "Atlas").await,
            Err(RepositoryError::NotFound { .. })
        ));
    }
}

#[tokio::test]
async fn names_are_unique_per_collection_only() {
    for (store, _dir) in adapters() {
        store
            .create(Collection::Projects, item("Rust"))
            .await
            .unwrap();
        let again = store
            .create(Collection::Projects, item("Rust"))
            .await
            .unwrap_err();
        assert!(
            matches!(again, RepositoryError::Duplicate { .. }),
            "{}: {again}",
            store.describe()
        );
        store
            .create(Collection::Technologies, item("Rust"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn listing_pages_in_name_order_and_filters_ignoring_case() {
    for (store, _dir) in adapters() {
        for name in ["delta", "Alpha", "charlie", "bravo", "echo-ALPHA"] {
            store
                .create(Collection::Technologies, item(name))
                .await
                .unwrap();
        }
        store
            .create(Collection::Projects, item("other collection"))
            .await
            .unwrap();

        let mut names = Vec::new();
        let mut query = ListQuery {
            limit: 2,
            ..ListQuery::default()
        };
        let mut pages = 0;
        loop {
            let page = store.list(Collection::Technologies, &query).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 2);
            names.extend(page.items.into_iter().map(|i| i.name));
            match page.next_after {
                Some(after) => query.after = Some(after),
                None => break,
            }
        }
        assert_eq!(
            names,
            ["Alpha", "bravo", "charlie", "delta", "echo-ALPHA"],
            "{}",
            store.describe()
        );
        assert_eq!(pages, 3);

        let filtered = ListQuery {
            name_contains: Some("alp".into()),
            ..ListQuery::default()
        };
        let page = store
            .list(Collection::Technologies, &filtered)
            .await
            .unwrap();
        let names: Vec<_> = page.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "echo-ALPHA"]);
        assert_eq!(page.next_after, None);
    }
}

#[tokio::test]
async fn an_exactly_full_page_says_there_is_no_next_page() {
    for (store, _dir) in adapters() {
        for name in ["a", "b"] {
            store
                .create(Collection::Projects, item(name))
                .await
                .unwrap();
        }
        let page = store
            .list(
                Collection::Projects,
                &ListQuery {
                    limit: 2,
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_after, None, "{}", store.describe());
    }
}

#[tokio::test]
async fn filter_text_is_not_a_pattern() {
    for (store, _dir) in adapters() {
        store
            .create(Collection::Projects, item("100% done"))
            .await
            .unwrap();
        store
            .create(Collection::Projects, item("1000 done"))
            .await
            .unwrap();
        let query = ListQuery {
            name_contains: Some("0%".into()),
            ..ListQuery::default()
        };
        let page = store.list(Collection::Projects, &query).await.unwrap();
        assert_eq!(page.items.len(), 1, "{}", store.describe());
    }
}
