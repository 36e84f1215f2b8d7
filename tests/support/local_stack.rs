//! Helpers to run the local stack (API Gateway + WAF + Cognito + Lambda) on an ephemeral port from
//! the dev environment's rendered template, with its state in a temporary directory, and to talk
//! to it over real HTTP.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use devstack::cognito::{LocalIssuer, TokenRequest, UserPool, key_file};
use devstack::local_stack::{KeyTrust, LocalStack, LocalStackConfig};
use serde_json::Value;
use stack::{ApiTemplate, Deployment, EnvConfig, Pattern};
use tempfile::TempDir;
use waf::{Cidr, IpSetNames, IpVersion, LocalBackend};

use crate::{STAGE, lambda_dir, sqlite_url, target_dir};

/// The environment the tests deploy (its stage is [`STAGE`]).
pub const ENV: &str = "dev";

/// The address the tests' clients connect from unless they say otherwise.
pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A second loopback address (routable on Linux), for a client the WAF does not know.
pub const OTHER_LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How long the tests' WAF entries last: long enough for any test.
pub const ALLOW_TTL: Duration = Duration::from_secs(3600);

/// The custom-runtime fixture that stands in for a function (see the file's header).
pub const PROXY_FIXTURE: &str = include_str!("../fixtures/proxy_bootstrap.py");

/// The custom-runtime fixture that answers every event with the event itself (see its header).
pub const ECHO_FIXTURE: &str = include_str!("../fixtures/echo_bootstrap.py");

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_owned()
}

/// `deploy/envs/dev.toml`.
pub fn dev_config() -> EnvConfig {
    EnvConfig::load(&workspace_dir().join("deploy"), ENV)
        .unwrap_or_else(|e| panic!("loading the {ENV} environment: {e}"))
}

/// The CloudFormation template `cargo xtask deploy` would render for `pattern` in dev.
pub fn rendered_template(pattern: Pattern, config: &EnvConfig) -> Value {
    let deployment = Deployment::new(pattern, ENV, config.clone());
    stack::render(&deployment).unwrap_or_else(|e| panic!("rendering {}: {e}", pattern.name()))
}

/// Puts a signing key for `pool` where [`LocalIssuer::open`] and the stack look for it under
/// `state_dir`, copied from a cache in the target directory. Generating an RSA-2048 key takes a
/// few hundred milliseconds; every test doing it for every pool would make the suite slow.
/// (The cache is filled by `LocalIssuer::open` itself, which publishes keys atomically, so test
/// processes starting at once agree on one key.)
pub fn seed_key(state_dir: &Path, pool: &UserPool) {
    let cache = target_dir().join("e2e-cognito-keys");
    let cached = key_file(&cache, pool);
    if !cached.is_file() {
        LocalIssuer::open(pool.clone(), &cache)
            .unwrap_or_else(|e| panic!("making the cached key of {pool}: {e}"));
    }
    let target = key_file(state_dir, pool);
    let dir = target.parent().expect("a key file has a directory");
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).unwrap();
    // `copy` keeps the cached file's mode, 0600.
    std::fs::copy(&cached, &target)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", cached.display(), target.display()));
}

/// The local issuer of `pool` with its key in `state_dir` (seeded from the cache).
pub fn issuer(state_dir: &Path, pool: &UserPool) -> LocalIssuer {
    if !key_file(state_dir, pool).is_file() {
        seed_key(state_dir, pool);
    }
    LocalIssuer::open(pool.clone(), state_dir).expect("opening the local issuer")
}

/// Whether the stack trusts a local issuer (its key in the state directory) for `pool`, as
/// `LocalStack::start` decides.
fn trusted_locally(trust: &KeyTrust, pool: &UserPool) -> bool {
    match trust {
        KeyTrust::Local => true,
        KeyTrust::Cognito => false,
        KeyTrust::Jwks(urls) => !urls.contains_key(pool.name()),
    }
}

/// Allows `ip` through the WAF of the stack whose state is in `state_dir`, as
/// `cargo xtask ip allow <ip>` does (the gateway sees the change without a restart).
pub fn allow_ip(state_dir: &Path, ip: IpAddr) {
    let backend = LocalBackend::new(state_dir, IpSetNames::for_env(ENV).unwrap());
    let cidr = Cidr::host(ip);
    backend
        .update_set_blocking(IpVersion::of(ip), &mut |set| {
            set.allow(
                cidr,
                Some(ALLOW_TTL),
                Some("e2e test"),
                time::OffsetDateTime::now_utc(),
            )?;
            Ok(true)
        })
        .unwrap_or_else(|e| panic!("allowing {ip}: {e}"));
}

/// A client that connects from `from`, follows no redirects and ignores proxy settings.
pub fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("an HTTP client")
}

/// Writes the [`PROXY_FIXTURE`] as `<artifacts_dir>/<package>/bootstrap.zip` (`bootstrap` at the
/// root, mode 755), as `cargo xtask build` lays packages out.
pub fn write_fixture_package(artifacts_dir: &Path, package: &str) -> PathBuf {
    write_bootstrap_package(artifacts_dir, package, PROXY_FIXTURE)
}

/// Writes `script` as the `bootstrap` of `<artifacts_dir>/<package>/bootstrap.zip`, as
/// [`write_fixture_package`] does.
pub fn write_bootstrap_package(artifacts_dir: &Path, package: &str, script: &str) -> PathBuf {
    let dir = artifacts_dir.join(package);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bootstrap.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
    zip.start_file("bootstrap", options).unwrap();
    zip.write_all(script.as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

/// A change to the rendered template, made before the stack reads it.
pub type TemplateEdit = Box<dyn FnOnce(&mut Value)>;

/// How to start a [`TestStack`]; [`StackOptions::new`] gives the ordinary set-up.
pub struct StackOptions {
    pub pattern: Pattern,
    /// Applied to the rendered template before the stack reads it.
    pub edit_template: Option<TemplateEdit>,
    /// Where the packages are; the ones `cargo xtask build` made by default.
    pub artifacts_dir: PathBuf,
    /// The account's concurrency (the limit of functions without a reservation); AWS's default.
    pub unreserved_concurrency: Option<usize>,
    /// Allow 127.0.0.1 through the WAF before the first request.
    pub allow_localhost: bool,
    /// Replaces the dev environment's user pools, so the template's authorizer lists these.
    pub user_pools: Option<Vec<UserPool>>,
    /// Whose keys the authorizer trusts; local issuers (keys in the state directory) by default.
    pub trust: KeyTrust,
    /// How often the local allow-list janitor runs; never by default.
    pub janitor_period: Option<std::time::Duration>,
    /// Listen on [::1] too, as `cargo xtask deploy` does.
    pub both_loopbacks: bool,
}

impl StackOptions {
    /// The dev deployment of `pattern`, the built packages, 127.0.0.1 allowed.
    pub fn new(pattern: Pattern) -> StackOptions {
        StackOptions {
            pattern,
            edit_template: None,
            artifacts_dir: lambda_dir(),
            unreserved_concurrency: None,
            allow_localhost: true,
            user_pools: None,
            trust: KeyTrust::Local,
            janitor_period: None,
            both_loopbacks: false,
        }
    }

    /// Sets `Timeout` (seconds) of the function with logical id `function` in the template.
    pub fn function_timeout(self, function: &'static str, seconds: u64) -> StackOptions {
        self.function_property(function, "Timeout", seconds.into())
    }

    /// Sets `ReservedConcurrentExecutions` of the function with logical id `function`.
    pub fn reserved_concurrency(self, function: &'static str, reserved: u32) -> StackOptions {
        self.function_property(function, "ReservedConcurrentExecutions", reserved.into())
    }

    /// Sets a property of the function with logical id `function` in the template.
    fn function_property(
        mut self,
        function: &'static str,
        key: &'static str,
        value: Value,
    ) -> StackOptions {
        let previous = self.edit_template.take();
        self.edit_template = Some(Box::new(move |template: &mut Value| {
            if let Some(previous) = previous {
                previous(template);
            }
            let properties = template
                .pointer_mut(&format!("/Resources/{function}/Properties"))
                .and_then(Value::as_object_mut)
                .unwrap_or_else(|| panic!("the template has no function {function}"));
            properties.insert(key.into(), value.clone());
        }));
        self
    }
}

/// A reply, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("reading a reply body");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// The body as JSON; fails the test with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status, self.text
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Fails unless `reply` is API Gateway's answer to a request its authorizer refused.
pub fn assert_unauthorized(reply: &Reply, what: &str) {
    assert_eq!(
        (reply.status, reply.json()),
        (401, serde_json::json!({"message": "Unauthorized"})),
        "{what}"
    );
}

/// The local stack for one test, with its state directory and a client connecting from 127.0.0.1.
pub struct TestStack {
    stack: LocalStack,
    pub pattern: Pattern,
    pub config: EnvConfig,
    pub state: TempDir,
    pub client: reqwest::Client,
}

impl TestStack {
    /// The dev deployment of `pattern` on an ephemeral port, 127.0.0.1 allowed through the WAF.
    pub async fn start(pattern: Pattern) -> TestStack {
        TestStack::start_with(StackOptions::new(pattern)).await
    }

    pub async fn start_with(options: StackOptions) -> TestStack {
        let mut config = dev_config();
        if let Some(user_pools) = options.user_pools {
            config.user_pools = user_pools;
        }
        let mut rendered = rendered_template(options.pattern, &config);
        if let Some(edit) = options.edit_template {
            edit(&mut rendered);
        }
        let template = ApiTemplate::read(&rendered).expect("the rendered template reads back");
        let state = tempfile::tempdir().unwrap();
        // Only pools the stack signs for need a local key; seeding others would fill the key
        // cache with pools that exist for one test (moto's have random ids).
        for pool in config
            .user_pools
            .iter()
            .filter(|pool| trusted_locally(&options.trust, pool))
        {
            seed_key(state.path(), pool);
        }
        if options.allow_localhost {
            allow_ip(state.path(), LOCALHOST);
        }
        let mut stack_config = LocalStackConfig::new(
            template,
            config.user_pools.clone(),
            options.artifacts_dir,
            state.path().to_owned(),
        );
        stack_config.trust = options.trust;
        stack_config.listen = SocketAddr::new(LOCALHOST, 0);
        stack_config.region = config.region.clone();
        stack_config.function_env =
            BTreeMap::from([("STORE_URL".to_owned(), sqlite_url(state.path()))]);
        if let Some(limit) = options.unreserved_concurrency {
            stack_config.unreserved_concurrency = limit;
        }
        stack_config.janitor_period = options.janitor_period;
        stack_config.listen_on_both_loopbacks = options.both_loopbacks;
        let stack = LocalStack::start(stack_config)
            .await
            .unwrap_or_else(|e| panic!("starting the local stack: {e}"));
        TestStack {
            stack,
            pattern: options.pattern,
            config,
            state,
            client: client_from(LOCALHOST),
        }
    }

    /// The running stack itself, for what these helpers do not cover (its function pools).
    pub fn local(&self) -> &LocalStack {
        &self.stack
    }

    pub fn addr(&self) -> SocketAddr {
        self.stack.addr()
    }

    /// The [::1] address, when the stack listens there too ([`StackOptions::both_loopbacks`]).
    pub fn also_addr(&self) -> Option<SocketAddr> {
        self.stack.also_addr()
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// `http://127.0.0.1:<port><path>`: `path` is the whole request path, stage included.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `http://127.0.0.1:<port>/dev<path>`.
    pub fn api_url(&self, path: &str) -> String {
        self.url(&format!("/{STAGE}{path}"))
    }

    /// The local issuer of the configured pool named `name` (its key is the one the stack trusts,
    /// unless [`StackOptions::trust`] sends the stack to a JWKS for that pool).
    pub fn issuer(&self, name: &str) -> LocalIssuer {
        let pool = self
            .config
            .user_pools
            .iter()
            .find(|p| p.name() == name)
            .unwrap_or_else(|| panic!("the {ENV} environment has no user pool {name}"));
        issuer(self.state_dir(), pool)
    }

    /// A valid ID token for `username` from the first configured pool.
    pub fn token(&self, username: &str) -> String {
        let first = self.config.user_pools[0].name().to_owned();
        self.issuer(&first)
            .mint_id_token(TokenRequest::new(username))
    }

    /// Sends a request through the test's client; `path` includes the stage.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.header("authorization", token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::read(request.send().await.expect("sending a request")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    /// The names in the first page (up to 100) of `/dev/api/v0/<collection>`.
    pub async fn names(&self, collection: &str) -> Vec<String> {
        let reply = self
            .get(&format!("/{STAGE}/api/v0/{collection}?limit=100"))
            .await;
        assert_eq!(reply.status, 200, "listing {collection}: {}", reply.text);
        reply.json()["items"]
            .as_array()
            .expect("a list has items")
            .iter()
            .map(|item| item["name"].as_str().expect("items have names").to_owned())
            .collect()
    }

    /// Why the local authorizer refused the request `reply` answers (it notes it in gateway.log).
    pub async fn authorizer_note(&self, reply: &Reply) -> String {
        let id = reply
            .header("x-amzn-requestid")
            .expect("every reply has a request id");
        let prefix = format!("{id} 401: ");
        let lines = wait_for_lines(&self.log_path("gateway"), |lines| {
            lines.iter().any(|l| l.starts_with(&prefix))
        })
        .await;
        let note = lines.iter().find(|l| l.starts_with(&prefix)).unwrap();
        note[prefix.len()..].to_owned()
    }

    /// `<state>/logs/<function_name>.log` (or `access.log` for `"access"`).
    pub fn log_path(&self, name: &str) -> PathBuf {
        self.stack.logs_dir().join(format!("{name}.log"))
    }

    /// The deployed name of the function that serves the route `operation_id` (the route
    /// table's, e.g. `list_projects`) in this pattern.
    pub fn function_for(&self, operation_id: &str) -> String {
        let route = routes::ROUTES
            .iter()
            .find(|route| route.operation_id == operation_id)
            .unwrap_or_else(|| panic!("the route table has no operation {operation_id}"));
        format!("catalog-{ENV}-{}", self.pattern.function_for(route))
    }

    /// Stops serving and ends every function process.
    pub async fn stop(self) {
        self.stack.stop().await;
    }
}

/// A log file's lines with their RFC 3339 time prefix removed; none when it does not exist yet.
pub fn log_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|line| {
            line.split_once(' ')
                .map_or(line, |(_time, rest)| rest)
                .to_owned()
        })
        .collect()
}

/// Waits briefly until the lines of `path` satisfy `done` (log lines travel through pipes and
/// may land just after the reply); fails the test with the lines when they never do.
pub async fn wait_for_lines(path: &Path, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..250 {
        let lines = log_lines(path);
        if done(&lines) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = log_lines(path);
    assert!(
        done(&lines),
        "{} never got the expected lines:\n{}",
        path.display(),
        lines.join("\n")
    );
    lines
}
