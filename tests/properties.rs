//! Invariants checked on generated input (proptest): what the parsers and verifiers at the edge
//! of the system accept, whatever they are given. A failing case is shrunk to its simplest form
//! and saved by proptest; the ones found are kept below as explicit regression cases.
//!
//! - a Cognito token with any one character changed is refused, unless it decodes to the very
//!   same bytes (base64url's last character can carry unused bits);
//! - a page cursor with any one character changed, cut short or made up is refused, unless it
//!   decodes to the same bytes;
//! - CIDRs print as they parse, and parsing anything never panics;
//! - the template reader takes any JSON without panicking.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog::{Collection, CursorCodec, ListQuery};
use devstack::cognito::{Authorizer, LocalIssuer, TokenRequest, TrustedPool};
use e2e::local_stack::{dev_config, issuer, rendered_template};
use proptest::prelude::*;
use serde_json::Value;
use stack::Pattern;

/// An issuer of the dev environment's first pool (its key in a temporary state directory) and an
/// authorizer that trusts it, made once for every case.
fn cognito() -> &'static (LocalIssuer, Authorizer, tokio::runtime::Runtime) {
    static COGNITO: OnceLock<(LocalIssuer, Authorizer, tokio::runtime::Runtime)> = OnceLock::new();
    COGNITO.get_or_init(|| {
        let state = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let pool = dev_config().user_pools[0].clone();
        let issuer = issuer(state.path(), &pool);
        let authorizer = Authorizer::new([TrustedPool::local(&issuer)]).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (issuer, authorizer, runtime)
    })
}

/// The bytes a JWT's three parts decode to (`None` when a part is not base64url).
fn decoded(token: &str) -> Option<Vec<Vec<u8>>> {
    token
        .split('.')
        .map(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .collect()
}

fn accepted(token: &str) -> bool {
    let (_, authorizer, runtime) = cognito();
    runtime
        .block_on(authorizer.authorize(Some(token), &[]))
        .is_ok()
}

/// `text` with the character at `index` (modulo its length) replaced by `replacement`.
fn with_char_replaced(text: &str, index: usize, replacement: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let index = index % chars.len();
    chars[index] = replacement;
    chars.into_iter().collect()
}

/// Characters a mutation draws from: base64url's alphabet, the JWT separator, and a few others.
fn mutation_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %é"
            .chars()
            .collect::<Vec<_>>(),
    )
}

const CODEC: CursorCodec = CursorCodec::new("sqlite");

/// Walks down `path` (an index into each object's or array's members, as deep as it goes) and
/// replaces what is there.
fn replace_at(node: &mut Value, path: &[prop::sample::Index], replacement: Value) {
    if let Some((step, rest)) = path.split_first() {
        match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(step.index(map.len())).unwrap().clone();
                return replace_at(map.get_mut(&key).unwrap(), rest, replacement);
            }
            Value::Array(items) if !items.is_empty() => {
                let index = step.index(items.len());
                return replace_at(&mut items[index], rest, replacement);
            }
            _ => {}
        }
    }
    *node = replacement;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_changed_token_is_refused(index in any::<usize>(), replacement in mutation_char()) {
        let (issuer, _, _) = cognito();
        let token = issuer.mint_id_token(TokenRequest::new("alice"));
        prop_assume!(accepted(&token));
        let changed = with_char_replaced(&token, index, replacement);
        if changed != token && accepted(&changed) {
            prop_assert_eq!(decoded(&changed), decoded(&token), "{} was accepted", changed);
        }
    }

    #[test]
    fn made_up_tokens_are_refused(token in "\\PC{0,300}") {
        prop_assert!(!accepted(&token));
    }

    #[test]
    fn a_changed_cursor_is_refused(
        position in "[a-zA-Z0-9 ]{1,40}",
        index in any::<usize>(),
        replacement in mutation_char(),
    ) {
        let query = ListQuery::default();
        let cursor = CODEC.encode(Collection::Projects, &query, &position);
        let token = cursor.as_token().to_owned();
        let changed = with_char_replaced(&token, index, replacement);
        let read = CODEC.decode(
            &catalog::Cursor::from_token(changed.clone()),
            Collection::Projects,
            &query,
        );
        if changed != token {
            if let Ok(read) = read {
                prop_assert_eq!(
                    URL_SAFE_NO_PAD.decode(&changed).ok(),
                    URL_SAFE_NO_PAD.decode(&token).ok(),
                    "{} read as {:?}", changed, read
                );
            }
        }
        // Cut short, it is refused too.
        let cut = &token[..token.len() / 2];
        let read = CODEC.decode(&catalog::Cursor::from_token(cut), Collection::Projects, &query);
        prop_assert!(read.is_err());
    }

    #[test]
    fn made_up_cursors_are_refused(token in "\\PC{0,200}") {
        let read = CODEC.decode(
            &catalog::Cursor::from_token(token),
            Collection::Technologies,
            &ListQuery::default(),
        );
        prop_assert!(read.is_err());
    }

    #[test]
    fn cidrs_print_as_they_parse(bits in any::<u128>(), v4 in any::<bool>(), prefix in 1u8..=128) {
        let (network, prefix) = if v4 {
            (std::net::IpAddr::from(std::net::Ipv4Addr::from(bits as u32)), prefix.min(32))
        } else {
            (std::net::IpAddr::from(std::net::Ipv6Addr::from(bits)), prefix)
        };
        // Host bits cleared, as a network must be written.
        let cidr = match network {
            std::net::IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                waf::Cidr::new(std::net::Ipv4Addr::from(u32::from(a) & mask).into(), prefix)
            }
            std::net::IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                waf::Cidr::new(std::net::Ipv6Addr::from(u128::from(a) & mask).into(), prefix)
            }
        };
        // Some networks are refused on purpose (IPv4-mapped IPv6 ranges): those need not print.
        if let Ok(cidr) = cidr {
            let printed = cidr.to_string();
            prop_assert_eq!(printed.parse::<waf::Cidr>().ok(), Some(cidr));
            prop_assert!(cidr.contains(cidr.network()));
        }
    }

    #[test]
    fn parsing_anything_as_a_cidr_never_panics(text in "\\PC{0,60}") {
        let _ = text.parse::<waf::Cidr>();
    }

    #[test]
    fn the_template_reader_takes_any_change_without_panicking(
        path in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        replacement in prop_oneof![
            Just(Value::Null),
            Just(Value::from("")),
            Just(Value::from(7)),
            Just(serde_json::json!({"Ref": "Nowhere"})),
            Just(serde_json::json!({"Fn::GetAtt": ["Api"]})),
            Just(serde_json::json!([])),
        ],
    ) {
        let mut template = rendered_template(Pattern::Fat, &dev_config());
        replace_at(&mut template, &path, replacement);
        let _ = stack::ApiTemplate::read(&template);
    }
}
