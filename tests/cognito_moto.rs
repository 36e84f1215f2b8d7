//! Tokens the local stack did not mint: moto's Cognito emulation signs real RS256 tokens and
//! serves its JWKS, so this is the path tokens of the real service (or of moto) take locally, first
//! through devstack's authorizer alone, then end to end through the local stack of each pattern.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::cognito::{Authorizer, Denied, LocalIssuer, TokenRequest, TrustedPool, UserPool};
use devstack::local_stack::KeyTrust;
use e2e::local_stack::{StackOptions, TestStack, assert_unauthorized, rendered_template};
use e2e::moto::Moto;
use serde_json::{Value, json};
use stack::Pattern;

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The local stack of `pattern` whose only user pool is moto's `pool`, named "moto", with the
/// authorizer trusting moto's JWKS for it: the set-up `cargo xtask deploy --jwks-url` makes.
async fn stack_trusting_moto(pattern: Pattern, moto: &Moto, pool: &UserPool) -> TestStack {
    let mut options = StackOptions::new(pattern);
    options.user_pools = Some(vec![pool.clone()]);
    options.trust = KeyTrust::Jwks(BTreeMap::from([(
        pool.name().to_owned(),
        moto.jwks_url(pool.pool_id()),
    )]));
    let stack = TestStack::start_with(options).await;
    // The template the stack serves is rendered from this configuration; its authorizer must
    // list moto's pool (and only it), or the stack would refuse moto's tokens for another reason.
    let template = rendered_template(pattern, &stack.config);
    assert_eq!(
        template["Resources"]["CognitoAuthorizer"]["Properties"]["ProviderARNs"],
        json!([pool.arn()])
    );
    stack
}

/// In a module named after the file, so `cargo nextest run cognito` selects these tests.
mod cognito_moto {
    use super::*;

    #[tokio::test]
    async fn moto_tokens_pass_the_authorizer_through_a_remote_jwks() {
        let moto = Moto::start().await;
        let moto_pool = moto.pool_with_user("catalog", "alice").await;
        let (id_token, access_token) = moto.sign_in(&moto_pool).await;
        let client_id = moto_pool.client_id.as_str();

        let pool = moto_pool.user_pool("catalog");
        assert_eq!(pool.pool_id(), moto_pool.pool_id);
        // What moto puts in its tokens, so a change in moto shows up here and not as a puzzling 401.
        let moto_claims = claims_of(&id_token);
        assert_eq!(
            moto_claims["iss"],
            pool.issuer(),
            "moto uses Cognito's issuer format"
        );
        assert_eq!(moto_claims["token_use"], "id");
        assert_eq!(moto_claims["aud"], client_id);
        assert_eq!(claims_of(&access_token)["token_use"], "access");
        assert_eq!(claims_of(&access_token)["client_id"], client_id);

        let jwks_url = moto.jwks_url(&moto_pool.pool_id);
        let authorizer =
            Authorizer::new([TrustedPool::jwks(pool.clone(), jwks_url.clone())]).unwrap();

        let claims = authorizer.authorize(Some(&id_token), &[]).await.unwrap();
        assert_eq!(claims["cognito:username"], "alice");
        assert_eq!(claims["aud"], client_id);

        // The access token is for methods with scopes, not for ID-token methods.
        let denied = authorizer
            .authorize(Some(&access_token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::WrongTokenUse { .. }), "{denied}");
        let scopes = ["aws.cognito.signin.user.admin".to_owned()];
        authorizer
            .authorize(Some(&access_token), &scopes)
            .await
            .unwrap();

        // Tampering breaks moto's signature as it would Cognito's.
        let mut forged_claims = claims_of(&id_token);
        forged_claims["cognito:username"] = "mallory".into();
        let parts: Vec<&str> = id_token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
            parts[2]
        );
        let denied = authorizer.authorize(Some(&forged), &[]).await.unwrap_err();
        assert!(matches!(denied, Denied::BadSignature { .. }), "{denied}");

        // The pool's app clients are enforced.
        let strict =
            UserPool::new("catalog", &moto_pool.arn, vec!["anotherclient".into()]).unwrap();
        let strict = Authorizer::new([TrustedPool::jwks(strict, jwks_url)]).unwrap();
        let denied = strict.authorize(Some(&id_token), &[]).await.unwrap_err();
        assert!(matches!(denied, Denied::WrongAudience { .. }), "{denied}");
    }

    #[tokio::test]
    async fn a_token_of_another_moto_pool_is_refused_though_moto_signs_it_with_the_same_key() {
        let moto = Moto::start().await;
        let moto_pool = moto.pool_with_user("catalog", "alice").await;
        let other_pool = moto.pool_with_user("elsewhere", "bob").await;
        let (foreign_token, _) = moto.sign_in(&other_pool).await;

        let authorizer = Authorizer::new([TrustedPool::jwks(
            moto_pool.user_pool("catalog"),
            moto.jwks_url(&moto_pool.pool_id),
        )])
        .unwrap();
        let denied = authorizer
            .authorize(Some(&foreign_token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::UnknownIssuer(_)), "{denied}");
    }

    e2e::all_patterns!(the_local_stack_trusts_moto_tokens_through_motos_jwks);

    async fn the_local_stack_trusts_moto_tokens_through_motos_jwks(pattern: Pattern) {
        let moto = Moto::start().await;
        let moto_pool = moto.pool_with_user("catalog", "carol").await;
        let (id_token, _) = moto.sign_in(&moto_pool).await;
        let pool = moto_pool.user_pool("moto");
        let stack = stack_trusting_moto(pattern, &moto, &pool).await;
        let projects = "/dev/api/v0/projects";

        let created = stack
            .post(
                projects,
                Some(&id_token),
                &json!({"name": "Signed by moto", "description": "a token of moto's pool"}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        assert_eq!(created.json()["created_by"], "carol");

        // A token for the same pool and app client, signed by a local key instead of moto's: it
        // differs from moto's only in its key, which the stack does not trust for this pool.
        let keys = tempfile::tempdir().unwrap();
        let local = LocalIssuer::open(pool.clone(), keys.path()).expect("a local issuer");
        let local_token = local.mint_id_token(TokenRequest::new("mallory"));
        let (local_claims, moto_claims) = (claims_of(&local_token), claims_of(&id_token));
        assert_eq!(local_claims["iss"], moto_claims["iss"]);
        assert_eq!(local_claims["aud"], moto_claims["aud"]);
        let refused = stack
            .post(
                projects,
                Some(&local_token),
                &json!({"name": "Signed locally", "description": "not moto's key"}),
            )
            .await;
        assert_unauthorized(&refused, "a token signed by a key moto does not publish");
        let note = stack.authorizer_note(&refused).await;
        assert!(
            note.contains(&format!("kid `{}` is not among the keys", local.kid())),
            "{note}"
        );

        let anonymous = stack
            .post(
                projects,
                None,
                &json!({"name": "Anonymous", "description": "no token"}),
            )
            .await;
        assert_unauthorized(&anonymous, "no token");

        assert_eq!(stack.names("projects").await, ["Signed by moto"]);
        stack.stop().await;
    }
}
