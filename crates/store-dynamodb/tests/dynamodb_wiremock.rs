//! The DynamoDB store against DynamoDB's JSON protocol as DynamoDB documents it, served by
//! wiremock: which failures the API tells clients to retry (503 with `Retry-After`) and which it
//! reports as a misconfiguration (500, with a log line naming the table and the permission).
//!
//! Error shapes: "Error handling with DynamoDB" in the DynamoDB Developer Guide (an HTTP 400 or
//! 500 with a JSON body whose `__type` ends in the error code, and `message`), and the
//! AccessDeniedException message IAM writes ("... is not authorized to perform: dynamodb:PutItem
//! on resource: ...").

use std::sync::Arc;

use api::ApiError;
use aws_smithy_types::retry::RetryConfig;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use catalog::{Collection, ListQuery, NewItem, Repository, RepositoryError};
use serde_json::json;
use store_dynamodb::DynamoDbStore;
use wiremock::matchers::{header, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TABLE: &str = "catalog-dev";

fn store_at(endpoint: &str) -> DynamoDbStore {
    let session =
        aws_session::function::from_vars("DYNAMODB", RetryConfig::standard(), |name| match name {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("secret".into()),
            "AWS_REGION" => Some("eu-west-1".into()),
            "AWS_ENDPOINT_URL" => Some(endpoint.to_owned()),
            _ => None,
        })
        .unwrap();
    DynamoDbStore::new(&session, TABLE)
}

/// An error answer of the DynamoDB JSON protocol.
fn aws_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/x-amz-json-1.0")
        .insert_header(
            "x-amzn-RequestId",
            "REQUEST0000000000000000000000000000000000000000000000",
        )
        .set_body_json(json!({ "__type": kind, "message": message }))
}

/// Answers every call of `action` with `response`.
async fn on(server: &MockServer, action: &str, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(target(action))
        .respond_with(response)
        .mount(server)
        .await;
}

fn target(action: &str) -> wiremock::matchers::HeaderExactMatcher {
    header(
        "x-amz-target",
        format!("DynamoDB_20120810.{action}").as_str(),
    )
}

fn item(name: &str) -> NewItem {
    NewItem::parse(name, Some("about it"), Some("alice".into())).unwrap()
}

/// The status and `Retry-After` the API answers a store failure with.
fn answer(error: RepositoryError) -> (StatusCode, Option<String>) {
    let response = ApiError::from(error).into_response();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), retry_after)
}

async fn requests_to(server: &MockServer, action: &str) -> usize {
    let wanted = format!("DynamoDB_20120810.{action}");
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| {
            r.headers
                .get("x-amz-target")
                .is_some_and(|v| v == wanted.as_str())
        })
        .count()
}

#[tokio::test]
async fn a_missing_table_is_a_500_naming_the_table_and_the_action() {
    let server = MockServer::start().await;
    on(
        &server,
        "Query",
        aws_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
            "Requested resource not found",
        ),
    )
    .await;
    let error = store_at(&server.uri())
        .list(Collection::Projects, &ListQuery::default())
        .await
        .unwrap_err();
    let RepositoryError::Misconfigured { what } = &error else {
        panic!("{error:?}")
    };
    assert!(
        what.contains("\"catalog-dev\"") && what.contains("dynamodb:Query"),
        "{what}"
    );
    assert_eq!(answer(error), (StatusCode::INTERNAL_SERVER_ERROR, None));
    assert_eq!(
        requests_to(&server, "Query").await,
        1,
        "a missing table is not retried"
    );
}

#[tokio::test]
async fn denied_access_is_a_500_naming_the_missing_permission() {
    let server = MockServer::start().await;
    on(
        &server,
        "PutItem",
        aws_error(
            400,
            "com.amazon.coral.service#AccessDeniedException",
            "User: arn:aws:sts::123456789012:assumed-role/catalog-dev-meta/catalog-dev-meta is not \
             authorized to perform: dynamodb:PutItem on resource: \
             arn:aws:dynamodb:eu-west-1:123456789012:table/catalog-dev because no identity-based \
             policy allows the dynamodb:PutItem action",
        ),
    )
    .await;
    let error = store_at(&server.uri())
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap_err();
    let RepositoryError::Misconfigured { what } = &error else {
        panic!("{error:?}")
    };
    assert!(
        what.contains("dynamodb:PutItem on table \"catalog-dev\""),
        "{what}"
    );
    assert!(
        what.contains("AccessDeniedException"),
        "AWS's words are kept: {what}"
    );
    assert_eq!(answer(error).0, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn lasting_throttling_is_a_503_with_retry_after_once_three_attempts_failed() {
    let server = MockServer::start().await;
    on(
        &server,
        "PutItem",
        aws_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
    )
    .await;
    let error = store_at(&server.uri())
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap_err();
    assert!(matches!(error, RepositoryError::Retryable(_)), "{error:?}");
    assert_eq!(
        answer(error),
        (StatusCode::SERVICE_UNAVAILABLE, Some("1".to_owned()))
    );
    assert_eq!(requests_to(&server, "PutItem").await, 3);
}

#[tokio::test]
async fn a_single_throttle_is_absorbed_by_a_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(target("DeleteItem"))
        .respond_with(aws_error(
            400,
            "com.amazonaws.dynamodb.v20120810#ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    on(
        &server,
        "DeleteItem",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/x-amz-json-1.0")
            .set_body_json(json!({})),
    )
    .await;
    store_at(&server.uri())
        .delete(Collection::Technologies, "Rust")
        .await
        .unwrap();
    assert_eq!(requests_to(&server, "DeleteItem").await, 2);
}

#[tokio::test]
async fn every_throttling_and_server_error_is_retryable() {
    for (status, kind) in [
        (400, "ProvisionedThroughputExceededException"),
        (400, "RequestLimitExceeded"),
        (400, "ThrottlingException"),
        (500, "InternalServerError"),
        (503, "ServiceUnavailable"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(target("GetItem"))
            .respond_with(aws_error(
                status,
                &format!("com.amazonaws.dynamodb.v20120810#{kind}"),
                "busy",
            ))
            .mount(&server)
            .await;
        let error = store_at(&server.uri())
            .get(Collection::Projects, "Atlas")
            .await
            .unwrap_err();
        assert!(
            matches!(error, RepositoryError::Retryable(_)),
            "{kind}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_failed_condition_is_the_domains_answer_not_a_failure() {
    let server = MockServer::start().await;
    for action in ["PutItem", "DeleteItem"] {
        Mock::given(method("POST"))
            .and(target(action))
            .respond_with(aws_error(
                400,
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "The conditional request failed",
            ))
            .mount(&server)
            .await;
    }
    let store = store_at(&server.uri());
    let duplicate = store
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap_err();
    assert!(
        matches!(duplicate, RepositoryError::Duplicate { .. }),
        "{duplicate:?}"
    );
    let missing = store
        .delete(Collection::Projects, "Atlas")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, RepositoryError::NotFound { .. }),
        "{missing:?}"
    );
    assert_eq!(
        requests_to(&server, "PutItem").await,
        1,
        "a condition is not retried"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retryable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store: Arc<dyn Repository> = Arc::new(store_at(&format!("http://127.0.0.1:{port}")));
    let error = store.check().await.unwrap_err();
    assert!(matches!(error, RepositoryError::Retryable(_)), "{error:?}");
    assert!(
        error.to_string().contains("dynamodb:DescribeTable"),
        "{error}"
    );
}

#[tokio::test]
async fn requests_carry_consistent_reads_and_conditions() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_json(json!({"Items": [], "Count": 0, "ScannedCount": 0})),
        )
        .mount(&server)
        .await;
    let store = store_at(&server.uri());
    store
        .create(Collection::Projects, item("Atlas"))
        .await
        .unwrap();
    let page = store
        .list(Collection::Projects, &ListQuery::default())
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
    let bodies: Vec<serde_json::Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies[0]["ConditionExpression"],
        "attribute_not_exists(#name)"
    );
    assert_eq!(bodies[0]["Item"]["name_folded"], json!({"S": "atlas"}));
    assert_eq!(bodies[1]["ConsistentRead"], true);
    assert_eq!(
        bodies[1]["Limit"], 51,
        "a page of 50 and one more, to know if another follows"
    );
}
