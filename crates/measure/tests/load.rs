//! The load generator against a small in-process API double on loopback: bounded by count (never
//! by time), it must report every answer, and catch a lost write or an unexpected status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use measure::load::{self, LoadConfig, Target};
use serde_json::{Value, json};

/// How the double misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Acknowledges every write but keeps only every other one.
    ForgetsWrites,
    /// Answers technologies' list with 500.
    FailsTechnologies,
}

#[derive(Clone)]
struct Double {
    fault: Fault,
    items: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
    writes: Arc<Mutex<u64>>,
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn list(
    State(double): State<Double>,
    Path(collection): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Json<Value>, StatusCode> {
    if double.fault == Fault::FailsTechnologies && collection == "technologies" {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10);
    let start: usize = query
        .get("next_token")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let prefix = query.get("name").cloned().unwrap_or_default();
    let items = double.items.lock().unwrap();
    let matching: Vec<&String> = items
        .get(&collection)
        .into_iter()
        .flatten()
        .filter(|name| name.contains(&prefix))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|name| json!({ "name": name }))
        .collect();
    let next = (start + limit < matching.len()).then(|| (start + limit).to_string());
    Ok(Json(json!({ "items": page, "next_token": next })))
}

async fn create(
    State(double): State<Double>,
    Path(collection): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> StatusCode {
    if headers.get("authorization").is_none() {
        return StatusCode::UNAUTHORIZED;
    }
    let count = {
        let mut writes = double.writes.lock().unwrap();
        *writes += 1;
        *writes
    };
    if double.fault == Fault::ForgetsWrites && count % 2 == 0 {
        return StatusCode::CREATED;
    }
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    double
        .items
        .lock()
        .unwrap()
        .entry(collection)
        .or_default()
        .push(name);
    StatusCode::CREATED
}

async fn serve(fault: Fault) -> (Target, tokio::task::JoinHandle<()>) {
    let double = Double {
        fault,
        items: Arc::default(),
        writes: Arc::default(),
    };
    let app = Router::new()
        .route("/dev/health", get(health))
        .route("/dev/api/v0/{collection}", get(list).post(create))
        .with_state(double);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (
        Target::parse(&format!("http://{addr}/dev")).unwrap(),
        server,
    )
}

fn config(target: Target, max_requests: u64) -> LoadConfig {
    LoadConfig {
        target,
        // Long enough never to be what ends the run: the count does.
        duration: Duration::from_secs(300),
        connections: 4,
        write_percent: 25,
        token: Some("token".into()),
        run_id: "t1".into(),
        max_requests,
    }
}

#[tokio::test]
async fn every_answer_is_counted_and_every_write_found() {
    let (target, server) = serve(Fault::None).await;
    let outcome = load::run(config(target, 400)).await.unwrap();
    server.abort();
    assert_eq!(outcome.requests, 400);
    assert_eq!(outcome.reads.count + outcome.writes.count, 400);
    // Each worker writes a quarter of what it sends; the workers share the 400 unevenly.
    assert!(
        (96..=104).contains(&outcome.writes.count),
        "{}",
        outcome.writes.count
    );
    assert_eq!(outcome.statuses.get("200"), Some(&outcome.reads.count));
    assert_eq!(outcome.statuses.get("201"), Some(&outcome.writes.count));
    assert_eq!(outcome.acknowledged_writes as u64, outcome.writes.count);
    assert!(outcome.lost_writes.is_empty(), "{:?}", outcome.lost_writes);
    assert!(outcome.passed());
    let rendered = load::render(&outcome);
    let line = format!("{} acknowledged, 0 lost", outcome.writes.count);
    assert!(rendered.contains(&line), "{rendered}");
}

#[tokio::test]
async fn a_forgotten_write_is_reported_lost() {
    let (target, server) = serve(Fault::ForgetsWrites).await;
    let outcome = load::run(config(target, 200)).await.unwrap();
    server.abort();
    let acknowledged = outcome.acknowledged_writes;
    assert_eq!(acknowledged as u64, outcome.writes.count);
    assert_eq!(
        outcome.lost_writes.len(),
        acknowledged / 2,
        "{:?}",
        outcome.lost_writes
    );
    assert!(outcome.lost_writes[0].starts_with("/api/v0/"));
    assert_eq!(outcome.unexpected, 0);
    assert!(!outcome.passed());
}

#[tokio::test]
async fn an_unexpected_status_fails_the_run() {
    let (target, server) = serve(Fault::FailsTechnologies).await;
    let outcome = load::run(LoadConfig {
        write_percent: 0,
        token: None,
        ..config(target, 90)
    })
    .await
    .unwrap();
    server.abort();
    assert_eq!(
        outcome.statuses.get("500"),
        Some(&30),
        "{:?}",
        outcome.statuses
    );
    assert_eq!(outcome.unexpected, 30);
    assert!(outcome.unexpected_examples[0].contains("/api/v0/technologies?limit=10 -> 500"));
    assert!(!outcome.passed());
}

#[tokio::test]
async fn only_loopback_is_loaded() {
    assert!(Target::parse("http://10.1.2.3:80/dev").is_err());
}
