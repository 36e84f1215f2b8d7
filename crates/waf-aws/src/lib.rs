//! The allow-list in AWS WAF, behind the same [`waf::AllowListBackend`] as the local files.
//!
//! An AWS WAF IP set is only a list of CIDRs, so what the tool knows of each entry (its expiry,
//! who added it and when, a note) lives in a DynamoDB table of the stack ([`entries`]), and the
//! IP sets are made to match it ([`sets`]):
//!
//! - every change is written to the table first, then the IP set is *synced*: read with its lock
//!   token, its address list computed from the table, written back with that token, and all of it
//!   again (jittered, bounded) when AWS answers WAFOptimisticLockException because someone else
//!   wrote in between. A sync computes the whole list from the table each time, so no writer's
//!   change is lost, and whatever a crashed command left half done, the next sync (the janitor's
//!   at the latest) completes;
//! - an address in the IP set that the table does not know was added outside the tool: it is
//!   listed as unmanaged and kept, until it is named (`revoke`) or `flush --unmanaged` asks;
//! - without a table (IP sets made outside the stack, named on the command line), the IP set is
//!   the only record: every address in it is unmanaged, and an expiry or note cannot be kept.

pub mod entries;
pub mod sets;

use async_trait::async_trait;
use time::OffsetDateTime;
use waf::{AllowListBackend, BackendError, IpSet, IpSetNames, IpVersion, SetChange};

pub use aws_sdk_wafv2::Client as WafClient;

/// An SDK error (of WAFv2 or DynamoDB alike) as [`BackendError::Service`], naming the action.
pub(crate) fn service<E, R>(
    action: impl Into<String>,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> BackendError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let action = action.into();
    move |error| BackendError::Service {
        action,
        message: aws_session::explain(&error),
    }
}
pub use entries::EntryTable;
pub use sets::{IpSetRef, Retry};

/// The allow-list of an environment in AWS WAF.
pub struct AwsBackend {
    wafv2: aws_sdk_wafv2::Client,
    v4: IpSetRef,
    v6: IpSetRef,
    names: IpSetNames,
    table: Option<EntryTable>,
    caller: Option<String>,
    region: String,
    retry: Retry,
}

impl AwsBackend {
    /// The backend for two IP sets, with the entries' table when there is one.
    pub fn new(
        session: &aws_session::Session,
        v4: IpSetRef,
        v6: IpSetRef,
        table: Option<String>,
    ) -> Result<AwsBackend, waf::NameError> {
        let names = IpSetNames::new(&v4.name, &v6.name)?;
        Ok(AwsBackend {
            wafv2: aws_sdk_wafv2::Client::new(&session.config),
            table: table
                .map(|name| EntryTable::new(aws_sdk_dynamodb::Client::new(&session.config), name)),
            v4,
            v6,
            names,
            caller: None,
            region: session.region.clone(),
            retry: Retry::default(),
        })
    }

    /// Records `caller` (an AWS principal's ARN) as who added new entries.
    pub fn with_caller(mut self, caller: impl Into<String>) -> AwsBackend {
        self.caller = Some(caller.into());
        self
    }

    /// How updates that meet a concurrent writer are retried.
    pub fn with_retry(mut self, retry: Retry) -> AwsBackend {
        self.retry = retry;
        self
    }

    fn set(&self, version: IpVersion) -> &IpSetRef {
        match version {
            IpVersion::V4 => &self.v4,
            IpVersion::V6 => &self.v6,
        }
    }

    /// Makes the IP set of `version` what the table says (see the crate's documentation), then
    /// forgets the items of CIDRs that have left it.
    async fn sync(
        &self,
        table: &EntryTable,
        version: IpVersion,
        now: OffsetDateTime,
    ) -> Result<(), BackendError> {
        let state = "The entries are recorded in the table: the next command, or the janitor \
                     within its period, applies them.";
        let synced = sets::update(
            &self.wafv2,
            self.set(version),
            Some((table, version)),
            &self.retry,
            state,
            &mut |addresses, records| {
                Ok(Some(
                    entries::view(version, records, addresses)?.addresses(now),
                ))
            },
        )
        .await?;
        table.forget_removed(version, &synced).await
    }
}

#[async_trait]
impl AllowListBackend for AwsBackend {
    fn names(&self) -> &IpSetNames {
        &self.names
    }

    fn location(&self) -> String {
        match &self.table {
            Some(table) => format!(
                "AWS WAF in {} (entries in table {})",
                self.region,
                table.name()
            ),
            None => format!(
                "AWS WAF in {} (no entries table: expiries and notes are not kept)",
                self.region
            ),
        }
    }

    fn caller(&self) -> Option<String> {
        self.caller.clone()
    }

    fn keeps_entries(&self) -> bool {
        self.table.is_some()
    }

    async fn read_set(&self, version: IpVersion) -> Result<IpSet, BackendError> {
        let (addresses, _) = sets::read(&self.wafv2, self.set(version)).await?;
        match &self.table {
            Some(table) => {
                let records = table.read(version).await?;
                entries::view(version, &records, addresses)
            }
            None => Ok(IpSet::new(version).with_unmanaged(addresses)?),
        }
    }

    /// With a table: the change is computed on the current view, written to the table, and the
    /// set synced. Without: the change is applied to the set's own list under its lock token
    /// (and computed again from a fresh read when someone else wrote in between).
    async fn update_set(
        &self,
        version: IpVersion,
        change: &mut SetChange<'_>,
    ) -> Result<(), BackendError> {
        let now = OffsetDateTime::now_utc();
        let Some(table) = &self.table else {
            sets::update(
                &self.wafv2,
                self.set(version),
                None,
                &self.retry,
                "The IP set is as it was.",
                &mut |addresses, _| {
                    let mut view = IpSet::new(version).with_unmanaged(addresses)?;
                    if !change(&mut view)? {
                        return Ok(None);
                    }
                    Ok(Some(view.addresses(now)))
                },
            )
            .await?;
            return Ok(());
        };
        let records = table.read(version).await?;
        let (addresses, _) = sets::read(&self.wafv2, self.set(version)).await?;
        let before = entries::view(version, &records, addresses)?;
        let mut after = before.clone();
        if change(&mut after)? {
            table.record_change(version, &before, &after, now).await?;
        }
        // Always synced, even when nothing changed here: a half-done earlier change is completed.
        self.sync(table, version, now).await
    }
}
