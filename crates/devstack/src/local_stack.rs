//! The local stack: reads a rendered template and serves it as API Gateway + WAF + Cognito +
//! Lambda would, on one local port, with state (IP sets, keys, logs, data) in a state directory.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use stack::{ApiTemplate, UserPool};
use tokio::task::JoinHandle;

use crate::cognito::{Authorizer, LocalIssuer, TrustedPool};
use crate::connection::{ClientConnection, LocalAddr, RecordingListener};
use crate::environment::FunctionConfig;
use crate::gateway::{Gateway, WafGate};
use crate::log::{LogLine, LogRotation, LogSink, LogStream};
use crate::pool::FunctionPool;

/// Whose keys the authorizer trusts for each configured pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeyTrust {
    /// Local issuers with keys in the state directory (`cargo xtask token` mints their tokens).
    #[default]
    Local,
    /// The real pools' public JWKS, so tokens of the existing services work locally.
    Cognito,
    /// A JWKS URL per pool name (e.g. an emulator's); pools not listed stay local.
    Jwks(BTreeMap<String, String>),
}

/// The account's concurrency when nothing else is said: AWS's default limit of concurrent
/// executions per account and region (Lambda's developer guide, "Lambda quotas"). An environment
/// is a process of about 7 MB here, so a machine can hold many.
pub const DEFAULT_ACCOUNT_CONCURRENCY: usize = 1000;

/// A function variable given as `NAME=VALUE` (`--function-env`), split; `None` when it has no
/// `=` or no name.
pub fn parse_function_env(entry: &str) -> Option<(String, String)> {
    match entry.split_once('=') {
        Some((name, value)) if !name.is_empty() => Some((name.to_owned(), value.to_owned())),
        _ => None,
    }
}

pub struct LocalStackConfig {
    pub template: ApiTemplate,
    /// The pools the environment configures; the template's authorizer must name only these.
    pub user_pools: Vec<UserPool>,
    pub trust: KeyTrust,
    /// Where packages are: `<artifacts_dir>/<package>/bootstrap.zip`.
    pub artifacts_dir: PathBuf,
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    /// Also listen on the other loopback at the same port (`[::1]` beside `127.0.0.1`), so that
    /// `localhost` works whichever address it resolves to first. Skipped, with a note, where the
    /// machine has no such address.
    pub listen_on_both_loopbacks: bool,
    pub region: String,
    /// Execution environments at once of a function the template reserves no concurrency for
    /// (`ReservedConcurrentExecutions`); a reserving function gets its reservation. Beyond it,
    /// invocations are throttled and API Gateway answers 500. In AWS the account's unreserved
    /// concurrency is shared by all such functions; here each function counts its own.
    pub unreserved_concurrency: usize,
    /// Idle environments are reclaimed after this long.
    pub idle_timeout: Duration,
    /// Variables added to every function's environment (after the template's), e.g. `STORE_URL`.
    pub function_env: BTreeMap<String, String>,
    /// Also print function, platform and access log lines on stdout.
    pub console: bool,
    /// How large each log file under `<state_dir>/logs` may grow and how many older files are
    /// kept ([`LogRotation::DEFAULT`] unless set).
    pub log_rotation: LogRotation,
    /// How often the allow-list janitor flushes expired entries from the WAF's IP sets, as the
    /// template's schedule says for AWS (see [`stack::janitor_period`]); `None`: never.
    pub janitor_period: Option<Duration>,
}

impl LocalStackConfig {
    /// Defaults for everything but what must be given.
    pub fn new(
        template: ApiTemplate,
        user_pools: Vec<UserPool>,
        artifacts_dir: PathBuf,
        state_dir: PathBuf,
    ) -> Self {
        LocalStackConfig {
            template,
            user_pools,
            trust: KeyTrust::Local,
            artifacts_dir,
            state_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            listen_on_both_loopbacks: false,
            region: "eu-west-1".into(),
            unreserved_concurrency: DEFAULT_ACCOUNT_CONCURRENCY,
            idle_timeout: Duration::from_secs(300),
            function_env: BTreeMap::new(),
            console: false,
            log_rotation: LogRotation::DEFAULT,
            janitor_period: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "the template's authorizer trusts user pool {0}, which the environment file does not list; add it under [[user_pools]]"
    )]
    UnknownPool(String),
    #[error("{}: missing package for {function}; run `cargo xtask build` first", .zip.display())]
    MissingPackage { function: String, zip: PathBuf },
    #[error("{0}")]
    Cognito(String),
    #[error("the WAF's IP sets: {0}")]
    Waf(String),
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}; is another stack running? pick another port")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StackError + use<> {
    let path = path.to_owned();
    move |source| StackError::Io {
        action,
        path,
        source,
    }
}

/// The local allow-list janitor: every `period`, the same [`waf::janitor`] the AWS function runs,
/// on the local IP set files (the gateway already blocks expired entries; this removes them, as
/// AWS WAF needs). Each run that flushed something leaves a line in `janitor.log`.
fn spawn_janitor(
    state_dir: PathBuf,
    names: waf::IpSetNames,
    period: Duration,
    log: LogSink,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopped.changed() => break,
            }
            let (dir, names) = (state_dir.clone(), names.clone());
            // The local backend does blocking file I/O (and may wait for a writer's lock).
            let swept = tokio::task::spawn_blocking(move || {
                let backend = waf::LocalBackend::new(dir, names);
                tokio::runtime::Handle::current()
                    .block_on(waf::janitor(&backend, time::OffsetDateTime::now_utc()))
            })
            .await;
            let text = match swept {
                Ok(Ok(flushed)) if flushed.is_empty() => continue,
                Ok(Ok(flushed)) => {
                    let cidrs: Vec<String> = flushed.iter().map(|e| e.cidr.to_string()).collect();
                    format!("flushed expired allow-list entries: {}", cidrs.join(", "))
                }
                Ok(Err(error)) => format!("the allow-list janitor failed: {error}"),
                Err(error) => format!("the allow-list janitor stopped: {error}"),
            };
            log.emit(LogLine::new("janitor", LogStream::Platform, text));
        }
    })
}

/// A running local stack; [`LocalStack::stop`] ends it and every function process.
pub struct LocalStack {
    addr: SocketAddr,
    /// The other loopback's address, when the stack listens there too.
    also_addr: Option<SocketAddr>,
    gateway: Arc<Gateway>,
    shutdown: tokio::sync::watch::Sender<bool>,
    server: JoinHandle<()>,
    reaper: JoinHandle<()>,
    janitor: Option<JoinHandle<()>>,
    janitor_log: Option<LogSink>,
    logs_dir: PathBuf,
}

impl LocalStack {
    pub async fn start(config: LocalStackConfig) -> Result<LocalStack, StackError> {
        let state_dir =
            std::path::absolute(&config.state_dir).map_err(io("resolving", &config.state_dir))?;
        let logs_dir = state_dir.join("logs");
        std::fs::create_dir_all(&logs_dir).map_err(io("creating", &logs_dir))?;
        // Task directories of a stack that was killed are stale: no process uses them any more.
        let runtime_dir = state_dir.join("runtime");
        let _ = std::fs::remove_dir_all(&runtime_dir);
        std::fs::create_dir_all(&runtime_dir).map_err(io("creating", &runtime_dir))?;

        let (console, log_rotation) = (config.console, config.log_rotation);
        let sink = |name: &str| -> Result<LogSink, StackError> {
            let path = logs_dir.join(format!("{name}.log"));
            let file = LogSink::rotating_file(&path, log_rotation).map_err(io("opening", &path))?;
            Ok(if console {
                file.also(|line: &LogLine| println!("[{}] {}", line.function, line.text))
            } else {
                file
            })
        };

        // Cognito: the template's pools must be configured ones.
        for arn in config.template.user_pool_arns() {
            if !config.user_pools.iter().any(|p| p.arn() == arn) {
                return Err(StackError::UnknownPool(arn));
            }
        }
        let mut jwks = BTreeMap::new();
        let mut trusted = Vec::new();
        for pool in &config.user_pools {
            let remote = match &config.trust {
                KeyTrust::Local => None,
                KeyTrust::Cognito => Some(TrustedPool::cognito(pool.clone())),
                KeyTrust::Jwks(urls) => urls
                    .get(pool.name())
                    .map(|url| TrustedPool::jwks(pool.clone(), url.clone())),
            };
            let trust = match remote {
                Some(remote) => remote,
                None => {
                    // Generating an RSA key (first start) takes a while of pure computation:
                    // off the runtime's threads, which may be serving already (tests, measure).
                    let (owned, dir) = (pool.clone(), state_dir.clone());
                    let issuer = tokio::task::spawn_blocking(move || LocalIssuer::open(owned, dir))
                        .await
                        .map_err(|e| StackError::Cognito(e.to_string()))?
                        .map_err(|e| StackError::Cognito(e.to_string()))?;
                    jwks.insert(pool.pool_id().to_owned(), issuer.jwks());
                    TrustedPool::local(&issuer)
                }
            };
            trusted.push(trust);
        }
        let authorizer = if trusted.is_empty() {
            None
        } else {
            Some(Authorizer::new(trusted).map_err(|e| StackError::Cognito(e.to_string()))?)
        };

        let waf = match &config.template.waf {
            None => None,
            Some(acl) => {
                let set = |ipv6: bool| {
                    acl.ip_sets
                        .iter()
                        .find(|s| s.ipv6 == ipv6)
                        .map(|s| s.name.clone())
                };
                let (Some(v4), Some(v6)) = (set(false), set(true)) else {
                    return Err(StackError::Waf(
                        "the web ACL needs one IPv4 and one IPv6 IP set".into(),
                    ));
                };
                let names =
                    waf::IpSetNames::new(v4, v6).map_err(|e| StackError::Waf(e.to_string()))?;
                let allow_list = waf::LocalAllowList::load(&state_dir, &names)
                    .map_err(|e| StackError::Waf(e.to_string()))?;
                Some(WafGate {
                    acl: acl.clone(),
                    allow_list,
                    names,
                })
            }
        };

        // A pool per function the gateway invokes; a scheduled function (the allow-list
        // janitor) is not run as a process here: its work runs on the stack's own timer.
        let invoked: std::collections::BTreeSet<&str> = config
            .template
            .resources
            .iter()
            .flat_map(|resource| &resource.methods)
            .map(|method| method.function.as_str())
            .collect();
        let mut pools = BTreeMap::new();
        for function in config
            .template
            .functions
            .values()
            .filter(|function| invoked.contains(function.logical_id.as_str()))
        {
            let zip = config
                .artifacts_dir
                .join(&function.package)
                .join("bootstrap.zip");
            if !zip.is_file() {
                return Err(StackError::MissingPackage {
                    function: function.function_name.clone(),
                    zip,
                });
            }
            let mut env = function.environment.clone();
            env.extend(config.function_env.clone());
            let function_config = FunctionConfig {
                memory_mb: function.memory_mb,
                timeout: Duration::from_secs(u64::from(function.timeout_seconds)),
                region: config.region.clone(),
                env,
                logging: function.logging,
                ..FunctionConfig::new(&function.function_name, zip)
            };
            let log = sink(&function.function_name)?;
            pools.insert(
                function.logical_id.clone(),
                FunctionPool::new(
                    function_config,
                    runtime_dir.clone(),
                    log,
                    function
                        .reserved_concurrency
                        .map_or(config.unreserved_concurrency, |reserved| reserved as usize),
                ),
            );
        }

        let gateway = Arc::new(Gateway {
            template: config.template,
            api_id: "local".into(),
            pools,
            authorizer,
            waf,
            jwks,
            access_log: sink("access")?,
            notes: sink("gateway")?,
        });

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StackError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StackError::Bind {
            addr: config.listen,
            source,
        })?;
        let also = match other_loopback(addr) {
            Some(other) if config.listen_on_both_loopbacks => {
                match tokio::net::TcpListener::bind(other).await {
                    Ok(listener) => Some(listener),
                    Err(error) => {
                        eprintln!("note: not listening on {other} too ({error}); use {addr}");
                        None
                    }
                }
            }
            _ => None,
        };
        let also_addr = also
            .as_ref()
            .and_then(|listener| listener.local_addr().ok());
        let (shutdown, mut stopped) = tokio::sync::watch::channel(false);
        let handler_gateway = Arc::clone(&gateway);
        // The gateway gets what hyper drops: the header names as spelled and the port reached.
        let app = Router::new().fallback(
            move |ConnectInfo(client): ConnectInfo<ClientConnection>, mut request: Request| {
                let gateway = Arc::clone(&handler_gateway);
                let extensions = request.extensions_mut();
                extensions.insert(LocalAddr(client.local));
                if let Some(names) = client.next_request_names() {
                    extensions.insert(names);
                }
                async move { gateway.handle(client.peer, request.map(Body::new)).await }
            },
        );
        let mut server_stopped = stopped.clone();
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<ClientConnection>();
            let _ = axum::serve(RecordingListener::with_also(listener, also), service)
                .with_graceful_shutdown(async move {
                    let _ = server_stopped.wait_for(|stop| *stop).await;
                })
                .await;
        });
        let (janitor, janitor_log) = match (&gateway.waf, config.janitor_period) {
            (Some(gate), Some(period)) => {
                let log = sink("janitor")?;
                let task = spawn_janitor(
                    state_dir.clone(),
                    gate.names.clone(),
                    period,
                    log.clone(),
                    stopped.clone(),
                );
                (Some(task), Some(log))
            }
            _ => (None, None),
        };
        let reaper_gateway = Arc::clone(&gateway);
        let idle_timeout = config.idle_timeout;
        let reaper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1).min(idle_timeout));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        for pool in reaper_gateway.pools.values() {
                            pool.reclaim_idle(idle_timeout).await;
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        });
        Ok(LocalStack {
            addr,
            also_addr,
            gateway,
            shutdown,
            server,
            reaper,
            janitor,
            janitor_log,
            logs_dir,
        })
    }

    /// The other loopback's address, when the stack listens there too
    /// ([`LocalStackConfig::listen_on_both_loopbacks`]).
    pub fn also_addr(&self) -> Option<SocketAddr> {
        self.also_addr
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>/<stage>`: where the API answers.
    pub fn base_url(&self) -> String {
        format!("http://{}/{}", self.addr, self.gateway.template.stage)
    }

    /// Where the per-function logs (`<function-name>.log`) and `access.log` are written.
    pub fn logs_dir(&self) -> &Path {
        &self.logs_dir
    }

    /// The function pools by function name, for inspection.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<FunctionPool>> {
        self.gateway.pools.values()
    }

    /// Stops serving, then stops every execution environment.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.server.await;
        let _ = self.reaper.await;
        if let Some(janitor) = self.janitor {
            let _ = janitor.await;
        }
        for pool in self.gateway.pools.values() {
            pool.shutdown().await;
        }
        // Every line of the stack's life in its file before `stop` returns; the writers wait on
        // their threads, not on the runtime's.
        let mut sinks = vec![self.gateway.access_log.clone(), self.gateway.notes.clone()];
        sinks.extend(self.gateway.pools.values().map(|pool| pool.log().clone()));
        if let Some(janitor_log) = self.janitor_log {
            sinks.push(janitor_log);
        }
        let _ = tokio::task::spawn_blocking(move || sinks.iter().for_each(LogSink::flush)).await;
    }
}

/// The loopback of the other IP version at `addr`'s port, when `addr` is a loopback.
fn other_loopback(addr: SocketAddr) -> Option<SocketAddr> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            Some(SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()))
        }
        IpAddr::V6(ip) if ip.is_loopback() => {
            Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()))
        }
        _ => None,
    }
}
