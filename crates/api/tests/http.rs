//! The API over HTTP semantics (through tower, no network): route table agreement, the CRUD
//! scenario, every error status (the store's failures included), CORS and request ids.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use api::{AppState, CorsConfig};
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use catalog::{Collection, Item, ListQuery, NewItem, Page, Repository, RepositoryError};
use http_body_util::BodyExt;
use routes::{Group, ROUTES};
use serde_json::{Value, json};
use tower::ServiceExt;

fn state() -> AppState {
    AppState::new(
        Arc::new(store::MemoryStore::default()),
        CorsConfig::default(),
    )
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

async fn call(router: &Router, request: Request<Body>) -> Reply {
    let response = router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes().to_vec(),
    }
}

fn request(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

fn post_json(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn concrete(path: &str) -> String {
    path.replace("{name}", "some-name")
        .replace("{asset}", "swagger-ui.css")
}

fn method(route: &routes::Route) -> Method {
    Method::from_bytes(route.method.as_str().as_bytes()).unwrap()
}

fn answered_by_a_route(reply: &Reply) -> bool {
    let code = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned));
    !matches!(code.as_deref(), Some("no_route" | "method_not_allowed"))
}

#[tokio::test]
async fn every_route_of_the_table_is_served_by_the_lith_and_only_by_its_group() {
    let lith = api::lith(state());
    let groups = [
        (Group::Projects, api::projects(state())),
        (Group::Technologies, api::technologies(state())),
        (Group::Meta, api::meta_group(state())),
    ];
    for route in ROUTES {
        let path = concrete(route.path);
        let reply = call(&lith, request(method(route), &path)).await;
        assert!(
            answered_by_a_route(&reply),
            "lith does not serve {} {}",
            route.method.as_str(),
            route.path
        );
        for (group, router) in &groups {
            let reply = call(router, request(method(route), &path)).await;
            assert_eq!(
                answered_by_a_route(&reply),
                *group == route.group(),
                "{group:?} router and {} {}",
                route.method.as_str(),
                route.path
            );
        }
    }
}

/// The single-purpose routers: one per route of the table, each serving its route and no other.
#[tokio::test]
async fn each_single_purpose_router_serves_its_route_alone() {
    use api::single;
    type Build = fn(AppState) -> Router;
    let singles: [(&str, Build); 13] = [
        ("welcome", single::welcome),
        ("health", single::health),
        ("openapi", single::openapi),
        ("docs", single::docs),
        ("docs_asset", single::docs_asset),
        ("list_projects", single::list_projects),
        ("create_project", single::create_project),
        ("get_project", single::get_project),
        ("delete_project", single::delete_project),
        ("list_technologies", single::list_technologies),
        ("create_technology", single::create_technology),
        ("get_technology", single::get_technology),
        ("delete_technology", single::delete_technology),
    ];
    let ids: BTreeSet<&str> = singles.iter().map(|(id, _)| *id).collect();
    let table: BTreeSet<&str> = ROUTES.iter().map(|r| r.operation_id).collect();
    assert_eq!(ids, table, "one router per route of the table");
    for (id, build) in singles {
        let router = build(state());
        for route in ROUTES {
            let reply = call(&router, request(method(route), &concrete(route.path))).await;
            assert_eq!(
                answered_by_a_route(&reply),
                route.operation_id == id,
                "the {id} router and {} {}",
                route.method.as_str(),
                route.path
            );
        }
        let unknown = call(&router, request(Method::GET, "/nowhere")).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
        assert_eq!(unknown.json()["code"], "no_route");
    }
}

#[tokio::test]
async fn the_routers_serve_nothing_beyond_the_table() {
    let lith = api::lith(state());
    let table: BTreeSet<(&str, &str)> =
        ROUTES.iter().map(|r| (r.method.as_str(), r.path)).collect();
    // Every method on every routed path: what is not in the table must not be answered.
    for route in ROUTES {
        for m in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ] {
            let reply = call(&lith, request(m.clone(), &concrete(route.path))).await;
            let in_table = table.contains(&(m.as_str(), route.path));
            assert_eq!(answered_by_a_route(&reply), in_table, "{m} {}", route.path);
        }
    }
}

#[tokio::test]
async fn openapi_documents_every_route_and_nothing_else() {
    let doc = call(&api::lith(state()), request(Method::GET, "/openapi.json"))
        .await
        .json();
    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            documented.insert((method.to_ascii_uppercase(), path.clone()));
            let route = ROUTES
                .iter()
                .find(|r| r.path == path && r.method.as_str().eq_ignore_ascii_case(method))
                .unwrap_or_else(|| panic!("documented but not in the table: {method} {path}"));
            assert_eq!(operation["operationId"], route.operation_id);
            assert_eq!(
                operation.get("security").is_some(),
                route.is_protected(),
                "{method} {path}"
            );
            for parameter in route.path_parameters() {
                let listed = operation["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == parameter);
                assert!(listed, "{method} {path} does not document {{{parameter}}}");
            }
        }
    }
    let table: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, table);
    assert_eq!(doc["servers"][0]["url"], "/");
}

#[tokio::test]
async fn crud_scenario() {
    let app = api::lith(state());
    let created = call(
        &app,
        post_json(
            "/api/v0/projects",
            r#"{"name":"  Atlas ","description":"maps"}"#,
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.headers[header::LOCATION], "/api/v0/projects/Atlas");
    let item = created.json();
    assert_eq!(
        (item["name"].as_str(), item["description"].as_str()),
        (Some("Atlas"), Some("maps"))
    );
    assert!(
        item["id"].is_string() && item["created_at"].is_string() && item["created_by"].is_null()
    );

    let fetched = call(&app, request(Method::GET, "/api/v0/projects/Atlas")).await;
    assert_eq!(
        (fetched.status, fetched.json()),
        (StatusCode::OK, item.clone())
    );

    let listed = call(&app, request(Method::GET, "/api/v0/projects"))
        .await
        .json();
    assert_eq!(listed, json!({"items": [item], "next_token": null}));
    let other = call(&app, request(Method::GET, "/api/v0/technologies"))
        .await
        .json();
    assert_eq!(other["items"], json!([]));

    let duplicate = call(&app, post_json("/api/v0/projects", r#"{"name":"Atlas"}"#)).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.json()["code"], "conflict");

    let deleted = call(&app, request(Method::DELETE, "/api/v0/projects/Atlas")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(deleted.body.is_empty());
    for m in [Method::GET, Method::DELETE] {
        let gone = call(&app, request(m, "/api/v0/projects/Atlas")).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(gone.json()["code"], "not_found");
    }
}

#[tokio::test]
async fn names_needing_escapes_round_trip_through_location() {
    let app = api::lith(state());
    let created = call(
        &app,
        post_json("/api/v0/technologies", r#"{"name":"C# & .NET"}"#),
    )
    .await;
    let location = created.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, "/api/v0/technologies/C%23%20%26%20.NET");
    let fetched = call(&app, request(Method::GET, &location)).await;
    assert_eq!(fetched.json()["name"], "C# & .NET");
}

#[tokio::test]
async fn pagination_and_filter() {
    let app = api::lith(state());
    for name in ["alpha", "bravo", "charlie", "Alpine"] {
        assert_eq!(
            call(
                &app,
                post_json("/api/v0/technologies", format!(r#"{{"name":"{name}"}}"#))
            )
            .await
            .status,
            201
        );
    }
    let first = call(&app, request(Method::GET, "/api/v0/technologies?limit=3"))
        .await
        .json();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let token = first["next_token"].as_str().unwrap();
    let second = call(
        &app,
        request(
            Method::GET,
            &format!("/api/v0/technologies?limit=3&next_token={token}"),
        ),
    )
    .await
    .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_token"], Value::Null);

    let filtered = call(&app, request(Method::GET, "/api/v0/technologies?name=ALP"))
        .await
        .json();
    let names: Vec<_> = filtered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alpine", "alpha"]);

    let bad = call(
        &app,
        request(Method::GET, "/api/v0/technologies?limit=1000"),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = bad.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].clone())
        .collect();
    assert_eq!(fields, [json!("limit")]);
}

#[tokio::test]
async fn a_next_token_the_store_did_not_make_for_this_listing_is_a_400() {
    let app = api::lith(state());
    for name in ["alpha", "bravo", "charlie"] {
        for collection in ["projects", "technologies"] {
            let path = format!("/api/v0/{collection}");
            let body = format!(r#"{{"name":"{name}"}}"#);
            assert_eq!(call(&app, post_json(&path, body)).await.status, 201);
        }
    }
    let first = call(&app, request(Method::GET, "/api/v0/technologies?limit=1"))
        .await
        .json();
    let token = first["next_token"].as_str().unwrap().to_owned();
    let mut altered = token.clone().into_bytes();
    altered[token.len() / 2] = if altered[token.len() / 2] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let altered = String::from_utf8(altered).unwrap();
    let truncated = &token[..token.len() - 2];
    for (what, path) in [
        (
            "altered",
            format!("/api/v0/technologies?limit=1&next_token={altered}"),
        ),
        (
            "truncated",
            format!("/api/v0/technologies?limit=1&next_token={truncated}"),
        ),
        ("garbage", "/api/v0/technologies?next_token=@@".to_owned()),
        (
            "another collection's",
            format!("/api/v0/projects?limit=1&next_token={token}"),
        ),
        (
            "another filter's",
            format!("/api/v0/technologies?name=a&next_token={token}"),
        ),
    ] {
        let reply = call(&app, request(Method::GET, &path)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
        let body = reply.json();
        assert_eq!(body["code"], "invalid_next_token", "{what}");
        assert!(
            body["message"].as_str().unwrap().contains("without one"),
            "{what}: says how to recover: {body}"
        );
    }
    let second = call(
        &app,
        request(
            Method::GET,
            &format!("/api/v0/technologies?limit=1&next_token={token}"),
        ),
    )
    .await;
    assert_eq!(second.json()["items"][0]["name"], "bravo");
}

#[tokio::test]
async fn bad_input_gets_the_right_4xx_with_a_json_body() {
    let app = api::lith(state());
    let malformed = call(&app, post_json("/api/v0/projects", r#"{"name": "#)).await;
    assert_eq!(
        (malformed.status, malformed.json()["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("malformed_json"))
    );

    let no_type = Request::builder()
        .method(Method::POST)
        .uri("/api/v0/projects")
        .body(Body::from(r#"{"name":"x"}"#))
        .unwrap();
    let reply = call(&app, no_type).await;
    assert_eq!(
        (reply.status, reply.json()["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("unsupported_content_type"))
    );
    let form = Request::builder()
        .method(Method::POST)
        .uri("/api/v0/projects")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("name=x"))
        .unwrap();
    assert_eq!(call(&app, form).await.status, StatusCode::BAD_REQUEST);

    let invalid = call(
        &app,
        post_json(
            "/api/v0/projects",
            format!(
                r#"{{"name":"","description":"{}","x":1}}"#,
                "d".repeat(2001)
            ),
        ),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = invalid.json();
    let fields: BTreeSet<_> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["name".into(), "description".into(), "x".into()])
    );

    let not_object = call(&app, post_json("/api/v0/projects", "[1]")).await;
    assert_eq!(not_object.status, StatusCode::UNPROCESSABLE_ENTITY);

    let huge = format!(
        r#"{{"name":"big","description":"{}"}}"#,
        "d".repeat(1024 * 1024)
    );
    let too_large = call(&app, post_json("/api/v0/projects", huge)).await;
    assert_eq!(
        (too_large.status, too_large.json()["code"].clone()),
        (StatusCode::PAYLOAD_TOO_LARGE, json!("payload_too_large"))
    );

    // Nothing of the above was stored.
    let listed = call(&app, request(Method::GET, "/api/v0/projects"))
        .await
        .json();
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn trailing_slashes_and_unknown_paths_are_json_404s_not_redirects() {
    let app = api::lith(state());
    for path in [
        "/api/v0/projects/",
        "/api/v0/",
        "/nowhere",
        "/api/v0/projects/a/b",
    ] {
        let reply = call(&app, request(Method::GET, path)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.json()["code"], "no_route", "{path}");
        assert!(!reply.headers.contains_key(header::LOCATION));
    }
    let wrong_method = call(&app, request(Method::PUT, "/api/v0/projects")).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
}

/// A store whose every call fails as `failure` says.
struct FailingStore(fn() -> RepositoryError);

#[async_trait]
impl Repository for FailingStore {
    async fn create(&self, _: Collection, _: NewItem) -> Result<Item, RepositoryError> {
        Err(self.0())
    }
    async fn get(&self, _: Collection, _: &str) -> Result<Item, RepositoryError> {
        Err(self.0())
    }
    async fn delete(&self, _: Collection, _: &str) -> Result<(), RepositoryError> {
        Err(self.0())
    }
    async fn list(&self, _: Collection, _: &ListQuery) -> Result<Page, RepositoryError> {
        Err(self.0())
    }
    async fn check(&self) -> Result<(), RepositoryError> {
        Err(self.0())
    }
    fn describe(&self) -> String {
        "failing".into()
    }
}

fn failing(failure: fn() -> RepositoryError) -> Router {
    api::lith(AppState::new(
        Arc::new(FailingStore(failure)),
        CorsConfig::default(),
    ))
}

/// The JSON log lines written while `work` runs (on this thread, as a current-thread test runs).
async fn logs_of<T>(work: impl std::future::Future<Output = T>) -> (T, String) {
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let output = {
        let _default = tracing::subscriber::set_default(subscriber);
        work.await
    };
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (output, text)
}

#[tokio::test]
async fn a_retryable_store_failure_is_a_503_with_retry_after_and_health_says_so() {
    let app = failing(|| RepositoryError::Retryable("throttled".into()));
    let ((listed, created, health), logs) = logs_of(async {
        (
            call(&app, request(Method::GET, "/api/v0/projects")).await,
            call(&app, post_json("/api/v0/projects", r#"{"name":"x"}"#)).await,
            call(&app, request(Method::GET, "/health")).await,
        )
    })
    .await;
    for reply in [&listed, &created, &health] {
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.json()["code"], "store_unavailable");
        assert_eq!(reply.headers[header::RETRY_AFTER], "1");
    }
    assert_eq!(health.json()["status"], "unavailable");
    assert!(logs.contains("throttled"), "{logs}");
}

#[tokio::test]
async fn a_misconfigured_store_is_a_500_without_retry_advice_and_the_detail_only_in_the_log() {
    let app = failing(|| RepositoryError::Misconfigured {
        what: "table catalog-dev-items: dynamodb:Query denied to role catalog-dev-lith".into(),
    });
    let ((listed, deleted, health), logs) = logs_of(async {
        (
            call(&app, request(Method::GET, "/api/v0/projects")).await,
            call(&app, request(Method::DELETE, "/api/v0/projects/x")).await,
            call(&app, request(Method::GET, "/health")).await,
        )
    })
    .await;
    for reply in [&listed, &deleted, &health] {
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!reply.headers.contains_key(header::RETRY_AFTER));
        let body = reply.json();
        assert_eq!(body["code"], "store_misconfigured");
        let message = body["message"].as_str().unwrap();
        assert!(!message.contains("catalog-dev-items"), "{message}");
        assert!(message.contains("retrying will not help"), "{message}");
    }
    let line = logs
        .lines()
        .find(|line| line.contains("store misconfigured"))
        .unwrap_or_else(|| panic!("no log line says so:\n{logs}"));
    assert!(
        line.contains("table catalog-dev-items") && line.contains("dynamodb:Query"),
        "{line}"
    );
    assert!(line.contains("\"level\":\"ERROR\""), "{line}");
    assert!(
        line.contains("request_id"),
        "the line carries the request's id: {line}"
    );
}

#[tokio::test]
async fn cors_lets_any_origin_read_without_credentials() {
    let cors = CorsConfig::with_credentialed_origins(["https://portal.example.com"]).unwrap();
    let app = api::lith(AppState::new(Arc::new(store::MemoryStore::default()), cors));
    let from = |origin: &str| {
        Request::builder()
            .uri("/api/v0/projects")
            .header(header::ORIGIN, origin)
            .body(Body::empty())
            .unwrap()
    };
    let anyone = call(&app, from("https://elsewhere.example")).await;
    assert_eq!(anyone.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert!(
        !anyone
            .headers
            .contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
    );
    let portal = call(&app, from("https://portal.example.com")).await;
    assert_eq!(
        portal.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://portal.example.com"
    );
    assert_eq!(
        portal.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS],
        "true"
    );

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v0/projects")
        .header(header::ORIGIN, "https://elsewhere.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap();
    let reply = call(&app, preflight).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    assert!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .unwrap()
            .contains("DELETE")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = api::lith(state());
    let generated = call(&app, request(Method::GET, "/nowhere")).await;
    assert_eq!(generated.headers["x-request-id"].len(), 36);
    let mut given = request(Method::GET, "/health");
    given
        .headers_mut()
        .insert("x-request-id", "trace-42".parse().unwrap());
    assert_eq!(call(&app, given).await.headers["x-request-id"], "trace-42");
}

#[tokio::test]
async fn docs_are_served_from_the_binary() {
    let app = api::meta_group(state());
    let page = call(&app, request(Method::GET, "/docs")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = String::from_utf8(page.body).unwrap();
    assert!(
        html.contains("docs/swagger-ui-bundle.js") && !html.contains("https://"),
        "assets must be local"
    );
    let bundle = call(&app, request(Method::GET, "/docs/swagger-ui-bundle.js")).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.body.len() > 100_000);
    // Sent as the file itself: without binaryMediaTypes API Gateway would pass a gzip body on
    // as base64 text (see meta.rs).
    assert!(!bundle.headers.contains_key(header::CONTENT_ENCODING));
    assert!(
        bundle.body.starts_with(b"/*") || bundle.body.starts_with(b"!"),
        "plain JavaScript"
    );
    assert!(
        bundle.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        call(&app, request(Method::GET, "/docs/secrets.txt"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}
