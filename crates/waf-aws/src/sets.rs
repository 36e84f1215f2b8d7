//! AWS WAF IP sets: finding one, reading its addresses with their lock token, and writing a new
//! list under that token, retried when someone else wrote in between.
//!
//! UpdateIPSet replaces the whole address list and takes the LockToken of the GetIPSet it is based
//! on; when the set changed since, AWS answers WAFOptimisticLockException and nothing is written.
//! So an update is a loop: read, compute the new list from what was read, write; and again from
//! a fresh read on that exception, after a jittered, growing pause, a bounded number of times.

use std::str::FromStr;
use std::time::{Duration, Instant};

use aws_sdk_wafv2::Client;
use aws_sdk_wafv2::types::Scope;
use rand::Rng;
use waf::{BackendError, Cidr, IpVersion, MAX_ENTRIES_PER_SET};

use crate::service;

use crate::entries::{EntryTable, Record};

/// One IP set, as AWS WAF addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSetRef {
    pub name: String,
    pub id: String,
    /// `REGIONAL` for API Gateway stages.
    pub scope: String,
}

impl IpSetRef {
    /// From an IP set's ARN:
    /// `arn:aws:wafv2:<region>:<account>:regional/ipset/<name>/<id>`.
    pub fn from_arn(arn: &str) -> Option<IpSetRef> {
        let resource = arn.split(':').nth(5)?;
        let mut parts = resource.split('/');
        let scope = match parts.next()? {
            "regional" => "REGIONAL",
            "global" => "CLOUDFRONT",
            _ => return None,
        };
        if parts.next()? != "ipset" {
            return None;
        }
        let (name, id) = (parts.next()?, parts.next()?);
        if parts.next().is_some() || name.is_empty() || id.is_empty() {
            return None;
        }
        Some(IpSetRef {
            name: name.to_owned(),
            id: id.to_owned(),
            scope: scope.to_owned(),
        })
    }

    /// From the `Name|Id|Scope` that CloudFormation gives as an IP set's physical id.
    pub fn from_physical_id(physical_id: &str) -> Option<IpSetRef> {
        let mut parts = physical_id.split('|');
        let (name, id, scope) = (parts.next()?, parts.next()?, parts.next()?);
        (parts.next().is_none()).then(|| IpSetRef {
            name: name.to_owned(),
            id: id.to_owned(),
            scope: scope.to_owned(),
        })
    }

    /// An IP set named `name_or_arn`: an ARN is read as it is; a name is looked up among the
    /// regional IP sets of the account.
    pub async fn find(client: &Client, name_or_arn: &str) -> Result<IpSetRef, BackendError> {
        if name_or_arn.starts_with("arn:") {
            return IpSetRef::from_arn(name_or_arn).ok_or_else(|| BackendError::Service {
                action: format!("reading the IP set ARN {name_or_arn}"),
                message: "it is not an AWS WAF IP set ARN (arn:aws:wafv2:<region>:<account>:regional/ipset/<name>/<id>)".into(),
            });
        }
        let mut marker = None;
        loop {
            let page = client
                .list_ip_sets()
                .scope(Scope::Regional)
                .set_next_marker(marker)
                .send()
                .await
                .map_err(service("listing the regional IP sets (wafv2:ListIPSets)"))?;
            if let Some(found) = page
                .ip_sets()
                .iter()
                .find(|set| set.name() == Some(name_or_arn))
            {
                return Ok(IpSetRef {
                    name: name_or_arn.to_owned(),
                    id: found.id().unwrap_or_default().to_owned(),
                    scope: "REGIONAL".into(),
                });
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() || page.ip_sets().is_empty() {
                return Err(BackendError::Service {
                    action: format!("looking for the IP set {name_or_arn}"),
                    message: "there is no regional IP set of that name here; check the name, \
                              the region (--region) and the account"
                        .into(),
                });
            }
        }
    }
}

/// How an update that met a concurrent writer is retried: `attempts` in all, pausing a random
/// time up to `base * 2^n` (capped at `cap`) between them ("full jitter", so that writers that
/// collided once do not collide again in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Retry {
    /// 10 attempts, pauses up to 50 ms, 100 ms, ... 2 s: about 10 s at most.
    fn default() -> Retry {
        Retry {
            attempts: 10,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// No retry: the first conflict is an error (what a naive read-modify-write does).
    pub const NEVER: Retry = Retry {
        attempts: 1,
        base: Duration::ZERO,
        cap: Duration::ZERO,
    };

    fn pause(&self, attempt: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1 << attempt.min(16)).min(self.cap);
        if ceiling.is_zero() {
            return ceiling;
        }
        rand::thread_rng().gen_range(Duration::ZERO..=ceiling)
    }
}

/// The set's addresses and its lock token.
pub async fn read(client: &Client, set: &IpSetRef) -> Result<(Vec<Cidr>, String), BackendError> {
    let got = client
        .get_ip_set()
        .name(&set.name)
        .id(&set.id)
        .scope(Scope::from(set.scope.as_str()))
        .send()
        .await
        .map_err(service(format!(
            "reading IP set {} (wafv2:GetIPSet)",
            set.name
        )))?;
    let addresses = got
        .ip_set()
        .map(|s| s.addresses())
        .unwrap_or_default()
        .iter()
        .map(|address| {
            Cidr::from_str(address).map_err(|error| BackendError::Service {
                action: format!("reading IP set {}", set.name),
                message: format!("it holds {address:?}, which is not a CIDR: {error}"),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((addresses, got.lock_token().unwrap_or_default().to_owned()))
}

/// How the new address list is made from a fresh read: the set's addresses and, with a table,
/// its items (read after the set, so they are at least as new as the lock token). `None` leaves
/// the set as it is.
pub type Compute<'a> =
    dyn FnMut(Vec<Cidr>, &[Record]) -> Result<Option<Vec<Cidr>>, BackendError> + Send + 'a;

/// Reads the set (and the items of `table`), asks `compute` for its new address list, writes it
/// under the lock token, and starts over from a fresh read when AWS says the set changed
/// meanwhile. `state` says, for the error when retries run out, what is left behind. Returns the
/// address list the set has afterwards.
pub async fn update(
    client: &Client,
    set: &IpSetRef,
    table: Option<(&EntryTable, IpVersion)>,
    retry: &Retry,
    state: &str,
    compute: &mut Compute<'_>,
) -> Result<Vec<Cidr>, BackendError> {
    let started = Instant::now();
    for attempt in 0..retry.attempts.max(1) {
        if attempt > 0 {
            tokio::time::sleep(retry.pause(attempt - 1)).await;
        }
        let (mut current, lock_token) = read(client, set).await?;
        let records = match table {
            Some((table, version)) => table.read(version).await?,
            None => Vec::new(),
        };
        current.sort();
        let Some(mut wanted) = compute(current.clone(), &records)? else {
            return Ok(current);
        };
        wanted.sort();
        wanted.dedup();
        if wanted == current {
            return Ok(current);
        }
        check_limit(&wanted)?;
        let written = client
            .update_ip_set()
            .name(&set.name)
            .id(&set.id)
            .scope(Scope::from(set.scope.as_str()))
            .lock_token(lock_token)
            .set_addresses(Some(wanted.iter().map(ToString::to_string).collect()))
            .send()
            .await;
        match written {
            Ok(_) => return Ok(wanted),
            Err(error) if is_conflict(aws_session::error_code(&error)) => continue,
            Err(error) => {
                return Err(service(format!(
                    "updating IP set {} (wafv2:UpdateIPSet)",
                    set.name
                ))(error));
            }
        }
    }
    Err(BackendError::Contended {
        set: set.name.clone(),
        attempts: retry.attempts.max(1),
        waited: started.elapsed(),
        state: state.to_owned(),
    })
}

/// The answers that mean "someone else changed it, read again": the stale lock token, and the
/// brief unavailability of a set that is being changed.
fn is_conflict(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("WAFOptimisticLockException" | "WAFUnavailableEntityException")
    )
}

/// AWS WAF's limit, checked before writing so the error says what to do.
fn check_limit(addresses: &[Cidr]) -> Result<(), BackendError> {
    if addresses.len() > MAX_ENTRIES_PER_SET {
        let version = addresses
            .first()
            .map(|c| c.version())
            .unwrap_or(IpVersion::V4);
        return Err(BackendError::AllowList(waf::AllowListError::Full {
            version,
            cidr: addresses[MAX_ENTRIES_PER_SET],
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_physical_ids_name_the_set() {
        let set = IpSetRef::from_arn(
            "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/catalog-dev-allow-v4/1f2e3d4c",
        )
        .unwrap();
        assert_eq!(
            set,
            IpSetRef {
                name: "catalog-dev-allow-v4".into(),
                id: "1f2e3d4c".into(),
                scope: "REGIONAL".into()
            }
        );
        assert_eq!(
            IpSetRef::from_physical_id("catalog-dev-allow-v4|1f2e3d4c|REGIONAL"),
            Some(set)
        );
        assert_eq!(
            IpSetRef::from_arn("arn:aws:wafv2:eu-west-1:1:regional/webacl/x/y"),
            None
        );
        assert_eq!(IpSetRef::from_arn("catalog-dev-allow-v4"), None);
    }

    #[test]
    fn pauses_grow_and_stay_under_the_cap() {
        let retry = Retry::default();
        for attempt in 0..20 {
            let pause = retry.pause(attempt);
            assert!(pause <= retry.cap, "{pause:?}");
            assert!(pause <= retry.base * (1 << attempt.min(16)));
        }
        assert_eq!(Retry::NEVER.pause(3), Duration::ZERO);
    }
}
