//! The load generator: `connections` workers, each on its own keep-alive connection, send reads
//! (the collections' lists and the health check, from the route table) and token-authenticated
//! writes (creates with distinct names) for a bounded time and count; afterwards every create the
//! API acknowledged must be listed. Loopback only (see [`Target::parse`]).

mod client;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use catalog::Collection;
use http::{HeaderValue, Method, StatusCode};
use routes::{CollectionOp, MetaOp, Operation};
use serde::Serialize;

pub use client::{ClientError, Connection, Prepared, Target, TargetError};

use crate::stats::Latencies;

/// The longest run the command accepts: a load is a measurement, not a soak test.
pub const MAX_DURATION: Duration = Duration::from_secs(600);
/// The most connections the command opens.
pub const MAX_CONNECTIONS: usize = 256;
/// The most requests one run sends, whatever its duration.
pub const DEFAULT_MAX_REQUESTS: u64 = 5_000_000;
/// Unexpected answers described in the report (all are counted).
const MAX_DESCRIBED: usize = 20;

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub target: Target,
    pub duration: Duration,
    pub connections: usize,
    /// Share of requests that are writes, in percent.
    pub write_percent: u8,
    /// The `Authorization` header of writes (a Cognito ID token); needed when writes are asked.
    pub token: Option<String>,
    /// Makes this run's item names distinct from any other run's: `load-<run_id>-<worker>-<n>`.
    pub run_id: String,
    pub max_requests: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Config(String),
    #[error("opening a connection to {url}: {source}")]
    Connect { url: String, source: ClientError },
    #[error("listing what was written ({url}): {message}")]
    Verify { url: String, message: String },
}

impl LoadConfig {
    fn check(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::Config(m));
        if self.duration.is_zero() || self.duration > MAX_DURATION {
            return bad(format!(
                "the duration must be between 1 s and {} s",
                MAX_DURATION.as_secs()
            ));
        }
        if self.connections == 0 || self.connections > MAX_CONNECTIONS {
            return bad(format!("connections must be 1 to {MAX_CONNECTIONS}"));
        }
        if self.write_percent > 100 {
            return bad("the write percentage must be 0 to 100".into());
        }
        if self.write_percent > 0 && self.token.is_none() {
            return bad("writes need a token".into());
        }
        if self.max_requests == 0 {
            return bad("the request limit must be at least 1".into());
        }
        Ok(())
    }
}

/// Counts and latencies of one kind of request.
#[derive(Debug, Clone, Serialize)]
pub struct KindOutcome {
    pub count: u64,
    pub per_second: f64,
    pub latency_ms: Option<Latencies>,
}

/// What a load run saw.
#[derive(Debug, Clone, Serialize)]
pub struct LoadOutcome {
    pub url: String,
    pub connections: usize,
    pub write_percent: u8,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub latency_ms: Option<Latencies>,
    pub reads: KindOutcome,
    pub writes: KindOutcome,
    /// Answers by status code; `error` counts requests that got no answer.
    pub statuses: BTreeMap<String, u64>,
    pub unexpected: u64,
    /// The first few unexpected answers, described.
    pub unexpected_examples: Vec<String>,
    /// Creates answered 201.
    pub acknowledged_writes: usize,
    /// Acknowledged creates missing from the lists afterwards.
    pub lost_writes: Vec<String>,
}

impl LoadOutcome {
    /// No unexpected status, no lost write.
    pub fn passed(&self) -> bool {
        self.unexpected == 0 && self.lost_writes.is_empty()
    }
}

/// The reads, in the order workers cycle through them: each collection's first page (ten items:
/// a page a client would ask for) and the health check, so every function of a pattern serves.
pub fn read_paths() -> Vec<String> {
    routes::ROUTES
        .iter()
        .filter_map(|route| match route.operation {
            Operation::Collection(_, CollectionOp::List) => {
                Some(format!("{}?limit=10", route.path))
            }
            Operation::Meta(MetaOp::Health) => Some(route.path.to_owned()),
            _ => None,
        })
        .collect()
}

/// The create route of each collection, from the route table.
pub fn create_paths() -> Vec<(Collection, &'static str)> {
    routes::ROUTES
        .iter()
        .filter_map(|route| match route.operation {
            Operation::Collection(collection, CollectionOp::Create) => {
                Some((collection, route.path))
            }
            _ => None,
        })
        .collect()
}

/// Whether request `i` (counted from 0) of a worker is a write: spread evenly, exactly
/// `percent` in every hundred.
fn is_write(i: u64, percent: u8) -> bool {
    let p = u64::from(percent);
    (i + 1) * p / 100 != i * p / 100
}

/// A name no other write of any run has: the run, the worker, the worker's count.
pub fn item_name(run_id: &str, worker: usize, n: u64) -> String {
    format!("load-{run_id}-{worker}-{n}")
}

#[derive(Default)]
struct WorkerResult {
    read_micros: Vec<u32>,
    write_micros: Vec<u32>,
    statuses: BTreeMap<String, u64>,
    unexpected: u64,
    examples: Vec<String>,
    acknowledged: Vec<(Collection, String)>,
}

impl WorkerResult {
    fn unexpected(&mut self, what: String) {
        self.unexpected += 1;
        if self.examples.len() < MAX_DESCRIBED {
            self.examples.push(what);
        }
    }
}

/// Runs the load and the check of the writes.
pub async fn run(config: LoadConfig) -> Result<LoadOutcome, LoadError> {
    config.check()?;
    let config = Arc::new(config);
    // Every worker connects before the clock starts, so the run measures requests, not set-up.
    let mut connections = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        connections.push(Connection::open(&config.target).await.map_err(|source| {
            LoadError::Connect {
                url: config.target.url(),
                source,
            }
        })?);
    }
    let sent = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + config.duration;
    let workers: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(worker, connection)| {
            let (config, sent) = (Arc::clone(&config), Arc::clone(&sent));
            tokio::spawn(work(config, worker, connection, deadline, sent))
        })
        .collect();
    let mut results = Vec::new();
    for worker in workers {
        results.push(worker.await.unwrap_or_else(|error| {
            let mut result = WorkerResult::default();
            result.unexpected(format!("a worker stopped: {error}"));
            result
        }));
    }
    let seconds = started.elapsed().as_secs_f64();

    let mut all = WorkerResult::default();
    for result in results {
        all.read_micros.extend(result.read_micros);
        all.write_micros.extend(result.write_micros);
        for (status, count) in result.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
        all.unexpected += result.unexpected;
        for example in result.examples {
            if all.examples.len() < MAX_DESCRIBED {
                all.examples.push(example);
            }
        }
        all.acknowledged.extend(result.acknowledged);
    }
    let lost_writes = lost_writes(&config, &all.acknowledged).await?;

    let kind = |micros: &Vec<u32>| KindOutcome {
        count: micros.len() as u64,
        per_second: micros.len() as f64 / seconds,
        latency_ms: Latencies::of_micros(micros.clone()),
    };
    let reads = kind(&all.read_micros);
    let writes = kind(&all.write_micros);
    let mut every = all.read_micros;
    every.extend(all.write_micros);
    let requests = every.len() as u64;
    Ok(LoadOutcome {
        url: config.target.url(),
        connections: config.connections,
        write_percent: config.write_percent,
        seconds,
        requests,
        requests_per_second: requests as f64 / seconds,
        latency_ms: Latencies::of_micros(every),
        reads,
        writes,
        statuses: all.statuses,
        unexpected: all.unexpected,
        unexpected_examples: all.examples,
        acknowledged_writes: all.acknowledged.len(),
        lost_writes,
    })
}

async fn work(
    config: Arc<LoadConfig>,
    worker: usize,
    mut connection: Connection,
    deadline: Instant,
    sent: Arc<AtomicU64>,
) -> WorkerResult {
    let reads: Vec<Prepared> = read_paths()
        .into_iter()
        .map(|path_and_query| Prepared {
            method: Method::GET,
            path_and_query,
            body: None,
            authorization: None,
        })
        .collect();
    let creates = create_paths();
    let authorization = config
        .token
        .as_deref()
        .and_then(|token| HeaderValue::from_str(token).ok());
    let mut result = WorkerResult::default();
    // Workers start at different places of the read cycle, so every path is busy at once.
    let (mut read_turn, mut write_turn) = (worker, worker);
    let mut i = 0u64;
    while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < config.max_requests {
        let write = is_write(i, config.write_percent);
        i += 1;
        let (request, created) = if write {
            let (collection, path) = creates[write_turn % creates.len()];
            write_turn += 1;
            let name = item_name(&config.run_id, worker, i);
            let body = serde_json::json!({
                "name": name,
                "description": "written by cargo xtask load",
            });
            let request = Prepared {
                method: Method::POST,
                path_and_query: path.to_owned(),
                body: Some(Bytes::from(body.to_string())),
                authorization: authorization.clone(),
            };
            (request, Some((collection, name)))
        } else {
            read_turn += 1;
            (reads[read_turn % reads.len()].clone(), None)
        };
        let expected = if write {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let at = Instant::now();
        let answer = connection.send(&config.target, &request).await;
        let micros = u32::try_from(at.elapsed().as_micros()).unwrap_or(u32::MAX);
        match answer {
            Ok((status, body)) => {
                *result
                    .statuses
                    .entry(status.as_str().to_owned())
                    .or_default() += 1;
                if write {
                    result.write_micros.push(micros);
                } else {
                    result.read_micros.push(micros);
                }
                if status == expected {
                    if let Some(created) = created {
                        result.acknowledged.push(created);
                    }
                } else {
                    let body = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                    result.unexpected(format!(
                        "{} {} -> {status} {body}",
                        request.method, request.path_and_query
                    ));
                }
            }
            Err(error) => {
                *result.statuses.entry("error".to_owned()).or_default() += 1;
                result.unexpected(format!(
                    "{} {} -> no answer: {error}",
                    request.method, request.path_and_query
                ));
                // The connection may be gone: open another one and go on.
                match Connection::open(&config.target).await {
                    Ok(fresh) => connection = fresh,
                    Err(error) => {
                        result.unexpected(format!("reconnecting: {error}"));
                        break;
                    }
                }
            }
        }
    }
    result
}

/// The acknowledged creates that the collections' lists do not show, read page by page with
/// this run's name prefix as the filter.
async fn lost_writes(
    config: &LoadConfig,
    acknowledged: &[(Collection, String)],
) -> Result<Vec<String>, LoadError> {
    if acknowledged.is_empty() {
        return Ok(Vec::new());
    }
    let mut connection =
        Connection::open(&config.target)
            .await
            .map_err(|source| LoadError::Connect {
                url: config.target.url(),
                source,
            })?;
    let mut lost = Vec::new();
    for (collection, path) in create_paths() {
        let written: BTreeSet<&str> = acknowledged
            .iter()
            .filter(|(c, _)| *c == collection)
            .map(|(_, name)| name.as_str())
            .collect();
        if written.is_empty() {
            continue;
        }
        let listed = list_names(&mut connection, config, path).await?;
        lost.extend(
            written
                .into_iter()
                .filter(|name| !listed.contains(*name))
                .map(|name| format!("{path}/{name}")),
        );
    }
    Ok(lost)
}

async fn list_names(
    connection: &mut Connection,
    config: &LoadConfig,
    path: &str,
) -> Result<BTreeSet<String>, LoadError> {
    let prefix = format!("load-{}-", config.run_id);
    let mut names = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let mut path_and_query = format!("{path}?limit={}&name={prefix}", catalog::MAX_PAGE_SIZE);
        if let Some(token) = &next {
            path_and_query.push_str("&next_token=");
            path_and_query.push_str(&encode_query_value(token));
        }
        let request = Prepared {
            method: Method::GET,
            path_and_query,
            body: None,
            authorization: None,
        };
        let failed = |message: String| LoadError::Verify {
            url: format!("{}{}", config.target.url(), request.path_and_query),
            message,
        };
        let (status, body) = connection
            .send(&config.target, &request)
            .await
            .map_err(|e| failed(e.to_string()))?;
        if status != StatusCode::OK {
            return Err(failed(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        let page: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        let items = page["items"]
            .as_array()
            .ok_or_else(|| failed("the answer has no `items` list".into()))?;
        names.extend(
            items
                .iter()
                .filter_map(|item| item["name"].as_str())
                .map(str::to_owned),
        );
        match page["next_token"].as_str() {
            Some(token) if !items.is_empty() => next = Some(token.to_owned()),
            _ => return Ok(names),
        }
    }
}

/// Percent-encodes a query value: cursors are opaque and may hold any character.
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The outcome as the command prints it.
pub fn render(outcome: &LoadOutcome) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let latency = |l: &Option<Latencies>| {
        l.map_or_else(
            || "-".to_owned(),
            |l| {
                format!(
                    "p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2} ms",
                    l.p50, l.p90, l.p99, l.max
                )
            },
        )
    };
    let _ = writeln!(
        out,
        "  {} requests in {:.1} s over {} connections to {}: {:.0} requests/s",
        outcome.requests,
        outcome.seconds,
        outcome.connections,
        outcome.url,
        outcome.requests_per_second
    );
    let _ = writeln!(out, "  all     {}", latency(&outcome.latency_ms));
    let _ = writeln!(
        out,
        "  GET     {:>8} ({:.0}/s)   {}",
        outcome.reads.count,
        outcome.reads.per_second,
        latency(&outcome.reads.latency_ms)
    );
    let _ = writeln!(
        out,
        "  POST    {:>8} ({:.0}/s)   {}",
        outcome.writes.count,
        outcome.writes.per_second,
        latency(&outcome.writes.latency_ms)
    );
    let statuses: Vec<String> = outcome
        .statuses
        .iter()
        .map(|(status, count)| format!("{status}: {count}"))
        .collect();
    let _ = writeln!(out, "  statuses {}", statuses.join(", "));
    let _ = writeln!(
        out,
        "  writes  {} acknowledged, {} lost",
        outcome.acknowledged_writes,
        outcome.lost_writes.len()
    );
    for lost in outcome.lost_writes.iter().take(MAX_DESCRIBED) {
        let _ = writeln!(out, "    lost: {lost}");
    }
    if outcome.unexpected > 0 {
        let _ = writeln!(
            out,
            "  {} unexpected answers, for example:",
            outcome.unexpected
        );
        for example in &outcome.unexpected_examples {
            let _ = writeln!(out, "    {example}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_spread_evenly_at_the_asked_share() {
        for percent in [0u8, 1, 20, 33, 50, 100] {
            let writes = (0..1000).filter(|&i| is_write(i, percent)).count();
            assert_eq!(writes, usize::from(percent) * 10, "{percent}%");
        }
        let first: Vec<bool> = (0..10).map(|i| is_write(i, 20)).collect();
        assert_eq!(first.iter().filter(|w| **w).count(), 2);
        assert!(!first[0] || !first[1], "not bunched");
    }

    #[test]
    fn paths_come_from_the_route_table() {
        assert_eq!(
            read_paths(),
            [
                "/health",
                "/api/v0/projects?limit=10",
                "/api/v0/technologies?limit=10"
            ]
        );
        let creates: Vec<&str> = create_paths().iter().map(|(_, p)| *p).collect();
        assert_eq!(creates, ["/api/v0/projects", "/api/v0/technologies"]);
        assert_eq!(item_name("r1", 3, 7), "load-r1-3-7");
    }

    #[test]
    fn configurations_are_bounded() {
        let config = LoadConfig {
            target: Target::parse("http://127.0.0.1:1").unwrap(),
            duration: Duration::from_secs(1),
            connections: 1,
            write_percent: 0,
            token: None,
            run_id: "r".into(),
            max_requests: 1,
        };
        assert!(config.check().is_ok());
        for broken in [
            LoadConfig {
                duration: Duration::ZERO,
                ..config.clone()
            },
            LoadConfig {
                duration: MAX_DURATION + Duration::from_secs(1),
                ..config.clone()
            },
            LoadConfig {
                connections: 0,
                ..config.clone()
            },
            LoadConfig {
                connections: MAX_CONNECTIONS + 1,
                ..config.clone()
            },
            LoadConfig {
                write_percent: 101,
                ..config.clone()
            },
            LoadConfig {
                write_percent: 1,
                ..config.clone()
            },
            LoadConfig {
                max_requests: 0,
                ..config.clone()
            },
        ] {
            assert!(broken.check().is_err(), "{broken:?}");
        }
    }

    #[test]
    fn cursors_are_encoded_for_the_query() {
        assert_eq!(encode_query_value("a+b/c=="), "a%2Bb%2Fc%3D%3D");
        assert_eq!(encode_query_value("plain-_.~1"), "plain-_.~1");
    }
}
