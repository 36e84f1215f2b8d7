//! A private local stack for a measurement: any free port, its own state directory, loopback let
//! through the WAF, data in a SQLite file of its own; and what measurements read from it (the
//! functions' REPORT lines, timed requests, paths from the route table).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devstack::local_stack::{
    DEFAULT_ACCOUNT_CONCURRENCY, LocalStack, LocalStackConfig, StackError,
};
use platform_report::{Report, ReportTail};
use stack::{ApiTemplate, UserPool};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Stack(#[from] StackError),
    #[error("{0}")]
    Setup(String),
    #[error("request to {url} failed: {message}")]
    Request { url: String, message: String },
    #[error("{function} logged {got} REPORT lines, expected {expected}; see {}", .log.display())]
    MissingReports {
        function: String,
        got: usize,
        expected: usize,
        log: PathBuf,
    },
    #[error("reading {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub use crate::coldstart::probe_path;

/// `<logs_dir>/<function>.log`, where the local stack writes a function's output and reports.
pub fn function_log(logs_dir: &Path, function: &str) -> PathBuf {
    logs_dir.join(format!("{function}.log"))
}

/// Waits (up to 2 s) until `tail` has given `count` reports in all: function output travels
/// through pipes and a log writer, and may land just after the response. Returns what was read.
pub async fn wait_for_reports(
    tail: &mut ReportTail,
    count: usize,
) -> Result<Vec<Report>, MeasureError> {
    let mut found = Vec::new();
    for _ in 0..200 {
        found.extend(read_new(tail)?);
        if found.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(found)
}

/// The reports appended to a tailed log since the last look.
pub fn read_new(tail: &mut ReportTail) -> Result<Vec<Report>, MeasureError> {
    tail.read_new().map_err(|source| MeasureError::Io {
        path: tail.path().to_owned(),
        source,
    })
}

/// Starts a private stack from `template` in `state_dir`: any free port, loopback allowed
/// through the WAF, data in `<state_dir>/measure.db`, the deploy command's concurrency limit.
pub async fn start_private_stack(
    template: ApiTemplate,
    user_pools: Vec<UserPool>,
    artifacts_dir: PathBuf,
    state_dir: PathBuf,
) -> Result<LocalStack, MeasureError> {
    start_private_stack_with(
        template,
        user_pools,
        artifacts_dir,
        state_dir,
        BTreeMap::new(),
        DEFAULT_ACCOUNT_CONCURRENCY,
    )
    .await
}

/// [`start_private_stack`] with variables for every function (after `STORE_URL`, so they may
/// replace it) and the account's concurrency (each function's limit unless the template reserves
/// some).
pub async fn start_private_stack_with(
    template: ApiTemplate,
    user_pools: Vec<UserPool>,
    artifacts_dir: PathBuf,
    state_dir: PathBuf,
    function_env: BTreeMap<String, String>,
    unreserved_concurrency: usize,
) -> Result<LocalStack, MeasureError> {
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| MeasureError::Setup(format!("creating {}: {e}", state_dir.display())))?;
    if let Some(acl) = &template.waf {
        let name = |ipv6: bool| {
            acl.ip_sets
                .iter()
                .find(|s| s.ipv6 == ipv6)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let names = waf::IpSetNames::new(name(false), name(true))
            .map_err(|e| MeasureError::Setup(e.to_string()))?;
        let backend = waf::LocalBackend::new(&state_dir, names);
        let loopback: waf::Cidr = "127.0.0.1"
            .parse()
            .map_err(|e: waf::CidrError| MeasureError::Setup(e.to_string()))?;
        // The local backend writes files and may wait for another writer's lock: not on the
        // runtime's threads.
        tokio::task::spawn_blocking(move || {
            tokio::runtime::Handle::current().block_on(waf::AllowListBackend::allow(
                &backend,
                &[loopback],
                Some(Duration::from_secs(3600)),
                Some("measurement"),
                OffsetDateTime::now_utc(),
            ))
        })
        .await
        .map_err(|e| MeasureError::Setup(e.to_string()))?
        .map_err(|e| MeasureError::Setup(e.to_string()))?;
    }
    let mut config = LocalStackConfig::new(template, user_pools, artifacts_dir, state_dir.clone());
    config.listen = ([127, 0, 0, 1], 0).into();
    config.function_env.insert(
        "STORE_URL".into(),
        format!("sqlite://{}", state_dir.join("measure.db").display()),
    );
    config.function_env.extend(function_env);
    config.unreserved_concurrency = unreserved_concurrency;
    Ok(LocalStack::start(config).await?)
}

/// A Cognito ID token for `user` of the first user pool, signed with the key the stack of
/// `state_dir` trusts (made there if it is not yet), valid for an hour: what writes send.
pub fn mint_token(
    user_pools: &[UserPool],
    state_dir: &Path,
    user: &str,
) -> Result<String, MeasureError> {
    let pool = user_pools.first().ok_or_else(|| {
        MeasureError::Setup("the environment lists no user pool to sign the writes' token".into())
    })?;
    let issuer = devstack::cognito::LocalIssuer::open(pool.clone(), state_dir)
        .map_err(|e| MeasureError::Setup(format!("the local Cognito key: {e}")))?;
    let mut request = devstack::cognito::TokenRequest::new(user);
    request.ttl = Duration::from_secs(3600);
    Ok(issuer.mint_id_token(request))
}

/// GETs `url` and returns the client-side latency in ms; anything but 2xx is an error.
pub async fn timed_get(client: &reqwest::Client, url: &str) -> Result<f64, MeasureError> {
    timed_send(client.get(url), url, None).await
}

/// Sends `request` (to `url`) and returns the client-side latency in ms, the body read to its
/// end. A status other than `expected`, or without one anything but 2xx, is an error.
pub async fn timed_send(
    request: reqwest::RequestBuilder,
    url: &str,
    expected: Option<u16>,
) -> Result<f64, MeasureError> {
    let started = Instant::now();
    let failed = |message: String| MeasureError::Request {
        url: url.to_owned(),
        message,
    };
    let response = request.send().await.map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    response.bytes().await.map_err(|e| failed(e.to_string()))?;
    match expected {
        Some(expected) if status.as_u16() != expected => {
            return Err(failed(format!(
                "status {status}, where {expected} was expected"
            )));
        }
        None if !status.is_success() => return Err(failed(format!("status {status}"))),
        _ => {}
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// A state directory of this process's own under the temporary directory, removed on drop.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(kind: &str) -> ScratchDir {
        ScratchDir(std::env::temp_dir().join(format!("measure-{kind}-{}", std::process::id())))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_come_from_the_route_table() {
        assert_eq!(probe_path("projects"), "/api/v0/projects?limit=1");
        assert_eq!(probe_path("technologies"), "/api/v0/technologies?limit=1");
        assert_eq!(probe_path("meta"), "/health");
    }

    #[tokio::test]
    async fn reports_are_awaited_from_a_growing_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = function_log(dir.path(), "f");
        let mut tail = ReportTail::from_end(&log).unwrap();
        let writer = {
            let log = log.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                std::fs::write(&log, "REPORT RequestId: a\tDuration: 1.00 ms\n").unwrap();
            })
        };
        let found = wait_for_reports(&mut tail, 1).await.unwrap();
        writer.await.unwrap();
        assert_eq!(found.len(), 1);
        assert!(read_new(&mut tail).unwrap().is_empty());
    }
}
