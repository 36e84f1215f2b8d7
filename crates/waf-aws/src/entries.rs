//! The entries' table: what the tool knows of each CIDR it allowed (expiry, author, time, note),
//! one DynamoDB item per CIDR, which the IP sets are made to match.
//!
//! An item is `active` (the CIDR belongs in its IP set until it expires) or `removing` (it is
//! being revoked or flushed: it must leave the set, and the item goes once it has). An address in
//! an IP set with no item at all was added outside the tool: unmanaged.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use waf::{BackendError, Cidr, Entry, IpSet, IpVersion};

use crate::service;

/// One item of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub entry: Entry,
    /// Being revoked or flushed: it must leave the IP set.
    pub removing: bool,
}

const ACTIVE: &str = "active";
const REMOVING: &str = "removing";

/// The table of an environment's entries.
#[derive(Debug, Clone)]
pub struct EntryTable {
    client: Client,
    name: String,
}

impl EntryTable {
    pub fn new(client: Client, name: String) -> EntryTable {
        EntryTable { client, name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every item of one IP version, read consistently (a write just made is seen).
    pub async fn read(&self, version: IpVersion) -> Result<Vec<Record>, BackendError> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.name)
                .consistent_read(true)
                .filter_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(
                    ":version",
                    AttributeValue::S(version.aws_name().into()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(service(format!(
                    "reading table {} (dynamodb:Scan)",
                    self.name
                )))?;
            for item in page.items() {
                records.push(self.record(item)?);
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(records);
            }
        }
    }

    fn record(&self, item: &HashMap<String, AttributeValue>) -> Result<Record, BackendError> {
        let bad = |problem: String| BackendError::Corrupt {
            path: format!("dynamodb table {}", self.name).into(),
            problem,
        };
        let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned();
        let time = |key: &str| -> Result<Option<OffsetDateTime>, BackendError> {
            text(key)
                .map(|t| {
                    OffsetDateTime::parse(&t, &Rfc3339)
                        .map_err(|e| bad(format!("{key} {t:?} is not an RFC 3339 time: {e}")))
                })
                .transpose()
        };
        let cidr_text = text("cidr").ok_or_else(|| bad("an item has no cidr".into()))?;
        let cidr: Cidr = cidr_text
            .parse()
            .map_err(|e| bad(format!("{cidr_text:?} is not a CIDR: {e}")))?;
        Ok(Record {
            entry: Entry {
                cidr,
                added_at: time("added_at")?
                    .ok_or_else(|| bad(format!("{cidr} has no added_at")))?,
                expires_at: time("expires_at")?,
                note: text("note"),
                added_by: text("added_by"),
            },
            removing: text("state").as_deref() == Some(REMOVING),
        })
    }

    async fn put(&self, entry: &Entry, state: &str) -> Result<(), BackendError> {
        let mut item = HashMap::from([
            ("cidr".to_owned(), AttributeValue::S(entry.cidr.to_string())),
            (
                "version".to_owned(),
                AttributeValue::S(entry.cidr.version().aws_name().into()),
            ),
            ("state".to_owned(), AttributeValue::S(state.into())),
            (
                "added_at".to_owned(),
                AttributeValue::S(rfc3339(entry.added_at)),
            ),
        ]);
        if let Some(expires_at) = entry.expires_at {
            item.insert("expires_at".into(), AttributeValue::S(rfc3339(expires_at)));
        }
        if let Some(note) = &entry.note {
            item.insert("note".into(), AttributeValue::S(note.clone()));
        }
        if let Some(by) = &entry.added_by {
            item.insert("added_by".into(), AttributeValue::S(by.clone()));
        }
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item))
            .send()
            .await
            .map_err(service(format!(
                "recording {} in table {} (dynamodb:PutItem)",
                entry.cidr, self.name
            )))?;
        Ok(())
    }

    /// Writes what changed between two views of one IP set: new and changed entries become
    /// active items; entries and unmanaged CIDRs that are gone become `removing` items, so that
    /// the sync takes them out of the set.
    pub async fn record_change(
        &self,
        version: IpVersion,
        before: &IpSet,
        after: &IpSet,
        now: OffsetDateTime,
    ) -> Result<(), BackendError> {
        debug_assert_eq!((before.version(), after.version()), (version, version));
        for entry in after.entries() {
            if before.get(entry.cidr) != Some(entry) {
                self.put(entry, ACTIVE).await?;
            }
        }
        for entry in before.entries() {
            if after.get(entry.cidr).is_none() {
                self.put(entry, REMOVING).await?;
            }
        }
        for &cidr in before.unmanaged() {
            if !after.unmanaged().contains(&cidr) && after.get(cidr).is_none() {
                let gone = Entry {
                    cidr,
                    added_at: now,
                    expires_at: None,
                    note: None,
                    added_by: None,
                };
                self.put(&gone, REMOVING).await?;
            }
        }
        Ok(())
    }

    /// Deletes the `removing` items whose CIDR has left the IP set (`addresses`). An item that
    /// was allowed again meanwhile is `active` and stays: the delete is conditional.
    pub async fn forget_removed(
        &self,
        version: IpVersion,
        addresses: &[Cidr],
    ) -> Result<(), BackendError> {
        for record in self.read(version).await? {
            if !record.removing || addresses.contains(&record.entry.cidr) {
                continue;
            }
            let deleted = self
                .client
                .delete_item()
                .table_name(&self.name)
                .key("cidr", AttributeValue::S(record.entry.cidr.to_string()))
                .condition_expression("#state = :removing")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":removing", AttributeValue::S(REMOVING.into()))
                .send()
                .await;
            match deleted {
                Ok(_) => {}
                Err(error)
                    if aws_session::error_code(&error)
                        == Some("ConditionalCheckFailedException") => {}
                Err(error) => {
                    return Err(service(format!(
                        "forgetting {} in table {} (dynamodb:DeleteItem)",
                        record.entry.cidr, self.name
                    ))(error));
                }
            }
        }
        Ok(())
    }
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .expect("entries' times are within years 0 to 9999")
}

/// The IP set as the tool sees it: the active items as entries, and the addresses that no item
/// names as unmanaged. A `removing` item's CIDR is neither: it is on its way out.
pub fn view(
    version: IpVersion,
    records: &[Record],
    addresses: Vec<Cidr>,
) -> Result<IpSet, BackendError> {
    let entries: Vec<Entry> = records
        .iter()
        .filter(|r| !r.removing)
        .map(|r| r.entry.clone())
        .collect();
    let unmanaged: Vec<Cidr> = addresses
        .into_iter()
        .filter(|cidr| !records.iter().any(|r| r.entry.cidr == *cidr))
        .collect();
    Ok(IpSet::from_entries(version, entries)?.with_unmanaged(unmanaged)?)
}
