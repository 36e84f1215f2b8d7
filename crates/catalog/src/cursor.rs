//! Page cursors: opaque tokens a store makes so that a listing resumes where its last page ended.
//!
//! A cursor names the listing it continues (the kind of store, the collection, the name filter),
//! the position in it, and ends with a check over all of that. A store reads back only the cursors
//! it made for the very listing asked for: one that was altered, cut short, or made by another kind
//! of store, for another collection or another filter is refused with a [`CursorError`], never read
//! as some other position.
//!
//! The check is a plain SHA-256, not a keyed one. A key would have to be a secret shared by every
//! function of either pattern and outlive their cold starts, and it would buy nothing: whoever
//! forges a well-formed cursor chooses only the position a listing resumes after, within the
//! collection and filter of the request itself, all of which any client can page through. The
//! page that comes back is still a true page of that listing. Stores keep it so by taking only the
//! position from a cursor and rebuilding everything else (the key of the collection, the filter)
//! from the request.
//!
//! Format (version 1), base64url without padding of:
//!
//! | bytes | content |
//! |---|---|
//! | 1 | format version, 1 |
//! | 1 + n | the kind of store that made it (`memory`, `sqlite`, ...), length first |
//! | 1 + n | the collection (`projects`, `technologies`), length first |
//! | 8 | the name filter's fingerprint: SHA-256 of the filter, ASCII-lowercased (empty when none) |
//! | rest | the position, UTF-8: for the stores of today the last name of the previous page |
//! | 16 | the check: SHA-256 of every byte before it, truncated |

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{Collection, ListQuery};

const VERSION: u8 = 1;
const FILTER_FINGERPRINT_LEN: usize = 8;
const CHECK_LEN: usize = 16;

/// Where a listing resumes, as the client holds it: text only the store that made it can read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// A token as a client sent it back, not checked yet: only the store can tell if it is good.
    pub fn from_token(token: impl Into<String>) -> Cursor {
        Cursor(token.into())
    }

    pub fn as_token(&self) -> &str {
        &self.0
    }

    pub fn into_token(self) -> String {
        self.0
    }
}

/// Why a store refused a cursor. Every case is the client's to fix by listing again without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("the page cursor was altered or cut short")]
    Damaged,
    #[error("the page cursor has format version {0}, which this store does not read")]
    UnknownVersion(u8),
    #[error("the page cursor was made by another store ({made_by}), not by this one ({this})")]
    OtherStore { made_by: String, this: &'static str },
    #[error("the page cursor continues the {made_for} listing, not the {} one", .this.name())]
    OtherCollection { made_for: String, this: Collection },
    #[error("the page cursor continues a listing with another name filter")]
    OtherFilter,
}

/// Makes and reads the cursors of one kind of store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorCodec {
    store: &'static str,
}

impl CursorCodec {
    /// The codec of the store kind `store` (`"memory"`, `"sqlite"`): cursors it makes are refused
    /// by the codec of any other kind, since their positions need not mean the same thing.
    pub const fn new(store: &'static str) -> CursorCodec {
        assert!(
            !store.is_empty() && store.len() <= u8::MAX as usize,
            "a store kind is 1 to 255 bytes"
        );
        CursorCodec { store }
    }

    pub fn store(&self) -> &'static str {
        self.store
    }

    /// The cursor that resumes `collection`'s listing by `query` after `position`.
    pub fn encode(&self, collection: Collection, query: &ListQuery, position: &str) -> Cursor {
        let mut bytes = vec![VERSION];
        push_with_length(&mut bytes, self.store);
        push_with_length(&mut bytes, collection.name());
        bytes.extend_from_slice(&filter_fingerprint(query));
        bytes.extend_from_slice(position.as_bytes());
        let check = check_of(&bytes);
        bytes.extend_from_slice(&check);
        Cursor(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The position `cursor` resumes after, if this kind of store made it for this very listing.
    pub fn decode(
        &self,
        cursor: &Cursor,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<String, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(&cursor.0)
            .map_err(|_| CursorError::Damaged)?;
        let body_len = bytes
            .len()
            .checked_sub(CHECK_LEN)
            .ok_or(CursorError::Damaged)?;
        let (body, check) = bytes.split_at(body_len);
        if check != check_of(body) {
            return Err(CursorError::Damaged);
        }
        // Past the check, the bytes are as some codec wrote them: what remains to refuse is a
        // cursor of another format, store or listing (or a forged one, which these reads catch).
        let mut fields = Fields(body);
        let version = fields.byte()?;
        if version != VERSION {
            return Err(CursorError::UnknownVersion(version));
        }
        let made_by = fields.with_length()?;
        if made_by != self.store {
            return Err(CursorError::OtherStore {
                made_by: made_by.to_owned(),
                this: self.store,
            });
        }
        let made_for = fields.with_length()?;
        if made_for != collection.name() {
            return Err(CursorError::OtherCollection {
                made_for: made_for.to_owned(),
                this: collection,
            });
        }
        if fields.take(FILTER_FINGERPRINT_LEN)? != filter_fingerprint(query) {
            return Err(CursorError::OtherFilter);
        }
        String::from_utf8(fields.0.to_vec()).map_err(|_| CursorError::Damaged)
    }

    /// Where `query` resumes in `collection`: the position in its cursor, `None` on a first page.
    pub fn resumes_after(
        &self,
        collection: Collection,
        query: &ListQuery,
    ) -> Result<Option<String>, CursorError> {
        query
            .after
            .as_ref()
            .map(|cursor| self.decode(cursor, collection, query))
            .transpose()
    }
}

fn push_with_length(bytes: &mut Vec<u8>, text: &str) {
    let length = u8::try_from(text.len()).expect("store kinds and collection names are short");
    bytes.push(length);
    bytes.extend_from_slice(text.as_bytes());
}

/// A filter differing only in ASCII case selects the same items, so it is the same listing.
fn filter_fingerprint(query: &ListQuery) -> [u8; FILTER_FINGERPRINT_LEN] {
    let filter = query
        .name_contains
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let digest = Sha256::digest(filter.as_bytes());
    digest[..FILTER_FINGERPRINT_LEN]
        .try_into()
        .expect("a SHA-256 is longer than the fingerprint")
}

fn check_of(body: &[u8]) -> [u8; CHECK_LEN] {
    Sha256::digest(body)[..CHECK_LEN]
        .try_into()
        .expect("a SHA-256 is longer than the check")
}

/// Reads a cursor's fields in order; running out of bytes means it was not written by a codec.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], CursorError> {
        if self.0.len() < count {
            return Err(CursorError::Damaged);
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, CursorError> {
        Ok(self.take(1)?[0])
    }

    fn with_length(&mut self) -> Result<&'a str, CursorError> {
        let length = usize::from(self.byte()?);
        std::str::from_utf8(self.take(length)?).map_err(|_| CursorError::Damaged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQLITE: CursorCodec = CursorCodec::new("sqlite");

    fn query(filter: Option<&str>) -> ListQuery {
        ListQuery {
            name_contains: filter.map(str::to_owned),
            ..ListQuery::default()
        }
    }

    #[test]
    fn positions_round_trip_in_url_safe_tokens() {
        for position in ["Atlas", "naïve name", "a+b=c/d", "", &"é".repeat(100)] {
            let cursor = SQLITE.encode(Collection::Projects, &query(Some("a")), position);
            assert!(
                cursor
                    .as_token()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)),
                "{cursor:?}"
            );
            let read = SQLITE.decode(&cursor, Collection::Projects, &query(Some("a")));
            assert_eq!(read.as_deref(), Ok(position));
        }
    }

    #[test]
    fn a_filter_differing_only_in_ascii_case_is_the_same_listing() {
        let cursor = SQLITE.encode(Collection::Projects, &query(Some("Atl")), "Atlas");
        let read = SQLITE.decode(&cursor, Collection::Projects, &query(Some("aTL")));
        assert_eq!(read.as_deref(), Ok("Atlas"));
    }

    #[test]
    fn every_one_character_change_and_every_truncation_is_damage() {
        let token = SQLITE
            .encode(Collection::Projects, &query(None), "Atlas")
            .into_token();
        for index in 0..token.len() {
            let mut changed = token.clone().into_bytes();
            changed[index] = if changed[index] == b'A' { b'B' } else { b'A' };
            let changed = Cursor::from_token(String::from_utf8(changed).unwrap());
            assert_eq!(
                SQLITE.decode(&changed, Collection::Projects, &query(None)),
                Err(CursorError::Damaged),
                "character {index} changed"
            );
        }
        for length in 0..token.len() {
            let cut = Cursor::from_token(&token[..length]);
            assert_eq!(
                SQLITE.decode(&cut, Collection::Projects, &query(None)),
                Err(CursorError::Damaged),
                "cut to {length}"
            );
        }
    }

    #[test]
    fn the_unchecked_tokens_of_earlier_versions_are_damage() {
        // Before cursors were checked, a token was the base64url of the last name.
        let old = Cursor::from_token(URL_SAFE_NO_PAD.encode("Atlas"));
        assert_eq!(
            SQLITE.decode(&old, Collection::Projects, &query(None)),
            Err(CursorError::Damaged)
        );
    }

    #[test]
    fn cursors_of_another_listing_or_store_are_refused_saying_which() {
        let cursor = SQLITE.encode(Collection::Projects, &query(Some("a")), "Atlas");
        assert_eq!(
            SQLITE.decode(&cursor, Collection::Technologies, &query(Some("a"))),
            Err(CursorError::OtherCollection {
                made_for: "projects".into(),
                this: Collection::Technologies
            })
        );
        assert_eq!(
            SQLITE.decode(&cursor, Collection::Projects, &query(Some("b"))),
            Err(CursorError::OtherFilter)
        );
        assert_eq!(
            SQLITE.decode(&cursor, Collection::Projects, &query(None)),
            Err(CursorError::OtherFilter)
        );
        let memory = CursorCodec::new("memory");
        let refused = memory.decode(&cursor, Collection::Projects, &query(Some("a")));
        assert_eq!(
            refused,
            Err(CursorError::OtherStore {
                made_by: "sqlite".into(),
                this: "memory"
            })
        );
        assert!(
            refused.unwrap_err().to_string().contains("sqlite"),
            "the message names the store"
        );
    }

    #[test]
    fn a_well_checked_cursor_of_another_format_is_refused_by_its_version() {
        let mut body = vec![2];
        push_with_length(&mut body, "sqlite");
        let check = check_of(&body);
        body.extend_from_slice(&check);
        let cursor = Cursor::from_token(URL_SAFE_NO_PAD.encode(body));
        assert_eq!(
            SQLITE.decode(&cursor, Collection::Projects, &query(None)),
            Err(CursorError::UnknownVersion(2))
        );
    }

    #[test]
    fn a_first_page_resumes_nowhere() {
        assert_eq!(
            SQLITE.resumes_after(Collection::Projects, &query(None)),
            Ok(None)
        );
        let after = SQLITE.encode(Collection::Projects, &query(None), "b");
        let next = ListQuery {
            after: Some(after),
            ..query(None)
        };
        assert_eq!(
            SQLITE.resumes_after(Collection::Projects, &next),
            Ok(Some("b".into()))
        );
    }
}
