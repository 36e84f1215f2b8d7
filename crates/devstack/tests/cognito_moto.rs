//! The authorizer against tokens it did not mint: moto's Cognito emulation signs real RS256 tokens
//! and serves its JWKS, so this is the path tokens of the real service (or of moto) take locally.
//!
//! Facts this test pins down about moto (5.x): its tokens carry Cognito's own issuer format
//! (`https://cognito-idp.<region>.amazonaws.com/<pool-id>`), so no issuer override is needed; it
//! serves `/<pool-id>/.well-known/jwks.json`; and every pool shares one key (kid `dummy`), so only
//! `iss` tells its pools apart, which is exactly what the authorizer checks first.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::cognito::{Authorizer, Denied, TrustedPool, UserPool};
use serde_json::{Value, json};

/// moto_server, killed (by its PID) when the test ends, however it ends.
struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

async fn start_moto() -> Moto {
    let Some(binary) = find_on_path("moto_server") else {
        panic!(
            "moto_server is not on PATH. Run the tests with `cargo xtask test`, which installs \
             moto[server] into .venv and puts .venv/bin first on PATH (by hand: \
             python3 -m venv .venv && .venv/bin/pip install 'moto[server]', then put .venv/bin \
             on PATH)"
        );
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let mut moto = Moto { child, port };

    // Python starting and importing moto takes a few seconds on a small machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    let http = reqwest::Client::new();
    loop {
        let ready = http
            .get(format!("http://127.0.0.1:{port}/moto-api/"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return moto;
        }
        if let Some(status) = moto.child.try_wait().unwrap() {
            panic!("moto_server exited before answering: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer on port {port} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Moto {
    /// One Cognito Identity Provider call, as the AWS SDK makes it (the signature is not checked).
    async fn call(&self, action: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/", self.port))
            .header(
                "X-Amz-Target",
                format!("AWSCognitoIdentityProviderService.{action}"),
            )
            .header("Content-Type", "application/x-amz-json-1.1")
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/cognito-idp/aws4_request, \
                 SignedHeaders=host, Signature=x",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{action} answered {status}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    fn jwks_url(&self, pool_id: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{pool_id}/.well-known/jwks.json",
            self.port
        )
    }

    /// A pool with an app client and a confirmed user; returns (pool ARN, pool id, client id).
    async fn pool_with_user(&self, name: &str, username: &str) -> (String, String, String) {
        let pool = self.call("CreateUserPool", json!({"PoolName": name})).await;
        let arn = pool["UserPool"]["Arn"].as_str().unwrap().to_owned();
        let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
        let client = self
            .call(
                "CreateUserPoolClient",
                json!({
                    "UserPoolId": pool_id,
                    "ClientName": "web",
                    "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                }),
            )
            .await;
        let client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned();
        self.call(
            "AdminCreateUser",
            json!({
                "UserPoolId": pool_id,
                "Username": username,
                "UserAttributes": [{"Name": "email", "Value": format!("{username}@example.com")}],
                "MessageAction": "SUPPRESS",
            }),
        )
        .await;
        self.call(
            "AdminSetUserPassword",
            json!({
                "UserPoolId": pool_id,
                "Username": username,
                "Password": PASSWORD,
                "Permanent": true,
            }),
        )
        .await;
        (arn, pool_id, client_id)
    }

    /// (ID token, access token) of `username`.
    async fn sign_in(&self, pool_id: &str, client_id: &str, username: &str) -> (String, String) {
        let auth = self
            .call(
                "AdminInitiateAuth",
                json!({
                    "UserPoolId": pool_id,
                    "ClientId": client_id,
                    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        let result = &auth["AuthenticationResult"];
        (
            result["IdToken"].as_str().unwrap().to_owned(),
            result["AccessToken"].as_str().unwrap().to_owned(),
        )
    }
}

const PASSWORD: &str = "Corr3ct-Horse-Battery";

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// In a module named after the file, so `cargo nextest run cognito` selects these tests.
mod cognito_moto {
    use super::*;

    #[tokio::test]
    async fn moto_tokens_pass_the_authorizer_through_a_remote_jwks() {
        let moto = start_moto().await;
        let (arn, pool_id, client_id) = moto.pool_with_user("catalog", "alice").await;
        let (id_token, access_token) = moto.sign_in(&pool_id, &client_id, "alice").await;

        let pool = UserPool::new("catalog", &arn, vec![client_id.clone()]).unwrap();
        assert_eq!(pool.pool_id(), pool_id);
        // What moto puts in its tokens, so a change in moto shows up here and not as a puzzling 401.
        let moto_claims = claims_of(&id_token);
        assert_eq!(
            moto_claims["iss"],
            pool.issuer(),
            "moto uses Cognito's issuer format"
        );
        assert_eq!(moto_claims["token_use"], "id");
        assert_eq!(moto_claims["aud"], client_id.as_str());
        assert_eq!(claims_of(&access_token)["token_use"], "access");
        assert_eq!(claims_of(&access_token)["client_id"], client_id.as_str());

        let authorizer =
            Authorizer::new([TrustedPool::jwks(pool.clone(), moto.jwks_url(&pool_id))]).unwrap();

        let claims = authorizer.authorize(Some(&id_token), &[]).await.unwrap();
        assert_eq!(claims["cognito:username"], "alice");
        assert_eq!(claims["aud"], client_id.as_str());

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
        let strict = UserPool::new("catalog", &arn, vec!["anotherclient".into()]).unwrap();
        let strict = Authorizer::new([TrustedPool::jwks(strict, moto.jwks_url(&pool_id))]).unwrap();
        let denied = strict.authorize(Some(&id_token), &[]).await.unwrap_err();
        assert!(matches!(denied, Denied::WrongAudience { .. }), "{denied}");
    }

    #[tokio::test]
    async fn a_token_of_another_moto_pool_is_refused_though_moto_signs_it_with_the_same_key() {
        let moto = start_moto().await;
        let (arn, pool_id, client_id) = moto.pool_with_user("catalog", "alice").await;
        let (_, other_pool_id, other_client_id) = moto.pool_with_user("elsewhere", "bob").await;
        let (foreign_token, _) = moto.sign_in(&other_pool_id, &other_client_id, "bob").await;

        let pool = UserPool::new("catalog", &arn, vec![client_id]).unwrap();
        let authorizer =
            Authorizer::new([TrustedPool::jwks(pool, moto.jwks_url(&pool_id))]).unwrap();
        let denied = authorizer
            .authorize(Some(&foreign_token), &[])
            .await
            .unwrap_err();
        assert!(matches!(denied, Denied::UnknownIssuer(_)), "{denied}");
    }
}
