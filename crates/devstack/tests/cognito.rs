//! The local Cognito issuers and the User Pools authorizer's token check, through the public API:
//! what API Gateway accepts is accepted, every forgery and misuse it refuses is refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::cognito::{
    Authorizer, AuthorizerError, Denied, IssuerError, LocalIssuer, PoolError, TokenRequest,
    TrustedPool, UserPool, key_file,
};
use serde_json::{Map, Value, json};

const ARN_A: &str = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_TestPoolA";
const ARN_B: &str = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_TestPoolB";
const CLIENT_A: &str = "4b1cq7m2c0example0clienta1";

/// Keys shared by every test of this file (and every run): generating RSA keys is the slow part,
/// and each test runs in its own process, so they meet in a directory rather than a static. Key
/// creation is race-safe, which this sharing exercises too.
fn shared_state_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cognito-test-keys")
}

fn pool_a() -> UserPool {
    UserPool::new("catalog-test", ARN_A, vec![CLIENT_A.to_owned()]).unwrap()
}

fn issuer_a() -> LocalIssuer {
    LocalIssuer::open(pool_a(), shared_state_dir()).unwrap()
}

/// A second pool with its own key, which the authorizers below do not trust.
fn issuer_b() -> LocalIssuer {
    let pool = UserPool::new("elsewhere", ARN_B, vec![]).unwrap();
    LocalIssuer::open(pool, shared_state_dir()).unwrap()
}

fn authorizer(issuer: &LocalIssuer) -> Authorizer {
    Authorizer::new([TrustedPool::local(issuer)]).unwrap()
}

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn decode_part(part: &str) -> Map<String, Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn part(token: &str, index: usize) -> &str {
    token.split('.').nth(index).unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a token Cognito would issue to `alice` of pool A, for hand-made variants.
fn id_claims(issuer: &LocalIssuer) -> Map<String, Value> {
    let token = issuer.mint_id_token(TokenRequest::new("alice"));
    decode_part(part(&token, 1))
}

/// In a module named after the file, so `cargo nextest run cognito` selects these tests.
mod cognito {
    use super::*;

    #[test]
    fn a_pool_is_read_from_its_arn() {
        let pool = pool_a();
        assert_eq!(pool.name(), "catalog-test");
        assert_eq!(pool.arn(), ARN_A);
        assert_eq!(pool.region(), "eu-west-1");
        assert_eq!(pool.account_id(), "123456789012");
        assert_eq!(pool.pool_id(), "eu-west-1_TestPoolA");
        assert_eq!(pool.client_ids(), [CLIENT_A]);
        assert_eq!(
            pool.issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPoolA"
        );
        assert_eq!(
            pool.jwks_url(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPoolA/.well-known/jwks.json"
        );
    }

    #[test]
    fn a_bad_arn_is_refused_saying_what_to_write() {
        for (arn, problem) in [
            ("", "six colon-separated parts"),
            ("userpool/eu-west-1_abc", "six colon-separated parts"),
            (
                "arm:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_a",
                "`arn:`",
            ),
            (
                "arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_a",
                "partition",
            ),
            (
                "arn:aws:cognito-identity:eu-west-1:123456789012:userpool/eu-west-1_a",
                "service",
            ),
            (
                "arn:aws:cognito-idp:europe:123456789012:userpool/europe_a",
                "region",
            ),
            (
                "arn:aws:cognito-idp:eu-west-1:1234:userpool/eu-west-1_a",
                "twelve digits",
            ),
            (
                "arn:aws:cognito-idp:eu-west-1:123456789012:identitypool/eu-west-1_a",
                "userpool/",
            ),
            (
                "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/us-east-1_abc",
                "region",
            ),
            (
                "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_",
                "letters and digits",
            ),
            (
                "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_../../x",
                "letters and digits",
            ),
        ] {
            let error = UserPool::new("p", arn, vec![]).unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, PoolError::InvalidArn { .. }),
                "{arn}: {message}"
            );
            assert!(message.contains(problem), "{arn}: {message}");
            assert!(
                message.contains("expected arn:aws:cognito-idp:<region>:<account>:userpool/"),
                "{message}"
            );
        }
        let error = UserPool::new("p", ARN_A, vec![String::new()]).unwrap_err();
        assert!(
            matches!(error, PoolError::InvalidClientId { .. }),
            "{error}"
        );
    }

    #[test]
    fn a_pool_deserialises_only_when_valid() {
        let pool: UserPool = serde_json::from_value(json!({
            "name": "catalog-test", "arn": ARN_A, "client_ids": [CLIENT_A]
        }))
        .unwrap();
        assert_eq!(pool, pool_a());
        let error = serde_json::from_value::<UserPool>(json!({"name": "x", "arn": "arn:nope"}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a Cognito user pool ARN"), "{error}");
    }

    #[tokio::test]
    async fn a_valid_id_token_is_accepted_and_its_claims_returned() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest {
            groups: vec!["admins".into(), "editors".into()],
            ..TokenRequest::new("alice")
        });

        let header = decode_part(part(&token, 0));
        assert_eq!(
            Value::Object(header),
            json!({"alg": "RS256", "kid": issuer.kid()}),
            "Cognito's header is exactly alg and kid"
        );

        let claims = authorizer(&issuer)
            .authorize(Some(&token), &[])
            .await
            .unwrap();
        assert_eq!(claims["cognito:username"], "alice");
        assert_eq!(claims["cognito:groups"], json!(["admins", "editors"]));
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["iss"], pool_a().issuer());
        assert_eq!(claims["aud"], CLIENT_A);
        assert_eq!(claims["token_use"], "id");
        assert_eq!(claims["sub"], issuer.subject("alice"));
        let iat = claims["iat"].as_u64().unwrap();
        assert!(iat.abs_diff(now()) <= 2);
        assert_eq!(claims["auth_time"], iat);
        assert_eq!(claims["exp"], iat + 3600);
        for id in ["jti", "origin_jti", "event_id"] {
            let value = claims[id].as_str().unwrap();
            assert!(uuid::Uuid::parse_str(value).is_ok(), "{id}: {value}");
        }
    }

    #[tokio::test]
    async fn subs_are_stable_per_pool_and_user_and_ids_are_fresh_per_token() {
        let (a, b) = (issuer_a(), issuer_b());
        let first = id_claims(&a);
        let second = id_claims(&a);
        assert_eq!(first["sub"], second["sub"]);
        assert_ne!(first["jti"], second["jti"]);
        let sub = uuid::Uuid::parse_str(first["sub"].as_str().unwrap()).unwrap();
        assert_eq!(sub.get_version_num(), 4, "shaped like Cognito's subs");
        assert_ne!(a.subject("alice"), a.subject("bob"));
        assert_ne!(a.subject("alice"), b.subject("alice"));
    }

    #[tokio::test]
    async fn optional_claims_follow_the_request() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest {
            email: Some("a.l@corp.test".into()),
            client_id: Some("otherclient".into()),
            ttl: Duration::from_secs(60),
            ..TokenRequest::new("alice")
        });
        let claims = decode_part(part(&token, 1));
        assert!(!claims.contains_key("cognito:groups"), "omitted when empty");
        assert_eq!(claims["email"], "a.l@corp.test");
        assert_eq!(claims["aud"], "otherclient");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            60
        );

        // A pool listing no app client still gets a stable, Cognito-shaped one.
        let pool = UserPool::new("no-clients", ARN_B, vec![]).unwrap();
        let issuer = LocalIssuer::open(pool, shared_state_dir()).unwrap();
        let client = issuer.default_client_id().to_owned();
        assert_eq!(client.len(), 26);
        assert!(
            client
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(issuer_b().default_client_id(), client);
        assert_eq!(id_claims(&issuer)["aud"], client.as_str());
    }

    #[test]
    fn the_jwks_publishes_the_public_key_under_its_kid() {
        let issuer = issuer_a();
        let jwks = issuer.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["alg"], "RS256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], issuer.kid());
        assert_eq!(key["e"], "AQAB");
        let modulus = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
        assert_eq!(modulus.len(), 256, "RSA-2048");
        assert!(key.get("d").is_none(), "no private part");
    }

    #[tokio::test]
    async fn a_bearer_prefix_is_accepted_like_api_gateway_does() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest::new("alice"));
        let authorizer = authorizer(&issuer);
        let claims = authorizer
            .authorize(Some(&format!("Bearer {token}")), &[])
            .await
            .unwrap();
        assert_eq!(claims["cognito:username"], "alice");
        for header in [format!("bearer {token}"), format!("Bearer  {token}")] {
            let denied = authorizer.authorize(Some(&header), &[]).await.unwrap_err();
            assert!(matches!(denied, Denied::Malformed(_)), "{header}: {denied}");
        }
    }

    #[tokio::test]
    async fn no_header_is_refused() {
        let authorizer = authorizer(&issuer_a());
        assert_eq!(
            authorizer.authorize(None, &[]).await.unwrap_err(),
            Denied::MissingToken
        );
        assert_eq!(
            authorizer.authorize(Some(""), &[]).await.unwrap_err(),
            Denied::MissingToken
        );
        assert_eq!(Denied::STATUS, 401);
        assert_eq!(Denied::BODY, r#"{"message":"Unauthorized"}"#);
    }

    #[tokio::test]
    async fn garbage_is_refused() {
        let authorizer = authorizer(&issuer_a());
        let valid = issuer_a().mint_id_token(TokenRequest::new("alice"));
        let (h, p, s) = (part(&valid, 0), part(&valid, 1), part(&valid, 2));
        for garbage in [
            "garbage".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d.e".to_owned(),
            format!("{h}.{p}.{s}.extra"),
            format!(".{p}.{s}"),
            format!("{h}..{s}"),
            format!("!!!.{p}.{s}"),
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("not json")),
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("[1,2]")),
            format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode("{")),
            format!("{h}={p}={s}"),
        ] {
            let denied = authorizer.authorize(Some(&garbage), &[]).await.unwrap_err();
            assert!(
                matches!(denied, Denied::Malformed(_)),
                "{garbage}: {denied}"
            );
        }
    }

    #[tokio::test]
    async fn an_expired_token_is_refused() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest {
            issued_at: Some(SystemTime::now() - Duration::from_secs(3600 + 60)),
            ..TokenRequest::new("alice")
        });
        let denied = authorizer(&issuer)
            .authorize(Some(&token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::Expired { .. }), "{denied}");
        assert_eq!(denied.message(), "The incoming token has expired");
        assert_eq!(Denied::MissingToken.message(), "Unauthorized");
    }

    #[tokio::test]
    async fn a_token_from_the_future_is_refused() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest {
            issued_at: Some(SystemTime::now() + Duration::from_secs(3600)),
            ..TokenRequest::new("alice")
        });
        let denied = authorizer(&issuer)
            .authorize(Some(&token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::IssuedInFuture { .. }), "{denied}");
    }

    #[tokio::test]
    async fn a_tampered_payload_fails_the_signature_check() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest::new("alice"));
        let mut claims = decode_part(part(&token, 1));
        claims.insert("cognito:groups".into(), json!(["admins"]));
        let forged = format!(
            "{}.{}.{}",
            part(&token, 0),
            encode_part(&Value::Object(claims)),
            part(&token, 2)
        );
        let denied = authorizer(&issuer)
            .authorize(Some(&forged), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::BadSignature { .. }), "{denied}");

        let mut signature = URL_SAFE_NO_PAD.decode(part(&token, 2)).unwrap();
        signature[0] ^= 1;
        let flipped = format!(
            "{}.{}.{}",
            part(&token, 0),
            part(&token, 1),
            URL_SAFE_NO_PAD.encode(signature)
        );
        let denied = authorizer(&issuer)
            .authorize(Some(&flipped), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::BadSignature { .. }), "{denied}");
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let issuer = issuer_a();
        let claims = Value::Object(id_claims(&issuer));
        let header = json!({"alg": "none", "kid": issuer.kid()});
        let authorizer = authorizer(&issuer);
        for token in [
            format!("{}.{}.", encode_part(&header), encode_part(&claims)),
            format!("{}.{}.c2ln", encode_part(&header), encode_part(&claims)),
        ] {
            let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
            assert_eq!(denied, Denied::Algorithm("none".into()));
        }
        for alg in ["None", "NONE", "RS512", "PS256", "ES256"] {
            let header = json!({"alg": alg, "kid": issuer.kid()});
            let token = format!("{}.{}.c2ln", encode_part(&header), encode_part(&claims));
            let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
            assert_eq!(denied, Denied::Algorithm(alg.into()));
        }
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key_is_refused() {
        use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};

        // The classic confusion: a verifier that lets the token pick the algorithm would check this
        // HMAC with the RSA public key as the secret, and the attacker knows that key.
        let issuer = issuer_a();
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(
            &std::fs::read_to_string(issuer.key_path()).unwrap(),
        )
        .unwrap();
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(issuer.kid().to_owned());
        let authorizer = authorizer(&issuer);
        for secret in [
            public_pem.as_bytes(),
            issuer.jwks()["keys"][0]["n"].as_str().unwrap().as_bytes(),
        ] {
            let token = jsonwebtoken::encode(
                &header,
                &id_claims(&issuer),
                &jsonwebtoken::EncodingKey::from_secret(secret),
            )
            .unwrap();
            let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
            assert_eq!(denied, Denied::Algorithm("HS256".into()));
        }
    }

    #[tokio::test]
    async fn an_unknown_kid_is_refused() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest::new("alice"));
        let header = json!({"alg": "RS256", "kid": "not-a-key-of-this-pool"});
        let token = format!(
            "{}.{}.{}",
            encode_part(&header),
            part(&token, 1),
            part(&token, 2)
        );
        let denied = authorizer(&issuer)
            .authorize(Some(&token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::UnknownKey { .. }), "{denied}");

        let no_kid = format!(
            "{}.{}.{}",
            encode_part(&json!({"alg": "RS256"})),
            part(&token, 1),
            part(&token, 2)
        );
        let denied = authorizer(&issuer)
            .authorize(Some(&no_kid), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::Malformed(_)), "{denied}");
    }

    #[tokio::test]
    async fn a_token_of_an_unconfigured_pool_is_refused() {
        let token = issuer_b().mint_id_token(TokenRequest::new("alice"));
        let denied = authorizer(&issuer_a())
            .authorize(Some(&token), &[])
            .await
            .unwrap_err();
        assert_eq!(denied, Denied::UnknownIssuer(issuer_b().pool().issuer()));
    }

    #[tokio::test]
    async fn a_pool_cannot_sign_for_another_configured_pool() {
        // Both pools trusted; B signs a token claiming A's issuer. The key must come from A's JWKS.
        let (a, b) = (issuer_a(), issuer_b());
        let authorizer = Authorizer::new([TrustedPool::local(&a), TrustedPool::local(&b)]).unwrap();
        let mut claims = id_claims(&a);
        claims.insert("iss".into(), a.pool().issuer().into());
        let denied = authorizer
            .authorize(Some(&b.sign(&claims)), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::UnknownKey { .. }), "{denied}");

        // And each pool's own tokens pass the same authorizer.
        for issuer in [&a, &b] {
            let token = issuer.mint_id_token(TokenRequest::new("carol"));
            authorizer.authorize(Some(&token), &[]).await.unwrap();
        }
    }

    #[tokio::test]
    async fn the_wrong_token_use_is_refused() {
        let issuer = issuer_a();
        let authorizer = authorizer(&issuer);

        let access = issuer.mint_access_token(TokenRequest::new("alice"), &["catalog/write"]);
        let denied = authorizer.authorize(Some(&access), &[]).await.unwrap_err();
        assert_eq!(
            denied,
            Denied::WrongTokenUse {
                expected: "id",
                found: "access".into()
            }
        );

        let id = issuer.mint_id_token(TokenRequest::new("alice"));
        let denied = authorizer
            .authorize(Some(&id), &scopes(&["catalog/write"]))
            .await
            .unwrap_err();
        assert_eq!(
            denied,
            Denied::WrongTokenUse {
                expected: "access",
                found: "id".into()
            }
        );

        let mut claims = id_claims(&issuer);
        claims.remove("token_use");
        let denied = authorizer
            .authorize(Some(&issuer.sign(&claims)), &[])
            .await
            .unwrap_err();
        assert_eq!(denied, Denied::BadClaim("token_use"));
    }

    #[tokio::test]
    async fn the_wrong_audience_is_refused() {
        let issuer = issuer_a();
        let token = issuer.mint_id_token(TokenRequest {
            client_id: Some("someoneelsesclient".into()),
            ..TokenRequest::new("alice")
        });
        let denied = authorizer(&issuer)
            .authorize(Some(&token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::WrongAudience { .. }), "{denied}");

        let mut claims = id_claims(&issuer);
        claims.insert("aud".into(), json!([CLIENT_A]));
        let denied = authorizer(&issuer)
            .authorize(Some(&issuer.sign(&claims)), &[])
            .await
            .unwrap_err();
        assert_eq!(denied, Denied::BadClaim("aud"), "Cognito's aud is a string");

        // A pool that lists no app clients does not restrict the audience.
        let open = issuer_b();
        let token = open.mint_id_token(TokenRequest {
            client_id: Some("anyclient".into()),
            ..TokenRequest::new("alice")
        });
        authorizer(&open)
            .authorize(Some(&token), &[])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_access_token_needs_one_of_the_methods_scopes() {
        let issuer = issuer_a();
        let authorizer = authorizer(&issuer);
        let token =
            issuer.mint_access_token(TokenRequest::new("alice"), &["openid", "catalog/write"]);
        let claims = authorizer
            .authorize(Some(&token), &scopes(&["catalog/admin", "catalog/write"]))
            .await
            .unwrap();
        assert_eq!(claims["token_use"], "access");
        assert_eq!(claims["username"], "alice");
        assert_eq!(claims["client_id"], CLIENT_A);
        assert!(claims.get("aud").is_none(), "access tokens carry no aud");

        let denied = authorizer
            .authorize(Some(&token), &scopes(&["catalog/admin"]))
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::MissingScope { .. }), "{denied}");
        // Scopes are whole words, not substrings.
        let denied = authorizer
            .authorize(Some(&token), &scopes(&["catalog"]))
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::MissingScope { .. }), "{denied}");
    }

    #[tokio::test]
    async fn keys_persist_across_restarts() {
        let state = tempfile::tempdir().unwrap();
        let first = LocalIssuer::open(pool_a(), state.path()).unwrap();
        let path = key_file(state.path(), &pool_a());
        assert_eq!(first.key_path(), path);
        assert_eq!(
            path,
            state.path().join("cognito").join("eu-west-1_TestPoolA.pem")
        );
        let pem = std::fs::read_to_string(&path).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let token = first.mint_id_token(TokenRequest::new("alice"));
        drop(first);

        let again = LocalIssuer::open(pool_a(), state.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            pem,
            "reused, not rewritten"
        );
        authorizer(&again)
            .authorize(Some(&token), &[])
            .await
            .expect("a token minted before the restart still verifies");
        assert_ne!(
            again.kid(),
            issuer_a().kid(),
            "another state dir, another key"
        );
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers,
            ["eu-west-1_TestPoolA.pem"],
            "no temporary files left"
        );
    }

    #[test]
    fn the_kid_is_the_keys_thumbprint_and_survives_reloading() {
        let issuer = issuer_a();
        let reloaded = issuer_a();
        assert_eq!(issuer.kid(), reloaded.kid());
        // RFC 7638: SHA-256 of the canonical JWK, base64url.
        let key = &issuer.jwks()["keys"][0];
        let canonical = format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            key["e"].as_str().unwrap(),
            key["n"].as_str().unwrap()
        );
        use sha2::Digest;
        assert_eq!(
            issuer.kid(),
            URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(canonical))
        );
    }

    #[test]
    fn processes_starting_together_agree_on_one_key() {
        let state = tempfile::tempdir().unwrap();
        let kids: HashSet<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| LocalIssuer::open(pool_a(), state.path()).unwrap()))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().kid().to_owned())
                .collect()
        });
        assert_eq!(kids.len(), 1, "{kids:?}");
    }

    #[test]
    fn a_corrupt_key_file_is_named_in_the_error() {
        let state = tempfile::tempdir().unwrap();
        let path = key_file(state.path(), &pool_a());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let error = LocalIssuer::open(pool_a(), state.path()).unwrap_err();
        assert!(matches!(error, IssuerError::CorruptKey { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("delete it"), "{message}");
    }

    #[test]
    fn an_authorizer_needs_a_sound_configuration() {
        let none: [TrustedPool; 0] = [];
        assert!(matches!(
            Authorizer::new(none),
            Err(AuthorizerError::NoPools)
        ));
        let twice = Authorizer::new([
            TrustedPool::local(&issuer_a()),
            TrustedPool::cognito(pool_a()),
        ]);
        assert!(
            matches!(twice, Err(AuthorizerError::DuplicateIssuer { .. })),
            "{twice:?}"
        );
        let bad = Authorizer::new([TrustedPool::jwks(pool_a(), "file:///etc/passwd")]);
        assert!(
            matches!(bad, Err(AuthorizerError::InvalidJwksUrl { .. })),
            "{bad:?}"
        );
        let trusted = TrustedPool::cognito(pool_a());
        assert_eq!(trusted.issuer(), pool_a().issuer());
        assert!(
            matches!(trusted.keys(), devstack::cognito::KeySource::Jwks(url) if *url == pool_a().jwks_url())
        );
    }

    /// A JWKS host on 127.0.0.1 that counts its requests and can change what it serves.
    struct JwksServer {
        url: String,
        document: Arc<Mutex<Value>>,
        hits: Arc<AtomicUsize>,
    }

    async fn jwks_server(document: Value) -> JwksServer {
        use axum::routing::get;

        let document = Arc::new(Mutex::new(document));
        let hits = Arc::new(AtomicUsize::new(0));
        let app = axum::Router::new().route(
            "/eu-west-1_TestPoolA/.well-known/jwks.json",
            get({
                let document = document.clone();
                let hits = hits.clone();
                move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    axum::Json(document.lock().unwrap().clone())
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        JwksServer {
            url: format!("http://{address}/eu-west-1_TestPoolA/.well-known/jwks.json"),
            document,
            hits,
        }
    }

    #[tokio::test]
    async fn remote_keys_are_fetched_once_and_cached() {
        let issuer = issuer_a();
        let server = jwks_server(issuer.jwks()).await;
        let authorizer = Authorizer::new([TrustedPool::jwks(pool_a(), &server.url)]).unwrap();

        for user in ["alice", "bob"] {
            let token = issuer.mint_id_token(TokenRequest::new(user));
            let claims = authorizer.authorize(Some(&token), &[]).await.unwrap();
            assert_eq!(claims["cognito:username"], user);
        }
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);

        // An unknown kid may mean a rotation, but refetches are limited to one a minute.
        let rotated = LocalIssuer::open(pool_a(), tempfile::tempdir().unwrap().path()).unwrap();
        let token = rotated.mint_id_token(TokenRequest::new("alice"));
        for _ in 0..3 {
            let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
            assert!(matches!(denied, Denied::UnknownKey { .. }), "{denied}");
        }
        assert_eq!(server.hits.load(Ordering::SeqCst), 1);

        // A forged token stays forged when its kid is known.
        let mut claims = id_claims(&issuer);
        claims.insert("cognito:username".into(), "mallory".into());
        let forged = format!(
            "{}.{}.{}",
            part(&issuer.mint_id_token(TokenRequest::new("alice")), 0),
            encode_part(&Value::Object(claims)),
            part(&issuer.mint_id_token(TokenRequest::new("alice")), 2)
        );
        let denied = authorizer.authorize(Some(&forged), &[]).await.unwrap_err();
        assert!(matches!(denied, Denied::BadSignature { .. }), "{denied}");
    }

    #[tokio::test]
    async fn a_rotated_key_is_picked_up_by_a_refetch() {
        let issuer = issuer_a();
        let server = jwks_server(issuer.jwks()).await;
        let authorizer = Authorizer::new([TrustedPool::jwks(pool_a(), &server.url)])
            .unwrap()
            .with_jwks_refetch_interval(Duration::ZERO);
        authorizer
            .authorize(Some(&issuer.mint_id_token(TokenRequest::new("alice"))), &[])
            .await
            .unwrap();

        let state = tempfile::tempdir().unwrap();
        let rotated = LocalIssuer::open(pool_a(), state.path()).unwrap();
        let mut both = issuer.jwks();
        both["keys"]
            .as_array_mut()
            .unwrap()
            .push(rotated.jwks()["keys"][0].clone());
        *server.document.lock().unwrap() = both;

        let token = rotated.mint_id_token(TokenRequest::new("alice"));
        authorizer.authorize(Some(&token), &[]).await.unwrap();
        assert_eq!(server.hits.load(Ordering::SeqCst), 2);
        // The old key is still served, and still cached after the refetch.
        authorizer
            .authorize(Some(&issuer.mint_id_token(TokenRequest::new("bob"))), &[])
            .await
            .unwrap();
        assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn unreachable_keys_refuse_the_token_and_say_where_they_were_looked_for() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{address}/jwks.json");
        let authorizer = Authorizer::new([TrustedPool::jwks(pool_a(), &url)]).unwrap();
        let token = issuer_a().mint_id_token(TokenRequest::new("alice"));
        let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
        let Denied::KeysUnavailable { url: tried, .. } = &denied else {
            panic!("{denied}");
        };
        assert_eq!(*tried, url);

        // A document without keys is no JWKS either.
        let server = jwks_server(json!({"nokeys": []})).await;
        let authorizer = Authorizer::new([TrustedPool::jwks(pool_a(), &server.url)]).unwrap();
        let denied = authorizer.authorize(Some(&token), &[]).await.unwrap_err();
        assert!(
            matches!(&denied, Denied::KeysUnavailable { error, .. } if error.contains("keys")),
            "{denied}"
        );
    }
}
