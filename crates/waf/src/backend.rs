//! Where an allow-list lives, behind one trait: local JSON files today, AWS WAF later.
//!
//! A backend implements two primitives, [`read_set`](AllowListBackend::read_set) and
//! [`update_set`](AllowListBackend::update_set) (an atomic read-modify-write of one IP set);
//! `list`, `allow`, `revoke` and `flush_expired` are built on them once, so every backend applies
//! the rules of [`crate::allow_list`] the same way and a command differs between targets only in
//! the backend it is given.
//!
//! How the AWS backend (aws-sdk-wafv2, with the AWS deployment) will map onto this:
//! - `read_set` is `GetIPSet`, whose `Addresses` are the CIDRs.
//! - `update_set` is `GetIPSet` then `UpdateIPSet`. `UpdateIPSet` replaces the whole address list
//!   and needs the `LockToken` from `GetIPSet`; if someone else updated the set in between, the
//!   token is stale and the call fails with `WAFOptimisticLockException`. The backend then reads
//!   again and re-applies the change, which is why `change` may run more than once.
//! - AWS WAF has no expiry: an IP set is only a list of CIDRs. Expiries, `added_at` and notes are
//!   kept beside the set (in its tags or a side table) and a scheduled `flush_expired` removes
//!   what has expired. Until a flush runs, an expired CIDR still passes AWS WAF; the local
//!   gateway, which checks expiries itself, blocks it at once.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::allow_list::{AllowList, AllowListError, Allowed, Entry, IpSet, check_allow};
use crate::cidr::{Cidr, IpVersion};

/// The names of an allow-list's two IP sets, valid AWS WAF names (1 to 128 letters, digits, `_`
/// and `-`; this also keeps them safe as local file names).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IpSetNames {
    v4: String,
    v6: String,
}

impl IpSetNames {
    pub fn new(v4: impl Into<String>, v6: impl Into<String>) -> Result<IpSetNames, NameError> {
        let names = IpSetNames {
            v4: v4.into(),
            v6: v6.into(),
        };
        for name in [&names.v4, &names.v6] {
            if !is_aws_name(name) {
                return Err(NameError::IpSet { name: name.clone() });
            }
        }
        if names.v4 == names.v6 {
            return Err(NameError::Same {
                name: names.v4.clone(),
            });
        }
        Ok(names)
    }

    /// The project's IP sets for an environment: `catalog-<env>-allow-v4` and
    /// `catalog-<env>-allow-v6` (`catalog-dev-allow-v4` for `dev`). The stack's template and the
    /// tools must agree on these, so they are named here only.
    pub fn for_env(env: &str) -> Result<IpSetNames, NameError> {
        let longest = format!("catalog-{env}-allow-v4");
        if env.is_empty() || !is_aws_name(&longest) {
            return Err(NameError::Env {
                env: env.to_owned(),
            });
        }
        IpSetNames::new(longest, format!("catalog-{env}-allow-v6"))
    }

    pub fn v4(&self) -> &str {
        &self.v4
    }

    pub fn v6(&self) -> &str {
        &self.v6
    }

    pub fn get(&self, version: IpVersion) -> &str {
        match version {
            IpVersion::V4 => &self.v4,
            IpVersion::V6 => &self.v6,
        }
    }
}

fn is_aws_name(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "`{name}` is not a valid IP set name: AWS WAF takes 1 to 128 ASCII letters, digits, `_` and `-`"
    )]
    IpSet { name: String },
    #[error("the IPv4 and IPv6 IP sets are both named `{name}`: give each its own name")]
    Same { name: String },
    #[error(
        "`{env}` is not a valid environment name: use ASCII letters, digits, `_` and `-` (such as \
         dev or prod), at most 111 characters"
    )]
    Env { env: String },
}

/// What `revoke` did for one CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// The entry that was removed.
    Removed(Entry),
    /// The CIDR had no entry (a range containing it may still allow it).
    NotFound(Cidr),
    /// The CIDR was in the IP set without an entry (added outside this tool); named here, it was
    /// removed.
    RemovedUnmanaged(Cidr),
}

/// Why a backend could not read or change an allow-list. Messages name the file or set and say
/// what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The change itself was refused; nothing was written to that IP set.
    #[error(transparent)]
    AllowList(#[from] AllowListError),
    #[error(
        "could not {action} {}: {error}; check that the directory exists and that you may read \
         and write it",
        path.display()
    )]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "{} is not a valid IP set file ({problem}); delete it, then allow the addresses again \
         (`cargo xtask ip allow <CIDR>`)",
        path.display()
    )]
    Corrupt { path: PathBuf, problem: String },
    #[error(
        "gave up after {}s waiting for {}, held by another process changing the allow-list; \
         try again when it has finished",
        waited.as_secs(),
        path.display()
    )]
    LockTimeout { path: PathBuf, waited: Duration },
    /// A call to the service that holds the sets (AWS WAF, DynamoDB) failed.
    #[error("{action} failed: {message}")]
    Service { action: String, message: String },
    /// Others kept changing the IP set while this change was being applied (AWS WAF's optimistic
    /// lock), and the bounded retries ran out.
    #[error(
        "gave up updating IP set {set} after {attempts} attempts over {:.1}s: others kept \
         changing it at the same time (WAFOptimisticLockException). {state} Run the same command \
         again in a moment",
        waited.as_secs_f64()
    )]
    Contended {
        set: String,
        attempts: u32,
        waited: Duration,
        /// What is left: the set unchanged, and whether the entries are recorded.
        state: String,
    },
}

/// A change to one IP set, for [`AllowListBackend::update_set`]: returns whether it changed
/// anything (nothing is written when not). It may run more than once, each time on a freshly
/// read set, so it must depend only on the set it is given (reset anything it collects).
pub type SetChange<'a> = dyn FnMut(&mut IpSet) -> Result<bool, AllowListError> + Send + 'a;

/// An allow-list store: one IP set per IP version, named by [`IpSetNames`].
///
/// `now` is always the caller's: expiries are computed and compared with the clock the caller
/// passes, which tests set.
#[async_trait]
pub trait AllowListBackend: Send + Sync {
    /// The names of the two IP sets.
    fn names(&self) -> &IpSetNames;

    /// Where the sets live, for people: a directory, or an AWS account and region.
    fn location(&self) -> String;

    /// Who is making changes, recorded as `added_by` on new entries: the local user, or the AWS
    /// principal.
    fn caller(&self) -> Option<String> {
        None
    }

    /// Whether entries keep their expiry, note and author. AWS WAF IP sets without the entries'
    /// table keep nothing but addresses.
    fn keeps_entries(&self) -> bool {
        true
    }

    /// The set of `version` as it is now; an IP set that does not exist yet is empty.
    async fn read_set(&self, version: IpVersion) -> Result<IpSet, BackendError>;

    /// Applies `change` to the set of `version` atomically: no concurrent update is lost, and
    /// nothing is written when `change` fails or reports no change.
    async fn update_set(
        &self,
        version: IpVersion,
        change: &mut SetChange<'_>,
    ) -> Result<(), BackendError>;

    /// Both sets. They are read one after the other, not as one snapshot.
    async fn list(&self) -> Result<AllowList, BackendError> {
        let v4 = self.read_set(IpVersion::V4).await?;
        let v6 = self.read_set(IpVersion::V6).await?;
        Ok(
            AllowList::from_sets(v4, v6)
                .expect("read_set returns the set of the version asked for"),
        )
    }

    /// Allows each CIDR for `ttl` from `now` (see [`IpSet::allow`]), in input order. Each IP set
    /// is updated once; if the IPv6 update fails, the IPv4 one has already happened.
    async fn allow(
        &self,
        cidrs: &[Cidr],
        ttl: Option<Duration>,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Vec<Allowed>, BackendError> {
        // Refuse a bad note or TTL before touching any set.
        check_allow(ttl, note, now)?;
        let mut results = Vec::with_capacity(cidrs.len());
        for version in IpVersion::ALL {
            let mine: Vec<Cidr> = of_version(cidrs, version).collect();
            if mine.is_empty() {
                continue;
            }
            let mut allowed = Vec::new();
            let caller = self.caller();
            self.update_set(version, &mut |set| {
                allowed.clear();
                for &cidr in &mine {
                    allowed.push(set.allow_by(cidr, ttl, note, caller.as_deref(), now)?);
                }
                Ok(true)
            })
            .await?;
            results.extend(allowed);
        }
        Ok(in_input_order(cidrs, results, |allowed| allowed.entry.cidr))
    }

    /// Removes the entry of each CIDR, in input order.
    async fn revoke(&self, cidrs: &[Cidr]) -> Result<Vec<Revoked>, BackendError> {
        let mut results = Vec::with_capacity(cidrs.len());
        for version in IpVersion::ALL {
            let mine: Vec<Cidr> = of_version(cidrs, version).collect();
            if mine.is_empty() {
                continue;
            }
            let mut revoked = Vec::new();
            self.update_set(version, &mut |set| {
                revoked.clear();
                for &cidr in &mine {
                    revoked.push(match set.revoke(cidr) {
                        Some(entry) => Revoked::Removed(entry),
                        None if set.remove_unmanaged_cidr(cidr) => Revoked::RemovedUnmanaged(cidr),
                        None => Revoked::NotFound(cidr),
                    });
                }
                Ok(revoked.iter().any(|r| !matches!(r, Revoked::NotFound(_))))
            })
            .await?;
            results.extend(revoked);
        }
        Ok(in_input_order(cidrs, results, |revoked| match revoked {
            Revoked::Removed(entry) => entry.cidr,
            Revoked::NotFound(cidr) | Revoked::RemovedUnmanaged(cidr) => *cidr,
        }))
    }

    /// Removes the CIDRs added outside this tool from both sets and returns them, IPv4 first:
    /// what `ip flush --unmanaged` asks for, and nothing else does.
    async fn flush_unmanaged(&self) -> Result<Vec<Cidr>, BackendError> {
        let mut results = Vec::new();
        for version in IpVersion::ALL {
            let mut removed = Vec::new();
            self.update_set(version, &mut |set| {
                removed = set.remove_unmanaged();
                Ok(!removed.is_empty())
            })
            .await?;
            results.extend(removed);
        }
        Ok(results)
    }

    /// Removes the entries expired by `now` from both sets and returns them, IPv4 first.
    async fn flush_expired(&self, now: OffsetDateTime) -> Result<Vec<Entry>, BackendError> {
        let mut results = Vec::new();
        for version in IpVersion::ALL {
            let mut flushed = Vec::new();
            self.update_set(version, &mut |set| {
                flushed = set.flush_expired(now);
                Ok(!flushed.is_empty())
            })
            .await?;
            results.extend(flushed);
        }
        Ok(results)
    }
}

/// The janitor: what runs on a schedule so that expired entries leave the IP sets even when
/// nobody runs a command. The AWS WAF Lambda and the local stack's timer both run this, each with
/// its backend.
pub async fn janitor(
    backend: &dyn AllowListBackend,
    now: OffsetDateTime,
) -> Result<Vec<Entry>, BackendError> {
    backend.flush_expired(now).await
}

fn of_version(cidrs: &[Cidr], version: IpVersion) -> impl Iterator<Item = Cidr> + '_ {
    cidrs
        .iter()
        .copied()
        .filter(move |cidr| cidr.version() == version)
}

/// Puts per-set results back in the order of `cidrs` (stable, so repeats keep their order).
fn in_input_order<T>(cidrs: &[Cidr], results: Vec<T>, cidr_of: impl Fn(&T) -> Cidr) -> Vec<T> {
    let mut results: Vec<(usize, T)> = results.into_iter().enumerate().collect();
    let rank = |cidr: Cidr| cidrs.iter().position(|&c| c == cidr).unwrap_or(usize::MAX);
    results.sort_by_key(|(index, result)| (rank(cidr_of(result)), *index));
    results.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_environment() {
        let names = IpSetNames::for_env("dev").unwrap();
        assert_eq!(names.v4(), "catalog-dev-allow-v4");
        assert_eq!(names.get(IpVersion::V6), "catalog-dev-allow-v6");
        assert_eq!(
            IpSetNames::for_env("prod_2").unwrap().v4(),
            "catalog-prod_2-allow-v4"
        );
    }

    #[test]
    fn refuses_names_aws_would_refuse() {
        for env in ["", "../x", "a b", "dév", &"x".repeat(112)] {
            let error = IpSetNames::for_env(env).unwrap_err();
            assert_eq!(
                error,
                NameError::Env {
                    env: env.to_owned()
                }
            );
        }
        assert!(IpSetNames::for_env(&"x".repeat(111)).is_ok());
        assert!(
            IpSetNames::new("a/b", "c")
                .unwrap_err()
                .to_string()
                .starts_with("`a/b` is not a valid IP set name")
        );
        assert!(matches!(
            IpSetNames::new("a", "a"),
            Err(NameError::Same { .. })
        ));
    }

    #[test]
    fn results_come_back_in_input_order() {
        let cidrs: Vec<Cidr> = ["::1", "1.1.1.1", "2.2.2.2", "::1"]
            .iter()
            .map(|c| c.parse().unwrap())
            .collect();
        // As the sets report them: IPv4 first, then IPv6.
        let per_set = vec![
            (cidrs[1], 'a'),
            (cidrs[2], 'b'),
            (cidrs[0], 'c'),
            (cidrs[3], 'd'),
        ];
        let ordered = in_input_order(&cidrs, per_set, |(cidr, _)| *cidr);
        let tags: String = ordered.iter().map(|(_, tag)| *tag).collect();
        assert_eq!(tags, "cdab");
    }
}
