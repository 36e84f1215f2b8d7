//! The Repository contract for the DynamoDB store, against moto's DynamoDB (started on 127.0.0.1
//! per test process), each store in a table made from the template's own CatalogTable definition,
//! reached the way a Lambda function reaches it (Lambda's environment variables, the compiled-in
//! client set-up). Plus what only this store has: the bound on items read while filling a page.
//!
//! moto answers DynamoDB's API from its own model, not from AWS: conditional writes, strongly
//! consistent reads, sort order and paging are checked here against that model; the failure
//! answers (throttling, missing table, denied access) are checked against DynamoDB's documented
//! protocol with wiremock in crates/store-dynamodb/tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use aws_smithy_types::retry::RetryConfig;
use catalog::{Collection, ListQuery, NewItem, Repository};
use e2e::moto::{Moto, REGION};
use store_contract::FreshStores;
use store_dynamodb::{DynamoDbStore, MAX_ITEMS_READ_PER_LISTING};
use tokio::sync::OnceCell;

/// New tables in one moto, started on first use and stopped when the test ends.
#[derive(Default)]
struct MotoTables {
    moto: OnceCell<Moto>,
    made: AtomicUsize,
}

impl MotoTables {
    /// A new, empty table named like the stack's, with the template's key schema.
    async fn new_table(&self) -> (&Moto, String) {
        let moto = self.moto.get_or_init(Moto::start).await;
        let table = format!(
            "catalog-contract-{}",
            self.made.fetch_add(1, Ordering::Relaxed)
        );
        moto.catalog_table(&table).await;
        (moto, table)
    }
}

/// A store handle as a Lambda function makes it: from Lambda's variables, pointing at moto.
fn function_store(moto: &Moto, table: &str) -> DynamoDbStore {
    let endpoint = moto.url();
    let session =
        aws_session::function::from_vars("DYNAMODB", RetryConfig::standard(), |name| match name {
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
            "AWS_REGION" => Some(REGION.into()),
            "AWS_ENDPOINT_URL" => Some(endpoint.clone()),
            _ => None,
        })
        .unwrap();
    DynamoDbStore::new(&session, table)
}

#[async_trait]
impl FreshStores for MotoTables {
    async fn open(&self, handles: usize) -> Vec<Arc<dyn Repository>> {
        let (moto, table) = self.new_table().await;
        (0..handles)
            .map(|_| Arc::new(function_store(moto, &table)) as Arc<dyn Repository>)
            .collect()
    }
}

store_contract::contract_tests!(MotoTables::default());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_that_matches_little_stops_at_the_read_bound_with_a_cursor_past_it() {
    let tables = MotoTables::default();
    let (moto, table) = tables.new_table().await;
    let store = function_store(moto, &table);
    // More items than one request may read, of which only the last matches the filter.
    let total = MAX_ITEMS_READ_PER_LISTING + 20;
    let mut names: Vec<String> = (0..total).map(|i| format!("item-{i:05}")).collect();
    names.push("zz-needle".into());
    let mut creates = tokio::task::JoinSet::new();
    for chunk in names.chunks(total / 8 + 1) {
        let store = store.clone();
        let chunk = chunk.to_vec();
        creates.spawn(async move {
            for name in chunk {
                let item = NewItem::parse(&name, None, None).unwrap();
                store.create(Collection::Projects, item).await.unwrap();
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.unwrap();
    }
    let query = ListQuery {
        name_contains: Some("NEEDLE".into()),
        limit: 10,
        after: None,
    };
    let first = store.list(Collection::Projects, &query).await.unwrap();
    assert!(
        first.items.is_empty(),
        "the bound stopped the first request before the match"
    );
    let next = first
        .next
        .expect("a page stopped by the bound says where to resume");
    let second = store
        .list(
            Collection::Projects,
            &ListQuery {
                after: Some(next),
                ..query
            },
        )
        .await
        .unwrap();
    let found: Vec<&str> = second.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(found, ["zz-needle"]);
    assert!(second.next.is_none());
}
