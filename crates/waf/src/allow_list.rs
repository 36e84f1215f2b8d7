//! The allow-list as data: entries with optional expiries, one IP set per IP version.
//!
//! Everything here is pure: the caller passes `now`, so expiry is testable and every backend
//! (local files, AWS WAF) applies the same rules.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::cidr::{Cidr, IpVersion};

/// The most addresses and ranges an AWS WAF IP set holds; the local sets keep the same limit.
pub const MAX_ENTRIES_PER_SET: usize = 10_000;

/// The longest note, in characters: short enough for a table row (and an AWS tag value).
pub const MAX_NOTE_CHARS: usize = 256;

/// One allowed CIDR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub cidr: Cidr,
    /// When it was first allowed (a refresh keeps this).
    #[serde(with = "time::serde::rfc3339")]
    pub added_at: OffsetDateTime,
    /// When it stops allowing; `None` (`null` in files) never expires.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires_at: Option<OffsetDateTime>,
    /// Who or what it is for, e.g. "alice's laptop".
    #[serde(default)]
    pub note: Option<String>,
    /// Who allowed it first: a local user (`alice@laptop`) or an AWS principal's ARN.
    #[serde(default)]
    pub added_by: Option<String>,
}

impl Entry {
    /// Expired from its expiry instant on: an entry whose `expires_at` is `now` no longer allows.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_some_and(|expires_at| expires_at <= now)
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        !self.is_expired(now)
    }
}

/// What [`IpSet::allow`] did: added `entry`, or refreshed the `previous` entry of that CIDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    pub entry: Entry,
    /// The entry as it was before a refresh; `None` when the CIDR is new.
    pub previous: Option<Entry>,
}

impl Allowed {
    pub fn is_refresh(&self) -> bool {
        self.previous.is_some()
    }
}

/// Why a change to the allow-list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    #[error(
        "{cidr} is an {} range but the IP set holds {set} addresses: IPv4 and IPv6 live in separate IP sets",
        cidr.version()
    )]
    WrongVersion { cidr: Cidr, set: IpVersion },
    #[error(
        "the {version} IP set already holds {MAX_ENTRIES_PER_SET} entries, the most AWS WAF allows: \
         revoke some, or flush the expired ones, then allow {cidr} again"
    )]
    Full { version: IpVersion, cidr: Cidr },
    #[error("{cidr} appears twice in the {version} IP set; remove one of the two entries")]
    Duplicate { version: IpVersion, cidr: Cidr },
    #[error("a TTL of zero would expire at once: give a TTL of at least one second, or no expiry")]
    ZeroTtl,
    #[error("a TTL of {} seconds ends past the year 9999: give a shorter TTL, or no expiry", ttl.as_secs())]
    TtlTooLong { ttl: Duration },
    #[error(
        "the note is {chars} characters long: keep it to {MAX_NOTE_CHARS} characters on one line"
    )]
    NoteTooLong { chars: usize },
    #[error("the note contains control characters (such as line breaks): keep it to one line")]
    NoteHasControlCharacters,
}

/// The entries of one IP version, as one AWS WAF IP set holds them: unique CIDRs, sorted.
///
/// Beside its entries, a set may hold *unmanaged* CIDRs: addresses found in an AWS WAF IP set that
/// no entry describes, because someone added them outside this tool (in the console, say). They
/// have no expiry, count towards the set's limit, and go only when asked for: by name
/// ([`IpSet::remove_unmanaged_cidr`], what `revoke` does) or all at once
/// ([`IpSet::remove_unmanaged`]); flushing expired entries never touches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    version: IpVersion,
    entries: Vec<Entry>,
    unmanaged: Vec<Cidr>,
}

impl IpSet {
    pub fn new(version: IpVersion) -> IpSet {
        IpSet {
            version,
            entries: Vec::new(),
            unmanaged: Vec::new(),
        }
    }

    /// A set of the given entries (in any order), checking that each is of `version`, that no
    /// CIDR repeats and that there are at most [`MAX_ENTRIES_PER_SET`].
    pub fn from_entries(
        version: IpVersion,
        mut entries: Vec<Entry>,
    ) -> Result<IpSet, AllowListError> {
        if let Some(entry) = entries.iter().find(|entry| entry.cidr.version() != version) {
            return Err(AllowListError::WrongVersion {
                cidr: entry.cidr,
                set: version,
            });
        }
        entries.sort_by_key(|entry| entry.cidr);
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].cidr == pair[1].cidr) {
            return Err(AllowListError::Duplicate {
                version,
                cidr: pair[0].cidr,
            });
        }
        if let Some(entry) = entries.get(MAX_ENTRIES_PER_SET) {
            return Err(AllowListError::Full {
                version,
                cidr: entry.cidr,
            });
        }
        Ok(IpSet {
            version,
            entries,
            unmanaged: Vec::new(),
        })
    }

    /// The same set, also holding `unmanaged` CIDRs (see the type's documentation); a CIDR that
    /// an entry already describes is not unmanaged and is left out. Only their IP version is
    /// checked.
    pub fn with_unmanaged(mut self, mut unmanaged: Vec<Cidr>) -> Result<IpSet, AllowListError> {
        if let Some(&cidr) = unmanaged.iter().find(|cidr| cidr.version() != self.version) {
            return Err(AllowListError::WrongVersion {
                cidr,
                set: self.version,
            });
        }
        unmanaged.sort();
        unmanaged.dedup();
        unmanaged.retain(|&cidr| self.get(cidr).is_none());
        // No limit check here: reading a set must work whatever it holds (entries that expired
        // are no longer in the AWS set). Adding is what the limit refuses (see `allow`).
        self.unmanaged = unmanaged;
        Ok(self)
    }

    /// The CIDRs of the set that no entry describes, sorted.
    pub fn unmanaged(&self) -> &[Cidr] {
        &self.unmanaged
    }

    /// Removes `cidr` if it is unmanaged; says whether it was.
    pub fn remove_unmanaged_cidr(&mut self, cidr: Cidr) -> bool {
        let before = self.unmanaged.len();
        self.unmanaged.retain(|&c| c != cidr);
        self.unmanaged.len() != before
    }

    /// Removes every unmanaged CIDR and returns them.
    pub fn remove_unmanaged(&mut self) -> Vec<Cidr> {
        std::mem::take(&mut self.unmanaged)
    }

    /// Every CIDR the set lets through or holds: its entries' (expired ones included) and the
    /// unmanaged ones, sorted. This is the address list of the AWS WAF IP set it stands for.
    pub fn addresses(&self, now: OffsetDateTime) -> Vec<Cidr> {
        let mut addresses: Vec<Cidr> = self
            .active(now)
            .map(|entry| entry.cidr)
            .chain(self.unmanaged.iter().copied())
            .collect();
        addresses.sort();
        addresses
    }

    pub fn version(&self) -> IpVersion {
        self.version
    }

    /// Every entry, expired or not, sorted by CIDR.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for exactly this CIDR (not one of a range containing it).
    pub fn get(&self, cidr: Cidr) -> Option<&Entry> {
        self.position(cidr).ok().map(|index| &self.entries[index])
    }

    fn position(&self, cidr: Cidr) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&cidr, |entry| entry.cidr)
    }

    /// Allows `cidr` from `now` for `ttl` (`None`: until revoked). Allowing a CIDR that is
    /// already there refreshes it instead of adding a second entry: the expiry becomes
    /// `now + ttl` (the latest command wins, shorter or longer), the note is replaced when one is
    /// given, and `added_at` stays.
    pub fn allow(
        &mut self,
        cidr: Cidr,
        ttl: Option<Duration>,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Allowed, AllowListError> {
        self.allow_by(cidr, ttl, note, None, now)
    }

    /// [`IpSet::allow`], recording who allowed it when it is new. An unmanaged CIDR that is
    /// allowed becomes an entry like any other (and so gets an expiry).
    pub fn allow_by(
        &mut self,
        cidr: Cidr,
        ttl: Option<Duration>,
        note: Option<&str>,
        added_by: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Allowed, AllowListError> {
        if cidr.version() != self.version {
            return Err(AllowListError::WrongVersion {
                cidr,
                set: self.version,
            });
        }
        check_note(note)?;
        // Whole seconds in UTC: what people read in the files, and what AWS tags can hold.
        let now = now
            .to_offset(UtcOffset::UTC)
            .replace_nanosecond(0)
            .expect("0 is a valid nanosecond");
        let expires_at = ttl.map(|ttl| expiry(now, ttl)).transpose()?;
        match self.position(cidr) {
            Ok(index) => {
                let entry = &mut self.entries[index];
                let previous = entry.clone();
                entry.expires_at = expires_at;
                if let Some(note) = note {
                    entry.note = Some(note.to_owned());
                }
                Ok(Allowed {
                    entry: entry.clone(),
                    previous: Some(previous),
                })
            }
            Err(index) => {
                let adopted = self.unmanaged.iter().position(|&c| c == cidr);
                if adopted.is_none()
                    && self.entries.len() + self.unmanaged.len() >= MAX_ENTRIES_PER_SET
                {
                    return Err(AllowListError::Full {
                        version: self.version,
                        cidr,
                    });
                }
                if let Some(position) = adopted {
                    self.unmanaged.remove(position);
                }
                let entry = Entry {
                    cidr,
                    added_at: now,
                    expires_at,
                    note: note.map(str::to_owned),
                    added_by: added_by.map(str::to_owned),
                };
                self.entries.insert(index, entry.clone());
                Ok(Allowed {
                    entry,
                    previous: None,
                })
            }
        }
    }

    /// Removes the entry of exactly this CIDR; `None` when there was none. A range that contains
    /// `cidr` stays: revoke the range itself to block it.
    pub fn revoke(&mut self, cidr: Cidr) -> Option<Entry> {
        let index = self.position(cidr).ok()?;
        Some(self.entries.remove(index))
    }

    /// The entries that still allow at `now`.
    pub fn active(&self, now: OffsetDateTime) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.is_active(now))
    }

    /// The entries that have expired by `now` but are still in the set.
    pub fn expired(&self, now: OffsetDateTime) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |entry| entry.is_expired(now))
    }

    /// Removes the entries expired by `now` and returns them.
    pub fn flush_expired(&mut self, now: OffsetDateTime) -> Vec<Entry> {
        let (expired, active) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| entry.is_expired(now));
        self.entries = active;
        expired
    }

    /// Whether an unexpired entry contains `ip` (an IPv4-mapped IPv6 address counts as IPv4, see
    /// [`Cidr::contains`]).
    pub fn allows(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        self.active(now).any(|entry| entry.cidr.contains(ip))
    }
}

/// Checks a TTL and note as [`IpSet::allow`] would, without changing anything: lets a caller
/// refuse a bad request before it touches any set.
pub fn check_allow(
    ttl: Option<Duration>,
    note: Option<&str>,
    now: OffsetDateTime,
) -> Result<(), AllowListError> {
    check_note(note)?;
    ttl.map(|ttl| expiry(now, ttl)).transpose()?;
    Ok(())
}

fn check_note(note: Option<&str>) -> Result<(), AllowListError> {
    let Some(note) = note else { return Ok(()) };
    let chars = note.chars().count();
    if chars > MAX_NOTE_CHARS {
        return Err(AllowListError::NoteTooLong { chars });
    }
    if note.chars().any(char::is_control) {
        return Err(AllowListError::NoteHasControlCharacters);
    }
    Ok(())
}

/// `now + ttl`, refusing what RFC 3339 files cannot hold.
fn expiry(now: OffsetDateTime, ttl: Duration) -> Result<OffsetDateTime, AllowListError> {
    if ttl.is_zero() {
        return Err(AllowListError::ZeroTtl);
    }
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .filter(|at| at.year() <= 9999)
        .ok_or(AllowListError::TtlTooLong { ttl })
}

/// The whole allow-list: an IPv4 set and an IPv6 set, as AWS WAF needs. Each operation routes a
/// CIDR or address to the set of its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    v4: IpSet,
    v6: IpSet,
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList::new()
    }
}

impl AllowList {
    /// An empty allow-list: allows nobody.
    pub fn new() -> AllowList {
        AllowList {
            v4: IpSet::new(IpVersion::V4),
            v6: IpSet::new(IpVersion::V6),
        }
    }

    /// Pairs two sets; `None` unless `v4` is the IPv4 set and `v6` the IPv6 one.
    pub fn from_sets(v4: IpSet, v6: IpSet) -> Option<AllowList> {
        (v4.version() == IpVersion::V4 && v6.version() == IpVersion::V6)
            .then_some(AllowList { v4, v6 })
    }

    pub fn v4(&self) -> &IpSet {
        &self.v4
    }

    pub fn v6(&self) -> &IpSet {
        &self.v6
    }

    pub fn set(&self, version: IpVersion) -> &IpSet {
        match version {
            IpVersion::V4 => &self.v4,
            IpVersion::V6 => &self.v6,
        }
    }

    pub fn set_mut(&mut self, version: IpVersion) -> &mut IpSet {
        match version {
            IpVersion::V4 => &mut self.v4,
            IpVersion::V6 => &mut self.v6,
        }
    }

    /// Every entry, IPv4 first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.v4.entries().iter().chain(self.v6.entries())
    }

    /// Every unmanaged CIDR (see [`IpSet`]), IPv4 first.
    pub fn unmanaged(&self) -> impl Iterator<Item = &Cidr> {
        self.v4.unmanaged().iter().chain(self.v6.unmanaged())
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// See [`IpSet::allow`]; goes to the set of `cidr`'s version.
    pub fn allow(
        &mut self,
        cidr: Cidr,
        ttl: Option<Duration>,
        note: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Allowed, AllowListError> {
        self.set_mut(cidr.version()).allow(cidr, ttl, note, now)
    }

    /// See [`IpSet::revoke`].
    pub fn revoke(&mut self, cidr: Cidr) -> Option<Entry> {
        self.set_mut(cidr.version()).revoke(cidr)
    }

    pub fn active(&self, now: OffsetDateTime) -> impl Iterator<Item = &Entry> {
        self.v4.active(now).chain(self.v6.active(now))
    }

    pub fn expired(&self, now: OffsetDateTime) -> impl Iterator<Item = &Entry> {
        self.v4.expired(now).chain(self.v6.expired(now))
    }

    pub fn flush_expired(&mut self, now: OffsetDateTime) -> Vec<Entry> {
        let mut flushed = self.v4.flush_expired(now);
        flushed.extend(self.v6.flush_expired(now));
        flushed
    }

    /// Whether `ip` may pass: only the set of its version is consulted, and an IPv4-mapped IPv6
    /// peer (`::ffff:127.0.0.2`) is looked up in the IPv4 set.
    pub fn allows(&self, ip: IpAddr, now: OffsetDateTime) -> bool {
        self.set(IpVersion::of(ip)).allows(ip, now)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);
    const HOUR: Duration = Duration::from_secs(3600);

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn allowed_addresses_pass_until_they_expire() {
        let mut list = AllowList::new();
        let allowed = list
            .allow(cidr("127.0.0.2"), Some(12 * HOUR), Some("laptop"), NOW)
            .unwrap();
        assert!(!allowed.is_refresh());
        assert_eq!(allowed.entry.added_at, NOW);
        assert_eq!(
            allowed.entry.expires_at,
            Some(datetime!(2026-11-28 14:00 UTC))
        );
        assert_eq!(allowed.entry.note.as_deref(), Some("laptop"));
        let odd_now = datetime!(2026-11-28 03:00:00.75 +1);
        let allowed = AllowList::new()
            .allow(cidr("::1"), Some(HOUR), None, odd_now)
            .unwrap();
        assert_eq!(allowed.entry.added_at.offset(), UtcOffset::UTC);
        assert_eq!(allowed.entry.added_at, NOW, "stored in whole seconds");
        assert_eq!(allowed.entry.expires_at, Some(NOW + HOUR));

        assert!(list.allows(ip("127.0.0.2"), NOW));
        assert!(!list.allows(ip("127.0.0.3"), NOW));
        let just_before = datetime!(2026-11-28 13:59:59.999 UTC);
        assert!(list.allows(ip("127.0.0.2"), just_before));
        let at_expiry = datetime!(2026-11-28 14:00 UTC);
        assert!(
            !list.allows(ip("127.0.0.2"), at_expiry),
            "expired at its expiry instant"
        );
        assert_eq!(list.active(at_expiry).count(), 0);
        assert_eq!(list.expired(at_expiry).count(), 1);
        assert_eq!(list.expired(NOW).count(), 0);
    }

    #[test]
    fn entries_without_ttl_never_expire() {
        let mut list = AllowList::new();
        list.allow(cidr("10.0.0.0/8"), None, None, NOW).unwrap();
        assert!(list.allows(ip("10.20.30.40"), datetime!(9999-12-31 23:59 UTC)));
        assert!(
            list.flush_expired(datetime!(9999-12-31 23:59 UTC))
                .is_empty()
        );
    }

    #[test]
    fn re_allowing_refreshes_instead_of_duplicating() {
        let mut list = AllowList::new();
        list.allow(cidr("127.0.0.2"), Some(HOUR), Some("laptop"), NOW)
            .unwrap();
        let later = NOW + time::Duration::minutes(50);
        let refreshed = list
            .allow(cidr("127.0.0.2"), Some(HOUR), None, later)
            .unwrap();
        assert!(refreshed.is_refresh());
        assert_eq!(list.len(), 1);
        let entry = &list.v4().entries()[0];
        assert_eq!(entry.expires_at, Some(later + time::Duration::HOUR));
        assert_eq!(
            entry.added_at, NOW,
            "a refresh keeps when it was first allowed"
        );
        assert_eq!(
            entry.note.as_deref(),
            Some("laptop"),
            "no new note keeps the old one"
        );
        assert_eq!(
            refreshed.previous.unwrap().expires_at,
            Some(NOW + time::Duration::HOUR)
        );

        // An expired entry comes back to life; `never` and a new note replace what was there.
        let much_later = NOW + time::Duration::days(2);
        assert!(!list.allows(ip("127.0.0.2"), much_later));
        list.allow(cidr("127.0.0.2"), None, Some("desk"), much_later)
            .unwrap();
        assert!(list.allows(ip("127.0.0.2"), much_later));
        assert_eq!(list.v4().entries()[0].expires_at, None);
        assert_eq!(list.v4().entries()[0].note.as_deref(), Some("desk"));
    }

    #[test]
    fn each_version_goes_to_its_own_set() {
        let mut list = AllowList::new();
        list.allow(cidr("::1"), None, None, NOW).unwrap();
        list.allow(cidr("127.0.0.1"), None, None, NOW).unwrap();
        list.allow(cidr("2001:db8::/32"), None, None, NOW).unwrap();
        assert_eq!(list.v4().len(), 1);
        assert_eq!(list.v6().len(), 2);
        assert!(list.allows(ip("::1"), NOW));
        assert!(list.allows(ip("127.0.0.1"), NOW));
        assert!(!list.allows(ip("::2"), NOW));
        let shown: Vec<String> = list.entries().map(|e| e.cidr.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "::1/128", "2001:db8::/32"]);

        let mut v4 = IpSet::new(IpVersion::V4);
        assert_eq!(
            v4.allow(cidr("::1"), None, None, NOW)
                .unwrap_err()
                .to_string(),
            "::1/128 is an IPv6 range but the IP set holds IPv4 addresses: IPv4 and IPv6 live in \
             separate IP sets"
        );
        assert!(
            AllowList::from_sets(IpSet::new(IpVersion::V6), IpSet::new(IpVersion::V4)).is_none()
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_is_checked_against_the_ipv4_set() {
        let mut list = AllowList::new();
        list.allow(cidr("127.0.0.2"), None, None, NOW).unwrap();
        assert!(list.allows(ip("::ffff:127.0.0.2"), NOW));
        assert!(!list.allows(ip("::ffff:127.0.0.3"), NOW));
        list.allow(cidr("::/1"), None, None, NOW).unwrap();
        assert!(!list.allows(ip("::ffff:127.0.0.3"), NOW));
    }

    #[test]
    fn revoke_removes_exactly_that_cidr() {
        let mut list = AllowList::new();
        list.allow(cidr("10.0.0.0/8"), None, None, NOW).unwrap();
        list.allow(cidr("10.1.2.3"), None, None, NOW).unwrap();
        assert_eq!(
            list.revoke(cidr("10.1.2.3")).unwrap().cidr,
            cidr("10.1.2.3")
        );
        assert_eq!(list.revoke(cidr("10.1.2.3")), None);
        assert!(list.allows(ip("10.1.2.3"), NOW), "still inside 10.0.0.0/8");
        assert!(list.revoke(cidr("10.0.0.0/8")).is_some());
        assert!(!list.allows(ip("10.1.2.3"), NOW));
        assert!(list.is_empty());
    }

    #[test]
    fn flush_removes_only_the_expired() {
        let mut list = AllowList::new();
        list.allow(cidr("1.1.1.1"), Some(HOUR), None, NOW).unwrap();
        list.allow(cidr("2.2.2.2"), Some(3 * HOUR), None, NOW)
            .unwrap();
        list.allow(cidr("::2"), Some(HOUR), None, NOW).unwrap();
        list.allow(cidr("::3"), None, None, NOW).unwrap();
        let flushed = list.flush_expired(NOW + time::Duration::hours(2));
        let flushed: Vec<String> = flushed.iter().map(|e| e.cidr.to_string()).collect();
        assert_eq!(flushed, ["1.1.1.1/32", "::2/128"]);
        let left: Vec<String> = list.entries().map(|e| e.cidr.to_string()).collect();
        assert_eq!(left, ["2.2.2.2/32", "::3/128"]);
    }

    #[test]
    fn refuses_bad_ttls_and_notes() {
        let mut list = AllowList::new();
        let one = cidr("1.1.1.1");
        assert_eq!(
            list.allow(one, Some(Duration::ZERO), None, NOW),
            Err(AllowListError::ZeroTtl)
        );
        let forever = Duration::from_secs(10_000 * 366 * 24 * 3600);
        assert!(
            list.allow(one, Some(forever), None, NOW)
                .unwrap_err()
                .to_string()
                .contains("ends past the year 9999")
        );
        assert!(list.allow(one, Some(Duration::MAX), None, NOW).is_err());
        assert_eq!(
            list.allow(one, None, Some("two\nlines"), NOW),
            Err(AllowListError::NoteHasControlCharacters)
        );
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            list.allow(one, None, Some(&long), NOW),
            Err(AllowListError::NoteTooLong { chars: 257 })
        );
        assert!(list.is_empty(), "nothing refused was added");
    }

    #[test]
    fn a_set_holds_at_most_ten_thousand_entries() {
        let mut set = IpSet::new(IpVersion::V4);
        for n in 0..MAX_ENTRIES_PER_SET as u32 {
            let address = std::net::Ipv4Addr::from(0x0a00_0000 + n);
            set.allow(Cidr::host(address.into()), None, None, NOW)
                .unwrap();
        }
        let error = set.allow(cidr("192.0.2.1"), None, None, NOW).unwrap_err();
        assert!(
            error.to_string().contains("already holds 10000 entries"),
            "{error}"
        );
        // Refreshing an entry already there still works.
        set.allow(cidr("10.0.0.0/32"), Some(HOUR), None, NOW)
            .unwrap();
    }

    #[test]
    fn from_entries_sorts_and_checks() {
        let entry = |text: &str| Entry {
            cidr: cidr(text),
            added_at: NOW,
            expires_at: None,
            note: None,
            added_by: None,
        };
        let set =
            IpSet::from_entries(IpVersion::V4, vec![entry("2.2.2.2"), entry("1.1.1.1")]).unwrap();
        assert_eq!(set.entries()[0].cidr, cidr("1.1.1.1"));
        assert_eq!(
            IpSet::from_entries(IpVersion::V4, vec![entry("1.1.1.1"), entry("1.1.1.1")]),
            Err(AllowListError::Duplicate {
                version: IpVersion::V4,
                cidr: cidr("1.1.1.1")
            })
        );
        assert!(matches!(
            IpSet::from_entries(IpVersion::V6, vec![entry("1.1.1.1")]),
            Err(AllowListError::WrongVersion { .. })
        ));
    }

    #[test]
    fn entries_are_stored_as_rfc3339() {
        let entry = Entry {
            cidr: cidr("127.0.0.2"),
            added_at: NOW,
            expires_at: Some(datetime!(2026-11-28 14:00 UTC)),
            note: None,
            added_by: None,
        };
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(
            json,
            r#"{"cidr":"127.0.0.2/32","added_at":"2026-11-28T02:00:00Z","expires_at":"2026-11-28T14:00:00Z","note":null,"added_by":null}"#
        );
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), entry);
        // Files written before `added_by` existed still read.
        let older =
            r#"{"cidr":"127.0.0.2/32","added_at":"2026-11-28T02:00:00Z","expires_at":null}"#;
        assert_eq!(serde_json::from_str::<Entry>(older).unwrap().added_by, None);
    }

    #[test]
    fn unmanaged_cidrs_stay_until_asked_for_and_count_towards_the_limit() {
        let mut set = IpSet::new(IpVersion::V4);
        set.allow_by(cidr("1.1.1.1"), Some(HOUR), None, Some("alice"), NOW)
            .unwrap();
        let mut set = set
            .with_unmanaged(vec![cidr("9.9.9.9"), cidr("1.1.1.1"), cidr("8.8.8.8")])
            .unwrap();
        // 1.1.1.1 has an entry, so it is not unmanaged.
        assert_eq!(set.unmanaged(), [cidr("8.8.8.8"), cidr("9.9.9.9")]);
        assert_eq!(set.entries()[0].added_by.as_deref(), Some("alice"));
        // Flushing expired entries, or revoking, leaves them.
        let later = NOW + time::Duration::hours(2);
        assert_eq!(set.flush_expired(later).len(), 1);
        assert_eq!(set.revoke(cidr("9.9.9.9")), None);
        assert_eq!(set.addresses(later), [cidr("8.8.8.8"), cidr("9.9.9.9")]);
        assert!(!set.remove_unmanaged_cidr(cidr("7.7.7.7")));
        // Allowing one makes it an entry with an expiry.
        let adopted = set.allow(cidr("8.8.8.8"), Some(HOUR), None, later).unwrap();
        assert!(!adopted.is_refresh());
        assert_eq!(set.unmanaged(), [cidr("9.9.9.9")]);
        assert_eq!(set.remove_unmanaged(), [cidr("9.9.9.9")]);
        assert!(set.unmanaged().is_empty());

        let full: Vec<Cidr> = (0..MAX_ENTRIES_PER_SET as u32)
            .map(|i| Cidr::host(std::net::Ipv4Addr::from(0x0a00_0000 + i).into()))
            .collect();
        let mut full = IpSet::new(IpVersion::V4).with_unmanaged(full).unwrap();
        assert!(matches!(
            full.allow(cidr("192.0.2.1"), None, None, NOW),
            Err(AllowListError::Full { .. })
        ));
        assert!(matches!(
            IpSet::new(IpVersion::V6).with_unmanaged(vec![cidr("1.1.1.1")]),
            Err(AllowListError::WrongVersion { .. })
        ));
    }

    #[test]
    fn the_address_list_leaves_expired_entries_out() {
        let mut set = IpSet::new(IpVersion::V4);
        set.allow(cidr("1.1.1.1"), Some(HOUR), None, NOW).unwrap();
        set.allow(cidr("2.2.2.2"), None, None, NOW).unwrap();
        assert_eq!(set.addresses(NOW), [cidr("1.1.1.1"), cidr("2.2.2.2")]);
        assert_eq!(
            set.addresses(NOW + time::Duration::hours(1)),
            [cidr("2.2.2.2")]
        );
    }
}
