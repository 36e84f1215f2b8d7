//! The Repository contract: every rule a store adapter keeps, one async function per rule, run by
//! each adapter's tests against fresh stores of its own, so the adapters cannot drift apart.
//!
//! An adapter implements [`FreshStores`] and invokes [`contract_tests!`], which makes one test per
//! rule (the adapter's crate needs `tokio` among its dev-dependencies). A dev-only crate rather
//! than a feature of `catalog`, so no build of the shipped crates changes with the tests.

mod file_modes;
pub use file_modes::without_root_file_override;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use catalog::{
    Collection, Cursor, CursorCodec, Item, ListQuery, NewItem, Repository, RepositoryError,
};
use tokio::task::JoinSet;

/// Makes the stores of one adapter that the rules run against.
#[async_trait]
pub trait FreshStores: Send + Sync {
    /// `handles` handles on one new, empty store, each opened as another process (another Lambda
    /// execution environment) would open it: its own connection or client. A store that lives
    /// inside one process (memory) hands out the same store each time.
    async fn open(&self, handles: usize) -> Vec<Arc<dyn Repository>>;
}

/// One test per rule of the contract, for the [`FreshStores`] that `$fresh` makes. A new rule is
/// a public function here and a line in this list.
#[macro_export]
macro_rules! contract_tests {
    ($fresh:expr) => {
        $crate::contract_tests!(@rules $fresh;
            create_get_delete_round_trip,
            names_are_unique_per_collection_only,
            listing_pages_in_name_order_and_filters_ignoring_ascii_case,
            names_sort_by_their_utf8_bytes,
            an_exactly_full_page_says_there_is_no_next_page,
            an_empty_collection_lists_nothing,
            filter_text_is_not_a_pattern,
            concurrent_creates_of_distinct_names_are_all_listed,
            concurrent_creates_of_one_name_give_exactly_one_success,
            concurrent_deletes_of_one_name_give_exactly_one_success,
            paging_is_stable_while_items_come_and_go,
            a_cursor_made_through_one_handle_works_through_another,
            altered_or_truncated_cursors_are_refused,
            cursors_of_another_collection_or_filter_are_refused,
            cursors_of_another_kind_of_store_are_refused,
        );
    };
    (@rules $fresh:expr; $($rule:ident),* $(,)?) => {$(
        // Several worker threads, so that the concurrency rules race for real.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $rule() {
            $crate::$rule(&$fresh).await;
        }
    )*};
}

/// How many handles the concurrency rules spread their requests over.
const HANDLES: usize = 4;

async fn one(fresh: &dyn FreshStores) -> Arc<dyn Repository> {
    fresh
        .open(1)
        .await
        .pop()
        .expect("FreshStores::open(1) gives one handle")
}

fn item(name: &str) -> NewItem {
    NewItem::parse(name, Some("about it"), Some("alice".into())).expect("a valid test item")
}

async fn create_all(store: &dyn Repository, collection: Collection, names: &[&str]) {
    for name in names {
        store
            .create(collection, item(name))
            .await
            .unwrap_or_else(|e| panic!("{}: creating {name:?}: {e}", store.describe()));
    }
}

fn names(items: &[Item]) -> Vec<String> {
    items.iter().map(|item| item.name.clone()).collect()
}

/// Every page of a listing, as names, following the cursors to the end.
async fn pages(
    store: &dyn Repository,
    collection: Collection,
    first: ListQuery,
) -> Vec<Vec<String>> {
    let mut query = first;
    let mut pages = Vec::new();
    loop {
        let page = store
            .list(collection, &query)
            .await
            .unwrap_or_else(|e| panic!("{}: listing: {e}", store.describe()));
        assert!(
            page.items.len() <= query.limit,
            "{}: page over its limit",
            store.describe()
        );
        pages.push(names(&page.items));
        match page.next {
            Some(next) => query.after = Some(next),
            None => return pages,
        }
        assert!(
            pages.len() <= 1_000,
            "{}: the listing never ends",
            store.describe()
        );
    }
}

fn limited(limit: usize) -> ListQuery {
    ListQuery {
        limit,
        ..ListQuery::default()
    }
}

fn filtered(filter: &str) -> ListQuery {
    ListQuery {
        name_contains: Some(filter.into()),
        ..ListQuery::default()
    }
}

/// The cursor of the first page of `query`, which must have a next page.
async fn first_cursor(store: &dyn Repository, collection: Collection, query: &ListQuery) -> Cursor {
    store
        .list(collection, query)
        .await
        .unwrap_or_else(|e| panic!("{}: listing: {e}", store.describe()))
        .next
        .unwrap_or_else(|| panic!("{}: expected a next page", store.describe()))
}

/// Asserts that listing by `query` resumed at `cursor` is refused as a bad cursor.
async fn assert_refused(
    store: &dyn Repository,
    collection: Collection,
    query: &ListQuery,
    cursor: Cursor,
    what: &str,
) {
    let query = ListQuery {
        after: Some(cursor),
        ..query.clone()
    };
    match store.list(collection, &query).await {
        Err(RepositoryError::BadCursor(_)) => {}
        Ok(page) => panic!(
            "{}: {what} was read as a position and gave {:?}",
            store.describe(),
            names(&page.items)
        ),
        Err(other) => panic!(
            "{}: {what} must be a bad cursor, not: {other}",
            store.describe()
        ),
    }
}

pub async fn create_get_delete_round_trip(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    let created = store
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap();
    assert_eq!(created.name, "Atlas");
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

pub async fn names_are_unique_per_collection_only(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
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
    // Names are case-sensitive: another case is another name.
    store
        .create(Collection::Projects, item("rust"))
        .await
        .unwrap();
}

pub async fn listing_pages_in_name_order_and_filters_ignoring_ascii_case(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(
        &*store,
        Collection::Technologies,
        &["delta", "Alpha", "charlie", "bravo", "echo-ALPHA"],
    )
    .await;
    create_all(&*store, Collection::Projects, &["other collection"]).await;

    let all = pages(&*store, Collection::Technologies, limited(2)).await;
    assert_eq!(
        all,
        [
            vec!["Alpha", "bravo"],
            vec!["charlie", "delta"],
            vec!["echo-ALPHA"]
        ],
        "{}",
        store.describe()
    );

    let alp = pages(&*store, Collection::Technologies, filtered("alp")).await;
    assert_eq!(alp, [["Alpha", "echo-ALPHA"]], "{}", store.describe());
    // Paging a filtered listing keeps the filter.
    let query = ListQuery {
        limit: 1,
        ..filtered("ALP")
    };
    let alp = pages(&*store, Collection::Technologies, query).await;
    assert_eq!(alp, [["Alpha"], ["echo-ALPHA"]], "{}", store.describe());
}

pub async fn names_sort_by_their_utf8_bytes(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(
        &*store,
        Collection::Projects,
        &["é", "alpha", "Zulu", "Alpha", "100", "a b", "ab"],
    )
    .await;
    let all: Vec<String> = pages(&*store, Collection::Projects, limited(3))
        .await
        .concat();
    assert_eq!(
        all,
        ["100", "Alpha", "Zulu", "a b", "ab", "alpha", "é"],
        "{}",
        store.describe()
    );
}

pub async fn an_exactly_full_page_says_there_is_no_next_page(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(&*store, Collection::Projects, &["a", "b"]).await;
    let page = store.list(Collection::Projects, &limited(2)).await.unwrap();
    assert_eq!(names(&page.items), ["a", "b"]);
    assert_eq!(page.next, None, "{}", store.describe());
}

pub async fn an_empty_collection_lists_nothing(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(&*store, Collection::Projects, &["elsewhere"]).await;
    let page = store
        .list(Collection::Technologies, &ListQuery::default())
        .await
        .unwrap();
    assert!(
        page.items.is_empty() && page.next.is_none(),
        "{}",
        store.describe()
    );
}

pub async fn filter_text_is_not_a_pattern(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(
        &*store,
        Collection::Projects,
        &["100% done", "1000 done", "a_b", "axb", "[x]", "x"],
    )
    .await;
    for (filter, expected) in [
        ("0%", &["100% done"][..]),
        ("_", &["a_b"]),
        ("[x]", &["[x]"]),
    ] {
        let page = store
            .list(Collection::Projects, &filtered(filter))
            .await
            .unwrap();
        assert_eq!(
            names(&page.items),
            expected,
            "{}: {filter:?}",
            store.describe()
        );
    }
}

pub async fn concurrent_creates_of_distinct_names_are_all_listed(fresh: &dyn FreshStores) {
    let handles = fresh.open(HANDLES).await;
    let wanted: BTreeSet<String> = (0..50).map(|i| format!("item-{i:02}")).collect();
    let mut creates = JoinSet::new();
    for (index, name) in wanted.iter().enumerate() {
        let store = Arc::clone(&handles[index % handles.len()]);
        let name = name.clone();
        creates.spawn(async move { store.create(Collection::Projects, item(&name)).await });
    }
    while let Some(created) = creates.join_next().await {
        created
            .expect("a create task")
            .unwrap_or_else(|e| panic!("{}: a create failed: {e}", handles[0].describe()));
    }
    let reader = handles.last().expect("at least one handle");
    let listed = pages(&**reader, Collection::Projects, limited(7))
        .await
        .concat();
    assert_eq!(
        listed.len(),
        wanted.len(),
        "{}: {listed:?}",
        reader.describe()
    );
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), wanted);
}

pub async fn concurrent_creates_of_one_name_give_exactly_one_success(fresh: &dyn FreshStores) {
    let handles = fresh.open(HANDLES).await;
    let mut creates = JoinSet::new();
    for attempt in 0..20 {
        let store = Arc::clone(&handles[attempt % handles.len()]);
        creates.spawn(async move {
            let new = NewItem::parse("Rust", Some(&format!("attempt {attempt}")), None).unwrap();
            store.create(Collection::Technologies, new).await
        });
    }
    let mut winners = Vec::new();
    while let Some(created) = creates.join_next().await {
        match created.expect("a create task") {
            Ok(item) => winners.push(item),
            Err(RepositoryError::Duplicate { .. }) => {}
            Err(other) => panic!("{}: unexpected {other}", handles[0].describe()),
        }
    }
    assert_eq!(winners.len(), 1, "{}: {winners:?}", handles[0].describe());
    // The acknowledged write is the one kept, whichever handle reads it.
    for store in &handles {
        assert_eq!(
            store.get(Collection::Technologies, "Rust").await.unwrap(),
            winners[0]
        );
    }
}

pub async fn concurrent_deletes_of_one_name_give_exactly_one_success(fresh: &dyn FreshStores) {
    let handles = fresh.open(HANDLES).await;
    handles[0]
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap();
    let mut deletes = JoinSet::new();
    for attempt in 0..16 {
        let store = Arc::clone(&handles[attempt % handles.len()]);
        deletes.spawn(async move { store.delete(Collection::Projects, "Atlas").await });
    }
    let mut successes = 0;
    while let Some(deleted) = deletes.join_next().await {
        match deleted.expect("a delete task") {
            Ok(()) => successes += 1,
            Err(RepositoryError::NotFound { .. }) => {}
            Err(other) => panic!("{}: unexpected {other}", handles[0].describe()),
        }
    }
    assert_eq!(successes, 1, "{}", handles[0].describe());
}

/// Pages resume after the last item shown, not at an offset: items created or deleted elsewhere
/// in the listing never make a later page repeat or skip an item that stayed.
pub async fn paging_is_stable_while_items_come_and_go(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    let even: Vec<String> = (0..20).step_by(2).map(|i| format!("n{i:02}")).collect();
    create_all(
        &*store,
        Collection::Projects,
        &even.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;

    let first = store.list(Collection::Projects, &limited(4)).await.unwrap();
    assert_eq!(names(&first.items), ["n00", "n02", "n04", "n06"]);
    // Before the cursor, at it, and after it; the items already shown and those still to come.
    create_all(&*store, Collection::Projects, &["n01", "n07", "n19"]).await;
    for gone in ["n02", "n06", "n08"] {
        store.delete(Collection::Projects, gone).await.unwrap();
    }
    let rest = pages(
        &*store,
        Collection::Projects,
        ListQuery {
            after: first.next,
            ..limited(4)
        },
    )
    .await
    .concat();
    assert_eq!(
        rest,
        ["n07", "n10", "n12", "n14", "n16", "n18", "n19"],
        "{}",
        store.describe()
    );
}

/// A page listed by one function and the next page by another (or by a new environment after a
/// cold start) is the ordinary case in Lambda.
pub async fn a_cursor_made_through_one_handle_works_through_another(fresh: &dyn FreshStores) {
    let handles = fresh.open(2).await;
    create_all(&*handles[0], Collection::Projects, &["a", "b", "c"]).await;
    let query = limited(2);
    let cursor = first_cursor(&*handles[0], Collection::Projects, &query).await;
    let next = handles[1]
        .list(
            Collection::Projects,
            &ListQuery {
                after: Some(cursor),
                ..query
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&next.items), ["c"], "{}", handles[1].describe());
}

pub async fn altered_or_truncated_cursors_are_refused(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(
        &*store,
        Collection::Projects,
        &["Atlas", "Borealis", "Cassini"],
    )
    .await;
    let query = limited(1);
    let token = first_cursor(&*store, Collection::Projects, &query)
        .await
        .into_token();

    let mut bad = Vec::new();
    for index in 0..token.len() {
        let mut altered = token.clone().into_bytes();
        altered[index] = if altered[index] == b'A' { b'B' } else { b'A' };
        bad.push((
            format!("character {index} altered"),
            String::from_utf8(altered).unwrap(),
        ));
    }
    for length in [0, 1, token.len() / 2, token.len() - 1] {
        bad.push((format!("cut to {length}"), token[..length].to_owned()));
    }
    for (what, garbage) in [
        ("extended", format!("{token}A")),
        ("extended by a block", format!("{token}AAAA")),
        ("not base64", "@@".to_owned()),
        ("text", "next page please".to_owned()),
        ("zeros", "A".repeat(64)),
        // What the API issued before tokens were checked: base64url of the last name ("Atlas").
        ("the unchecked format", "QXRsYXM".to_owned()),
    ] {
        bad.push((what.to_owned(), garbage));
    }
    for (what, token) in bad {
        assert_refused(
            &*store,
            Collection::Projects,
            &query,
            Cursor::from_token(token),
            &what,
        )
        .await;
    }
}

pub async fn cursors_of_another_collection_or_filter_are_refused(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    for collection in Collection::ALL {
        create_all(&*store, collection, &["alpha", "alpine", "beta"]).await;
    }
    let query = limited(1);
    let projects = first_cursor(&*store, Collection::Projects, &query).await;
    assert_refused(
        &*store,
        Collection::Technologies,
        &query,
        projects.clone(),
        "a cursor of projects used on technologies",
    )
    .await;
    assert_refused(
        &*store,
        Collection::Projects,
        &ListQuery {
            limit: 1,
            ..filtered("al")
        },
        projects,
        "an unfiltered listing's cursor used with a filter",
    )
    .await;

    let al = ListQuery {
        limit: 1,
        ..filtered("al")
    };
    let filtered_cursor = first_cursor(&*store, Collection::Projects, &al).await;
    assert_refused(
        &*store,
        Collection::Projects,
        &query,
        filtered_cursor.clone(),
        "a filtered listing's cursor used without the filter",
    )
    .await;
    assert_refused(
        &*store,
        Collection::Projects,
        &ListQuery {
            limit: 1,
            ..filtered("be")
        },
        filtered_cursor.clone(),
        "a filtered listing's cursor used with another filter",
    )
    .await;
    // The filter ignores ASCII case, so a change of case is the same listing.
    let same = ListQuery {
        after: Some(filtered_cursor),
        ..ListQuery {
            limit: 1,
            ..filtered("AL")
        }
    };
    let page = store.list(Collection::Projects, &same).await.unwrap();
    assert_eq!(names(&page.items), ["alpine"], "{}", store.describe());
}

pub async fn cursors_of_another_kind_of_store_are_refused(fresh: &dyn FreshStores) {
    let store = one(fresh).await;
    create_all(&*store, Collection::Projects, &["a", "b", "c"]).await;
    let query = limited(1);
    // Well formed and well checked, for the right listing and a real position: only the kind of
    // store that made it is wrong. (No adapter calls itself this.)
    let elsewhere = CursorCodec::new("store-contract-elsewhere");
    assert_refused(
        &*store,
        Collection::Projects,
        &query,
        elsewhere.encode(Collection::Projects, &query, "a"),
        "a cursor of another kind of store",
    )
    .await;
}
