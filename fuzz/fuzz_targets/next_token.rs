//! The page cursor (`next_token`) decoder, on any token a client can send back. The input is
//! three lines: the collection, the name filter, and the token, or `!` and the bytes of a cursor
//! that get a valid check appended (the check is a plain SHA-256, which anyone can compute, so
//! what lies behind it must be read as carefully as what lies before). The decoder never panics,
//! and a token it accepts is one the codec makes: encoding what it read gives the token back.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog::{Collection, Cursor, CursorCodec, ListQuery};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const CODEC: CursorCodec = CursorCodec::new("sqlite");

/// The check's length in the cursor format (crates/catalog/src/cursor.rs).
const CHECK_LEN: usize = 16;

fuzz_target!(|bytes: &[u8]| {
    let mut lines = bytes.splitn(3, |&b| b == b'\n');
    let (Some(collection), Some(filter), Some(token)) = (lines.next(), lines.next(), lines.next())
    else {
        return;
    };
    let collection = if collection == b"projects" {
        Collection::Projects
    } else {
        Collection::Technologies
    };
    let query = ListQuery {
        name_contains: (!filter.is_empty()).then(|| String::from_utf8_lossy(filter).into_owned()),
        ..ListQuery::default()
    };
    let token = match token.strip_prefix(b"!") {
        Some(body) => {
            let mut forged = body.to_vec();
            forged.extend_from_slice(&Sha256::digest(body)[..CHECK_LEN]);
            URL_SAFE_NO_PAD.encode(forged)
        }
        None => String::from_utf8_lossy(token).into_owned(),
    };
    if let Ok(position) = CODEC.decode(&Cursor::from_token(token.clone()), collection, &query) {
        let again = CODEC.encode(collection, &query, &position);
        assert_eq!(again.as_token(), token, "read as {position:?}");
    }
});
