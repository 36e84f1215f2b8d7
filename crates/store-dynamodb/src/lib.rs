//! The catalog's DynamoDB store: one table that every function of either pattern shares, so an
//! item written in one execution environment is there in every other and after every cold start.
//!
//! - Creates and deletes are conditional writes: DynamoDB, not the caller, decides the one winner
//!   of a race on a name.
//! - Reads are strongly consistent, so a read that follows an acknowledged write sees it.
//! - Listings query one partition (the collection) in sort-key order, which DynamoDB keeps by the
//!   names' UTF-8 bytes, as every store of the catalog does. The name filter is a
//!   `FilterExpression`, which DynamoDB applies after `Limit`: a page is filled by reading on until
//!   it is full or the collection ends, reading at most [`MAX_ITEMS_READ_PER_LISTING`] items per
//!   request; when that bound stops it, the page carries a cursor past the last item read.

mod failure;
pub mod item;

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_session::Session;
use aws_smithy_types::retry::RetryConfig;
use catalog::{
    Collection, CursorCodec, Item, ListQuery, NewItem, Page, Repository, RepositoryError,
};

use failure::{Call, classify};
use item::{Attributes, MalformedItem, NAME_FOLDED, PARTITION_KEY, SORT_KEY};

/// Cursors hold the last name read; a listing resumes with it as the `ExclusiveStartKey`.
const CURSORS: CursorCodec = CursorCodec::new("dynamodb");

/// The most items one listing request reads from the table while filling a filtered page: a
/// filter that matches little would otherwise read a whole collection within one request.
pub const MAX_ITEMS_READ_PER_LISTING: usize = 1_000;

/// The endpoint variable's suffix (`AWS_ENDPOINT_URL_DYNAMODB`), as the AWS SDKs name it.
const SERVICE: &str = "DYNAMODB";

/// DynamoDB's retries: the SDK's standard mode (three attempts, throttling included), starting
/// from a short wait since DynamoDB answers in milliseconds (the older AWS SDKs used a 25 to
/// 50 ms base for DynamoDB alone), so a throttled request still answers well within API
/// Gateway's 29 s.
fn retries() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(50))
}

/// Why the store could not be made: the environment lacks what reaching AWS needs.
pub type OpenError = aws_session::FunctionEnvError;

/// The catalog in one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// The store of `table` (a name `STORE_URL` parsing checked), reached as Lambda's
    /// environment says (credentials, region, `AWS_ENDPOINT_URL`). Sends nothing: the first
    /// request is the first contact.
    pub fn from_env(table: &str) -> Result<DynamoDbStore, OpenError> {
        let session = aws_session::from_function_env(SERVICE, retries())?;
        Ok(DynamoDbStore::new(&session, table))
    }

    /// The store of `table` through `session`'s configuration, with this store's retries.
    pub fn new(session: &Session, table: &str) -> DynamoDbStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&session.config)
            .retry_config(retries())
            .build();
        DynamoDbStore {
            client: Client::from_conf(config),
            table: table.to_owned(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn call(&self, action: &'static str) -> Call<'_> {
        Call {
            action,
            table: &self.table,
        }
    }

    fn malformed(&self, error: MalformedItem) -> RepositoryError {
        RepositoryError::Misconfigured {
            what: format!(
                "DynamoDB table {:?} holds an item this store did not write: {error}; is STORE_URL \
                 pointing at the catalog's table?",
                self.table
            ),
        }
    }
}

#[async_trait]
impl Repository for DynamoDbStore {
    async fn create(&self, collection: Collection, item: NewItem) -> Result<Item, RepositoryError> {
        let item = item.into_item();
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item::to_attributes(collection, &item)))
            .condition_expression("attribute_not_exists(#name)")
            .expression_attribute_names("#name", SORT_KEY)
            .send()
            .await;
        match written {
            Ok(_) => Ok(item),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(RepositoryError::Duplicate {
                    collection,
                    name: item.name,
                })
            }
            Err(error) => Err(classify(self.call("PutItem"), &error)),
        }
    }

    async fn get(&self, collection: Collection, name: &str) -> Result<Item, RepositoryError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item::key(collection, name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify(self.call("GetItem"), &error))?;
        match read.item() {
            Some(attributes) => item::from_attributes(attributes).map_err(|e| self.malformed(e)),
            None => Err(RepositoryError::NotFound {
                collection,
                name: name.to_owned(),
            }),
        }
    }

    async fn delete(&self, collection: Collection, name: &str) -> Result<(), RepositoryError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item::key(collection, name)))
            .condition_expression("attribute_exists(#name)")
            .expression_attribute_names("#name", SORT_KEY)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(RepositoryError::NotFound {
                    collection,
                    name: name.to_owned(),
                })
            }
            Err(error) => Err(classify(self.call("DeleteItem"), &error)),
        }
    }

    async fn list(
        &self,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<Page, RepositoryError> {
        let resume_after = CURSORS.resumes_after(collection, query)?;
        // The filter's meaning is "contains, ignoring ASCII case": the folded name against the
        // folded filter. An empty filter matches every name, so it is no filter.
        let filter = query
            .name_contains
            .as_deref()
            .filter(|text| !text.is_empty())
            .map(str::to_ascii_lowercase);
        // One more than the page, to tell whether another page follows.
        let wanted = query.limit + 1;
        let mut items: Vec<Item> = Vec::with_capacity(wanted);
        let mut read = 0;
        let mut start = resume_after.map(|name| item::key(collection, &name));
        loop {
            let budget = MAX_ITEMS_READ_PER_LISTING - read;
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("#collection = :collection")
                .expression_attribute_names("#collection", PARTITION_KEY)
                .expression_attribute_values(
                    ":collection",
                    AttributeValue::S(collection.name().to_owned()),
                )
                .set_exclusive_start_key(start.take());
            let limit = match &filter {
                // Without a filter every item read is kept: read just what the page lacks.
                None => (wanted - items.len()).min(budget),
                Some(text) => {
                    request = request
                        .filter_expression("contains(#folded, :filter)")
                        .expression_attribute_names("#folded", NAME_FOLDED)
                        .expression_attribute_values(":filter", AttributeValue::S(text.clone()));
                    budget
                }
            };
            let output = request
                .limit(i32::try_from(limit).expect("the read bound fits an i32"))
                .send()
                .await
                .map_err(|error| classify(self.call("Query"), &error))?;
            read += usize::try_from(output.scanned_count()).unwrap_or(limit);
            for attributes in output.items() {
                items.push(item::from_attributes(attributes).map_err(|e| self.malformed(e))?);
            }
            let last_read: Option<Attributes> = output.last_evaluated_key;
            match last_read {
                Some(last) if items.len() < wanted => {
                    if read >= MAX_ITEMS_READ_PER_LISTING {
                        // The bound stops the page short: the client resumes past what was read.
                        let position = item::name_of(&last).map_err(|e| self.malformed(e))?;
                        return Ok(Page {
                            next: Some(CURSORS.encode(collection, query, position)),
                            items,
                        });
                    }
                    start = Some(last);
                }
                _ => break,
            }
        }
        Ok(Page::from_overfetched(items, query.limit, |last| {
            CURSORS.encode(collection, query, &last.name)
        }))
    }

    async fn check(&self) -> Result<(), RepositoryError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| classify(self.call("DescribeTable"), &error))
    }

    fn describe(&self) -> String {
        format!("dynamodb:{}", self.table)
    }
}
