//! The Cognito authorizer's token check (`devstack::cognito::Authorizer`), as an attacker feeds it:
//!
//! - any `Authorization` header is refused (forging an RS256 signature is not a fuzzer's job, so
//!   whatever it makes is a forgery);
//! - a token signed by the pool's own key with any claims is accepted only when the claims are
//!   what API Gateway requires: this pool's `iss`, `token_use` `id` for one of its app clients
//!   (or `access` granting a scope the method lists), unexpired, not issued in the future;
//! - any header in front of a genuine payload and signature is refused unless it is the very
//!   header that was signed.

#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::cognito::{
    Authorizer, Claims, EXP_LEEWAY, IAT_MAX_AHEAD, LocalIssuer, TokenRequest, TrustedPool, UserPool,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const CLIENT: &str = "web";
const SCOPE: &str = "catalog/write";

struct Verifier {
    issuer: LocalIssuer,
    authorizer: Authorizer,
    runtime: tokio::runtime::Runtime,
    genuine: String,
}

/// One pool's issuer (its key kept in the temporary directory, so runs and reproductions share
/// it) and an authorizer that trusts it.
fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let pool = UserPool::new(
            "catalog-fuzz",
            "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Fuzz12345",
            vec![CLIENT.to_owned()],
        )
        .unwrap();
        let state = std::env::temp_dir().join("catalog-fuzz-cognito");
        let issuer = LocalIssuer::open(pool, state).unwrap();
        let authorizer = Authorizer::new([TrustedPool::local(&issuer)]).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let genuine = issuer.mint_id_token(TokenRequest::new("alice"));
        Verifier {
            issuer,
            authorizer,
            runtime,
            genuine,
        }
    })
}

fn check(header: &str, scopes: &[String]) -> Result<Claims, devstack::cognito::Denied> {
    let verifier = verifier();
    verifier
        .runtime
        .block_on(verifier.authorizer.authorize(Some(header), scopes))
}

/// Whether API Gateway would take a token with these claims (signature aside).
fn valid(claims: &Map<String, Value>, issuer: &str, scopes: &[String]) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as f64;
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let times = number("exp").is_some_and(|exp| now < exp + EXP_LEEWAY.as_secs_f64())
        && number("iat").is_some_and(|iat| iat <= now + IAT_MAX_AHEAD.as_secs_f64())
        && claims.get("nbf").is_none_or(|nbf| {
            nbf.as_f64()
                .is_some_and(|nbf| nbf <= now + EXP_LEEWAY.as_secs_f64())
        });
    let purpose = if scopes.is_empty() {
        text("token_use") == Some("id") && text("aud") == Some(CLIENT)
    } else {
        text("token_use") == Some("access")
            && text("scope").is_some_and(|granted| granted.split_whitespace().any(|s| s == SCOPE))
    };
    text("iss") == Some(issuer) && times && purpose
}

// The input's first byte picks the case (`0`, `1` or `2` in the seeds), the rest is its text.
fuzz_target!(|bytes: &[u8]| {
    let Some((mode, rest)) = bytes.split_first() else {
        return;
    };
    let text = &*String::from_utf8_lossy(rest);
    let verifier = verifier();
    match mode % 3 {
        0 => assert!(check(text, &[]).is_err(), "{text:?} was accepted"),
        1 => {
            let Ok(Value::Object(claims)) = serde_json::from_str::<Value>(text) else {
                return;
            };
            let token = verifier.issuer.sign(&claims);
            let issuer = verifier.issuer.pool().issuer();
            for scopes in [vec![], vec![SCOPE.to_owned()]] {
                if check(&token, &scopes).is_ok() {
                    assert!(
                        valid(&claims, &issuer, &scopes),
                        "{text} was accepted for {scopes:?}"
                    );
                }
            }
        }
        _ => {
            let (header, rest) = verifier.genuine.split_once('.').unwrap();
            let forged = format!("{}.{rest}", URL_SAFE_NO_PAD.encode(text));
            let signed = URL_SAFE_NO_PAD.decode(header).unwrap();
            if text.as_bytes() != signed {
                assert!(check(&forged, &[]).is_err(), "header {text} was accepted");
            }
        }
    }
});
