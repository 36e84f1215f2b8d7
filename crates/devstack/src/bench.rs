//! Measures the local stack itself: the gateway's overhead per warm request (client latency minus
//! the function's own REPORT Duration) and each function's cold start, on a private stack.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use stack::{ApiTemplate, UserPool};
use time::OffsetDateTime;

use crate::local_stack::{LocalStack, LocalStackConfig, StackError};
use crate::report::Report;

/// What one bench run measured.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Per function: name, Init Duration (ms, from its REPORT line), first request latency (ms).
    pub cold_starts: Vec<(String, f64, f64)>,
    /// Gateway overhead of each warm request, in ms.
    pub overheads_ms: Vec<f64>,
    /// Client latency of each warm request, in ms.
    pub latencies_ms: Vec<f64>,
}

/// The value below which `share` of the sorted samples fall (nearest rank).
pub fn percentile(sorted: &[f64], share: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A route each group's function answers without a token, from the route table: the
/// collection's list (one item, so the page is small) or, for meta, the health check.
pub fn probe_path(group: &str) -> String {
    use routes::{CollectionOp, MetaOp, Operation};
    let route = routes::ROUTES
        .iter()
        .find(|r| {
            r.group().name() == group
                && matches!(
                    r.operation,
                    Operation::Collection(_, CollectionOp::List) | Operation::Meta(MetaOp::Health)
                )
        })
        .or_else(|| {
            routes::ROUTES
                .iter()
                .find(|r| r.operation == Operation::Meta(MetaOp::Health))
        })
        .expect("the route table has a health check");
    match route.operation {
        Operation::Collection(..) => format!("{}?limit=1", route.path),
        Operation::Meta(_) => route.path.to_owned(),
    }
}

/// REPORT lines of a function's log file, in order.
pub fn reports(log_file: &Path) -> Vec<Report> {
    std::fs::read_to_string(log_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| Report::parse(line).ok())
        .collect()
}

/// Waits (up to 2 s) until a log file holds at least `count` REPORT lines: function output
/// travels through pipes and may land just after the response.
pub async fn wait_for_reports(log_file: &Path, count: usize) -> Vec<Report> {
    for _ in 0..200 {
        let found = reports(log_file);
        if found.len() >= count {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    reports(log_file)
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
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
}

/// Starts a private stack from `template`: any free port, its own state directory, loopback
/// allowed through the WAF, data in a SQLite file of its own.
pub async fn start_private_stack(
    template: ApiTemplate,
    user_pools: Vec<UserPool>,
    artifacts_dir: PathBuf,
    state_dir: PathBuf,
) -> Result<LocalStack, BenchError> {
    std::fs::create_dir_all(&state_dir)
        .map_err(|e| BenchError::Setup(format!("creating {}: {e}", state_dir.display())))?;
    if let Some(acl) = &template.waf {
        let name = |ipv6: bool| {
            acl.ip_sets
                .iter()
                .find(|s| s.ipv6 == ipv6)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let names = waf::IpSetNames::new(name(false), name(true))
            .map_err(|e| BenchError::Setup(e.to_string()))?;
        let backend = waf::LocalBackend::new(&state_dir, names);
        let loopback: waf::Cidr = "127.0.0.1"
            .parse()
            .map_err(|e: waf::CidrError| BenchError::Setup(e.to_string()))?;
        waf::AllowListBackend::allow(
            &backend,
            &[loopback],
            Some(Duration::from_secs(3600)),
            Some("measurement"),
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    }
    let mut config = LocalStackConfig::new(template, user_pools, artifacts_dir, state_dir.clone());
    config.listen = ([127, 0, 0, 1], 0).into();
    config.function_env.insert(
        "STORE_URL".into(),
        format!("sqlite://{}", state_dir.join("measure.db").display()),
    );
    Ok(LocalStack::start(config).await?)
}

/// Starts a private stack from `template` in `state_dir`, measures, and stops it.
pub async fn run(
    template: ApiTemplate,
    user_pools: Vec<UserPool>,
    artifacts_dir: PathBuf,
    state_dir: PathBuf,
    requests: usize,
) -> Result<BenchResult, BenchError> {
    // The functions that serve routes (a scheduled one, like the janitor, has no group).
    let functions: Vec<(String, String)> = template
        .functions
        .values()
        .filter(|f| !f.groups.is_empty())
        .map(|f| {
            (
                f.function_name.clone(),
                f.groups.first().cloned().unwrap_or_default(),
            )
        })
        .collect();
    let stack = start_private_stack(template, user_pools, artifacts_dir, state_dir).await?;
    let outcome = measure(&stack, &functions, requests).await;
    stack.stop().await;
    outcome
}

/// GETs `url` and returns the client-side latency in ms; anything but 2xx is an error.
pub async fn timed_get(client: &reqwest::Client, url: &str) -> Result<f64, BenchError> {
    let started = Instant::now();
    let failed = |message: String| BenchError::Request {
        url: url.to_owned(),
        message,
    };
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    response.bytes().await.map_err(|e| failed(e.to_string()))?;
    if !status.is_success() {
        return Err(failed(format!("status {status}")));
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

async fn measure(
    stack: &LocalStack,
    functions: &[(String, String)],
    requests: usize,
) -> Result<BenchResult, BenchError> {
    let client = reqwest::Client::new();
    let log_of = |function: &str| stack.logs_dir().join(format!("{function}.log"));

    let mut cold_starts = Vec::new();
    for (function, group) in functions {
        let latency = timed_get(
            &client,
            &format!("{}{}", stack.base_url(), probe_path(group)),
        )
        .await?;
        let found = wait_for_reports(&log_of(function), 1).await;
        let init = found
            .first()
            .and_then(|r| r.init_duration_ms)
            .ok_or_else(|| BenchError::MissingReports {
                function: function.clone(),
                got: found.len(),
                expected: 1,
                log: log_of(function),
            })?;
        cold_starts.push((function.clone(), init, latency));
    }

    let (function, group) = &functions[0];
    let url = format!("{}{}", stack.base_url(), probe_path(group));
    let mut latencies_ms = Vec::with_capacity(requests);
    for _ in 0..requests {
        latencies_ms.push(timed_get(&client, &url).await?);
    }
    let found = wait_for_reports(&log_of(function), requests + 1).await;
    if found.len() < requests + 1 {
        return Err(BenchError::MissingReports {
            function: function.clone(),
            got: found.len(),
            expected: requests + 1,
            log: log_of(function),
        });
    }
    // Sequential requests to one warm environment: the k-th REPORT after the cold one is the k-th request's.
    let overheads_ms = latencies_ms
        .iter()
        .zip(&found[1..])
        .map(|(latency, report)| latency - report.duration_ms)
        .collect();
    Ok(BenchResult {
        cold_starts,
        overheads_ms,
        latencies_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::{percentile, probe_path};

    #[test]
    fn probes_come_from_the_route_table() {
        assert_eq!(probe_path("projects"), "/api/v0/projects?limit=1");
        assert_eq!(probe_path("technologies"), "/api/v0/technologies?limit=1");
        assert_eq!(probe_path("meta"), "/health");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 50.0);
        assert_eq!(percentile(&samples, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
