//! The adapter on real-format API Gateway REST events, without Lambda: the event is parsed by
//! lambda_http exactly as in a function, then served by the lith router.

use std::sync::Arc;

use api::AppState;
use axum::body::Body;
use http::StatusCode;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

fn event(method: &str, path: &str, body: Option<&str>, claims: Option<Value>) -> String {
    let mut event = json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "Content-Type": "application/json"},
        "multiValueHeaders": {"Host": ["abc123.execute-api.eu-west-1.amazonaws.com"], "Content-Type": ["application/json"]},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": {"proxy": path.trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "resourceId": "abcdef",
            "stage": "dev",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "28/Nov/2026:01:02:03 +0000",
            "requestTimeEpoch": 1795741323000_i64,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "curl/8.0"},
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": format!("/dev{path}"),
            "protocol": "HTTP/1.1",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "apiId": "abc123"
        },
        "body": body,
        "isBase64Encoded": false
    });
    if let Some(claims) = claims {
        event["requestContext"]["authorizer"] = json!({"claims": claims});
    }
    event.to_string()
}

async fn send(event: &str) -> (StatusCode, http::HeaderMap, Value) {
    let request = lambda_http::request::from_str(event).expect("a valid API Gateway REST event");
    let router = api::lith(AppState::new(
        Arc::new(store::MemoryStore::default()),
        CorsConfig::default(),
    ));
    let response = router.oneshot(adapt(request).map(Body::new)).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn routes_on_the_event_path_and_keeps_the_stage_for_links() {
    let (status, headers, body) = send(&event("GET", "/api/v0", None, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["links"]["projects"], "/dev/api/v0/projects");
    assert_eq!(
        headers["x-request-id"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
}

#[tokio::test]
async fn a_doubled_stage_reaches_no_route() {
    // A client sent /dev/dev/api/v0: API Gateway strips one stage, the other must stay.
    let (status, _, body) = send(&event("GET", "/dev/api/v0", None, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "no_route");
}

#[tokio::test]
async fn a_path_without_its_slash_is_still_routed_without_the_stage() {
    // Found by `cargo xtask fuzz` (rest_event): such a path made no URI, and the request kept
    // lambda_http's path, the stage in front (`/dev)api/...`, `/devdev/api/v0`).
    let (status, _, body) = send(&event("GET", "api/v0", None, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["links"]["projects"], "/dev/api/v0/projects");
    let (status, _, body) = send(&event("GET", "dev/api/v0", None, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let request = lambda_http::request::from_str(&event("GET", ")api/v0", None, None)).unwrap();
    assert_eq!(adapt(request).uri().path(), "/)api/v0");
}

#[tokio::test]
async fn dot_segments_are_not_resolved_into_another_route() {
    let (status, _, _) = send(&event("GET", "/api/v0/x/../projects", None, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn claims_become_the_caller_recorded_on_create() {
    let claims = json!({"sub": "1b2c", "cognito:username": "alice", "email": "alice@example.com", "token_use": "id"});
    let (status, headers, body) = send(&event(
        "POST",
        "/api/v0/projects",
        Some(r#"{"name":"Atlas"}"#),
        Some(claims),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["created_by"], "alice");
    assert_eq!(headers["location"], "/dev/api/v0/projects/Atlas");
}

#[tokio::test]
async fn a_write_whose_claims_name_no_user_is_refused() {
    let claims = json!({"email": "nobody@example.com", "token_use": "id"});
    let (status, _, body) = send(&event(
        "POST",
        "/api/v0/projects",
        Some(r#"{"name":"Nameless"}"#),
        Some(claims),
    ))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "unidentified_caller");
}

#[tokio::test]
async fn names_with_spaces_are_addressable() {
    let (status, _, body) = send(&event(
        "GET",
        "/api/v0/projects/no such project",
        None,
        None,
    ))
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("no such project")
    );
}

#[test]
fn caller_from_rest_api_claims() {
    let caller = caller_from_claims(&json!({"sub": "s1", "cognito:groups": "admin,dev"})).unwrap();
    assert_eq!(
        (caller.username.as_str(), caller.groups.as_slice()),
        ("s1", &["admin".to_owned(), "dev".to_owned()][..])
    );
    let bracketed =
        caller_from_claims(&json!({"sub": "s1", "cognito:groups": "[admin dev]"})).unwrap();
    assert_eq!(bracketed.groups, ["admin", "dev"]);
    assert!(caller_from_claims(&json!({"email": "no-subject@example.com"})).is_none());
}

#[test]
fn the_caller_is_whichever_of_username_and_sub_the_token_has() {
    let only_username = caller_from_claims(&json!({"cognito:username": "alice"})).unwrap();
    assert_eq!(
        (
            only_username.username.as_str(),
            only_username.subject.as_str()
        ),
        ("alice", "alice")
    );
    let only_sub = caller_from_claims(&json!({"sub": "1b2c"})).unwrap();
    assert_eq!(
        (only_sub.username.as_str(), only_sub.subject.as_str()),
        ("1b2c", "1b2c")
    );
    assert_eq!(caller_from_claims(&json!({"email": "x@example.com"})), None);
}
