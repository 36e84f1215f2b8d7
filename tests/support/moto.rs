//! moto's AWS emulation for tests: starts moto's server on a free 127.0.0.1 port the way
//! `cargo xtask moto` does (`python -m catalog_moto`: moto with this project's extensions, see
//! xtask/moto), for the deployer's end-to-end tests, and makes Cognito user pools, app clients and
//! users in it, then signs them in for real RS256 tokens whose keys moto publishes at
//! `/<pool-id>/.well-known/jwks.json`, as Cognito does.
//!
//! Facts the tests pin down about moto (5.x): its tokens carry Cognito's own issuer format
//! (`https://cognito-idp.<region>.amazonaws.com/<pool-id>`), so no issuer override is needed; its
//! region is the one in the request's credential scope (`us-east-1` here); and every pool shares
//! one key (kid `dummy`), so only `iss` tells its pools apart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stack::UserPool;

/// The region of the tables and stacks the tests make in moto.
pub const REGION: &str = "eu-west-1";

/// The password of every user [`Moto::pool_with_user`] makes (it meets Cognito's default policy).
pub const PASSWORD: &str = "Corr3ct-Horse-Battery";

/// How long moto may take to answer after it is spawned: Python starting and importing moto takes
/// a few seconds on a small machine, more when tests start several at once.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// A running moto server, killed (by its PID) when dropped, however the test ends.
pub struct Moto {
    child: Child,
    port: u16,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pool moto made, with one app client and one confirmed user.
#[derive(Debug, Clone)]
pub struct MotoPool {
    pub arn: String,
    pub pool_id: String,
    pub client_id: String,
    pub username: String,
}

impl MotoPool {
    /// The pool as an environment configures it, named `name`, accepting its app client.
    pub fn user_pool(&self, name: &str) -> UserPool {
        UserPool::new(name, &self.arn, vec![self.client_id.clone()])
            .unwrap_or_else(|e| panic!("moto's pool ARN {} is not a valid one: {e}", self.arn))
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

impl Moto {
    /// Starts moto with the project's extensions and waits until it answers; fails the test with
    /// what to run when moto is not installed.
    pub async fn start() -> Moto {
        let Some(binary) = find_on_path("moto_server") else {
            panic!(
                "moto_server is not on PATH. Run the tests with `cargo xtask test`, which installs \
                 moto[server] into .venv and puts .venv/bin first on PATH (by hand: \
                 python3 -m venv .venv && .venv/bin/pip install 'moto[server]', then put .venv/bin \
                 on PATH)"
            );
        };
        // The Python of the venv moto is installed in, running the extended server as
        // `cargo xtask moto` does. Port 0: the server binds a free port itself and says which
        // (" * Running on http://127.0.0.1:PORT" on stderr), so no other process can take it
        // between a choice made here and moto's bind.
        let python = binary.with_file_name("python");
        let extensions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../xtask/moto");
        let mut child = Command::new(&python)
            .env("PYTHONPATH", extensions)
            .args(["-m", "catalog_moto", "-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (port_sender, port_receiver) = std::sync::mpsc::channel();
        // moto logs every request on stderr: the reader drains it for as long as moto runs.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut port_sender = Some(port_sender);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
                    && let Some(sender) = port_sender.take()
                {
                    let _ = sender.send(port);
                }
            }
        });
        let port = match port_receiver.recv_timeout(STARTUP_LIMIT) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("moto did not say which port it listens on within {STARTUP_LIMIT:?}");
            }
        };
        // No proxy: moto is on loopback, whatever HTTP(S)_PROXY says.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        let mut moto = Moto { child, port, http };

        let deadline = Instant::now() + STARTUP_LIMIT;
        loop {
            let ready = moto
                .http
                .get(format!("http://127.0.0.1:{port}/moto-api/"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return moto;
            }
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto exited before answering: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "moto did not answer on port {port} within {STARTUP_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where AWS clients send their requests: the value of `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS session that sends everything to this moto, in `region`, with dummy credentials
    /// (moto does not check them), as `AWS_ENDPOINT_URL` would.
    pub fn session(&self, region: &str) -> aws_session::Session {
        aws_session::Session::for_endpoint(&self.url(), region, "testing", "testing")
    }

    /// A new, empty table `name` with the template's CatalogTable keys, as the stack makes it.
    pub async fn catalog_table(&self, name: &str) {
        let template = crate::local_stack::rendered_template(
            stack::Pattern::Lith,
            &crate::local_stack::dev_config(),
        );
        deployer::create_table_like(&self.session(REGION), &template, stack::CATALOG_TABLE, name)
            .await
            .unwrap_or_else(|e| panic!("creating table {name} in moto: {e}"));
    }

    /// The variables a function needs to keep its catalog in `table` of this moto, as Lambda's
    /// environment would give them (the credentials are moto's dummies).
    pub fn store_env(&self, table: &str) -> Vec<(String, String)> {
        [
            ("STORE_URL", format!("dynamodb://{table}")),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ENDPOINT_URL", self.url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// One Cognito Identity Provider call, as the AWS SDK makes it (moto does not check the
    /// signature; the credential scope's region becomes the pool's region).
    pub async fn call(&self, action: &str, body: Value) -> Value {
        let response = self
            .http
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
            .unwrap_or_else(|e| panic!("{action}: {e}"));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{action} answered {status}: {text}");
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{action} answered with non-JSON ({e}): {text}"))
    }

    /// Where moto publishes the keys of `pool_id`.
    pub fn jwks_url(&self, pool_id: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{pool_id}/.well-known/jwks.json",
            self.port
        )
    }

    /// A pool named `name` with an app client and the confirmed user `username` (password
    /// [`PASSWORD`]).
    pub async fn pool_with_user(&self, name: &str, username: &str) -> MotoPool {
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
        MotoPool {
            arn,
            pool_id,
            client_id,
            username: username.to_owned(),
        }
    }

    /// (ID token, access token) of the pool's user, through AdminInitiateAuth.
    pub async fn sign_in(&self, pool: &MotoPool) -> (String, String) {
        let auth = self
            .call(
                "AdminInitiateAuth",
                json!({
                    "UserPoolId": pool.pool_id,
                    "ClientId": pool.client_id,
                    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                    "AuthParameters": {"USERNAME": pool.username, "PASSWORD": PASSWORD},
                }),
            )
            .await;
        let result = &auth["AuthenticationResult"];
        let token = |name: &str| {
            result[name]
                .as_str()
                .unwrap_or_else(|| panic!("AdminInitiateAuth gave no {name}: {auth}"))
                .to_owned()
        };
        (token("IdToken"), token("AccessToken"))
    }
}
