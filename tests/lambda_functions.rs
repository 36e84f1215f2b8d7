//! The packaged bootstraps, run as processes through the Lambda Runtime API and fed real-format
//! API Gateway REST (v1) events for stage `dev`: what works here works for the same reasons in AWS.

use std::path::Path;

use e2e::moto::Moto;
use e2e::{Function, claims, request, sqlite_url};
use serde_json::{Value, json};

const LITH_ROUTES: [(&str, &str); 3] = [
    ("GET", "/api/v0/projects"),
    ("GET", "/api/v0/technologies/x"),
    ("GET", "/health"),
];

#[tokio::test]
async fn lith_serves_the_crud_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let mut lith = Function::start("lith", &[("STORE_URL", &store)], dir.path()).await;

    let created = lith
        .send(
            request("POST", "/api/v0/projects")
                .json_body(&json!({"name": "Atlas", "description": "maps"}))
                .claims(claims("alice")),
        )
        .await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(
        created.header("location"),
        Some("/dev/api/v0/projects/Atlas")
    );
    let item = created.json().unwrap();
    assert_eq!(item["created_by"], "alice");
    assert!(created.header("x-request-id").is_some());

    let fetched = lith.send(request("GET", "/api/v0/projects/Atlas")).await;
    assert_eq!(
        (fetched.status, fetched.json().unwrap()),
        (200, item.clone())
    );
    let listed = lith
        .send(
            request("GET", "/api/v0/projects")
                .query("name", "atl")
                .query("limit", "10"),
        )
        .await;
    assert_eq!(
        listed.json().unwrap(),
        json!({"items": [item], "next_token": null})
    );

    let deleted = lith
        .send(request("DELETE", "/api/v0/projects/Atlas").claims(claims("alice")))
        .await;
    assert_eq!(deleted.status, 204);
    assert_eq!(
        lith.send(request("GET", "/api/v0/projects/Atlas"))
            .await
            .status,
        404
    );
    lith.stop().await;
}

#[tokio::test]
async fn lith_answers_every_error_status() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let mut lith = Function::start("lith", &[("STORE_URL", &store)], dir.path()).await;
    let code = |body: &[u8]| serde_json::from_slice::<Value>(body).unwrap()["code"].clone();

    let post = |body: &str| {
        request("POST", "/api/v0/technologies")
            .header("Content-Type", "application/json")
            .body(body)
    };
    assert_eq!(lith.send(post(r#"{"name":"Rust"}"#)).await.status, 201);

    let duplicate = lith.send(post(r#"{"name":"Rust"}"#)).await;
    assert_eq!(
        (duplicate.status, code(&duplicate.body)),
        (409, json!("conflict"))
    );
    let malformed = lith.send(post(r#"{"name":"#)).await;
    assert_eq!(
        (malformed.status, code(&malformed.body)),
        (400, json!("malformed_json"))
    );
    let text = lith
        .send(
            request("POST", "/api/v0/technologies")
                .header("Content-Type", "text/plain")
                .body("Rust"),
        )
        .await;
    assert_eq!(
        (text.status, code(&text.body)),
        (400, json!("unsupported_content_type"))
    );
    let invalid = lith.send(post(r#"{"name":"","description":7}"#)).await;
    assert_eq!(invalid.status, 422);
    assert_eq!(
        invalid.json().unwrap()["fields"].as_array().unwrap().len(),
        2
    );
    let huge = json!({"name": "big", "description": "d".repeat(1024 * 1024 + 1)}).to_string();
    let too_large = lith.send(post(&huge)).await;
    assert_eq!(
        (too_large.status, code(&too_large.body)),
        (413, json!("payload_too_large"))
    );
    let missing = lith.send(request("GET", "/api/v0/technologies/Go")).await;
    assert_eq!(
        (missing.status, code(&missing.body)),
        (404, json!("not_found"))
    );
    let wrong_method = lith.send(request("PUT", "/api/v0/technologies")).await;
    assert_eq!(wrong_method.status, 405);
    let trailing = lith.send(request("GET", "/api/v0/technologies/")).await;
    assert_eq!((trailing.status, trailing.header("location")), (404, None));
    lith.stop().await;

    // A store set up wrongly (its directory is missing): 500 without retry advice, a log line
    // naming the file and what to fix, and the function keeps running.
    let unusable = format!("sqlite://{}/no-such-dir/catalog.db", dir.path().display());
    let mut lith = Function::start("lith", &[("STORE_URL", &unusable)], dir.path()).await;
    let misconfigured = lith.send(request("GET", "/api/v0/technologies")).await;
    assert_eq!(
        (misconfigured.status, code(&misconfigured.body)),
        (500, json!("store_misconfigured"))
    );
    assert_eq!(misconfigured.header("retry-after"), None);
    let logs = lith.wait_for_log("store misconfigured").await;
    let line = logs
        .lines()
        .find(|line| line.contains("store misconfigured"))
        .unwrap();
    assert!(
        line.contains("no-such-dir/catalog.db") && line.contains("directory exists"),
        "{line}"
    );
    assert_eq!(lith.send(request("GET", "/api/v0")).await.status, 200);
    lith.stop().await;
}

#[tokio::test]
async fn next_tokens_work_across_functions_and_a_tampered_one_is_a_400() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    next_tokens_across_functions(&[("STORE_URL".into(), store)], dir.path()).await;
}

#[tokio::test]
async fn next_tokens_work_across_functions_and_a_tampered_one_is_a_400_on_dynamodb() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start().await;
    moto.catalog_table("catalog-dev-tokens").await;
    next_tokens_across_functions(&moto.store_env("catalog-dev-tokens"), dir.path()).await;
}

/// Paging across the functions of both patterns, on the store `env` names: a token made by one
/// function works in another, and an altered, cut or foreign one is the client's error.
async fn next_tokens_across_functions(env: &[(String, String)], work_dir: &Path) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (env, dir) = (env.as_slice(), work_dir);
    let mut lith = Function::start("lith", env, dir).await;
    for name in ["Atlas", "Borealis", "Cassini"] {
        let created = lith
            .send(request("POST", "/api/v0/projects").json_body(&json!({ "name": name })))
            .await;
        assert_eq!(created.status, 201);
    }
    let first = lith
        .send(request("GET", "/api/v0/projects").query("limit", "2"))
        .await
        .json()
        .unwrap();
    let token = first["next_token"].as_str().unwrap().to_owned();

    // The next page from another function (the fat pattern's, or a new environment).
    let mut projects = Function::start("projects", env, dir).await;
    let next = projects
        .send(
            request("GET", "/api/v0/projects")
                .query("limit", "2")
                .query("next_token", &token),
        )
        .await;
    assert_eq!(next.status, 200);
    assert_eq!(
        next.json().unwrap(),
        json!({"items": [lith_item(&mut lith, "Cassini").await], "next_token": null})
    );

    let mut altered = token.clone().into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for (what, bad) in [
        ("altered", altered.as_str()),
        ("truncated", &token[..token.len() - 3]),
        ("garbage", "not-a-token"),
    ] {
        let refused = projects
            .send(request("GET", "/api/v0/projects").query("next_token", bad))
            .await;
        assert_eq!(refused.status, 400, "{what}");
        assert_eq!(
            refused.json().unwrap()["code"],
            "invalid_next_token",
            "{what}"
        );
    }
    let mut technologies = Function::start("technologies", env, dir).await;
    let foreign = technologies
        .send(request("GET", "/api/v0/technologies").query("next_token", &token))
        .await;
    assert_eq!(
        (foreign.status, foreign.json().unwrap()["code"].clone()),
        (400, json!("invalid_next_token")),
        "a projects token used on technologies"
    );
    for function in [lith, projects, technologies] {
        function.stop().await;
    }
}

async fn lith_item(lith: &mut Function, name: &str) -> Value {
    lith.send(request("GET", &format!("/api/v0/projects/{name}")))
        .await
        .json()
        .unwrap()
}

#[tokio::test]
async fn the_stage_is_stripped_once_whatever_the_ignore_stage_setting() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    for ignore_stage in [None, Some("true")] {
        let mut env = vec![("STORE_URL", store.as_str())];
        if let Some(value) = ignore_stage {
            env.push(("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", value));
        }
        let mut lith = Function::start("lith", &env, dir.path()).await;
        for (method, path) in LITH_ROUTES {
            let response = lith.send(request(method, path)).await;
            let routed = response
                .json()
                .map(|body| body["code"] != "no_route")
                .unwrap_or(true);
            assert!(
                routed,
                "{method} {path} with ignore-stage {ignore_stage:?}: {response:?}"
            );
        }
        // The proof of concept accepted /dev/dev/... through its public proxy: not a route here.
        let doubled = request("POST", "/dev/api/v0/projects").json_body(&json!({"name": "sneaky"}));
        let response = lith.send(doubled).await;
        assert_eq!(response.status, 404, "ignore-stage {ignore_stage:?}");
        let listed = lith
            .send(request("GET", "/api/v0/projects"))
            .await
            .json()
            .unwrap();
        assert_eq!(
            listed["items"],
            json!([]),
            "the doubled-stage write created something"
        );
        lith.stop().await;
    }
}

#[tokio::test]
async fn each_fat_function_serves_only_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let probes = [
        ("projects", "/api/v0/projects"),
        ("technologies", "/api/v0/technologies"),
        ("meta", "/api/v0"),
        ("meta", "/openapi.json"),
    ];
    for function in ["projects", "technologies", "meta"] {
        let mut fat = Function::start(function, &[("STORE_URL", &store)], dir.path()).await;
        for (owner, path) in probes {
            let response = fat.send(request("GET", path)).await;
            let served = response.status == 200;
            assert_eq!(
                served,
                owner == function,
                "{function} answering GET {path}: {}",
                response.status
            );
        }
        fat.stop().await;
    }
}

/// Each single-purpose bootstrap serves its route, and any other path or method as the API's
/// JSON 404 or 405: the route table's other handlers are not in it.
#[tokio::test]
async fn each_single_purpose_function_serves_only_its_route() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let code = |response: &devstack::proxy::ProxyResponse| {
        response
            .json()
            .ok()
            .and_then(|body| body["code"].as_str().map(str::to_owned))
    };
    for route in routes::ROUTES {
        let function = route.operation.slug();
        let mut single = Function::start(function, &[("STORE_URL", &store)], dir.path()).await;
        let path = route
            .path
            .replace("{name}", "Atlas")
            .replace("{asset}", "swagger-ui.css");
        let mut own = request(route.method.as_str(), &path).claims(claims("alice"));
        if route.method == routes::Method::Post {
            own = own.json_body(&json!({"name": "Atlas"}));
        }
        let response = single.send(own).await;
        assert!(
            response.status < 500
                && response.status != 405
                && code(&response).as_deref() != Some("no_route"),
            "{function} answering its own route {} {path}: {} {:?}",
            route.method.as_str(),
            response.status,
            response.json()
        );
        let elsewhere = if route.path == "/health" {
            "/api/v0"
        } else {
            "/health"
        };
        let other = single.send(request("GET", elsewhere)).await;
        assert_eq!(
            (other.status, code(&other).as_deref()),
            (404, Some("no_route")),
            "{function} answering GET {elsewhere}"
        );
        single.stop().await;
    }
}

#[tokio::test]
async fn processes_sharing_one_sqlite_file_see_each_others_writes_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let env = [("STORE_URL", store.as_str())];
    let mut lith = Function::start("lith", &env, dir.path()).await;
    let mut projects = Function::start("projects", &env, dir.path()).await;

    let write =
        |name: &str| request("POST", "/api/v0/projects").json_body(&json!({ "name": name }));
    assert_eq!(lith.send(write("from-lith")).await.status, 201);
    assert_eq!(projects.send(write("from-fat")).await.status, 201);
    // Both processes insist on the one name: the database lets exactly one through.
    assert_eq!(projects.send(write("from-lith")).await.status, 409);

    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            lith.send(request("GET", "/api/v0/projects"))
                .await
                .json()
                .unwrap()
        ),
        ["from-fat", "from-lith"]
    );

    // Kill both (no graceful shutdown), then start a new environment on the same file.
    lith.stop().await;
    projects.stop().await;
    let mut restarted = Function::start("lith", &env, dir.path()).await;
    assert_eq!(
        names(
            restarted
                .send(request("GET", "/api/v0/projects"))
                .await
                .json()
                .unwrap()
        ),
        ["from-fat", "from-lith"]
    );
    restarted.stop().await;
}

#[tokio::test]
async fn without_store_url_the_store_is_a_sqlite_file_in_the_writable_dir_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut lith = Function::start("lith", &[("TMPDIR", tmp.to_str().unwrap())], dir.path()).await;
    assert_eq!(lith.send(request("GET", "/health")).await.status, 200);
    let db = tmp.join("catalog.db");
    assert!(db.is_file(), "expected {}", db.display());
    lith.wait_for_log(&db.display().to_string()).await;
    lith.stop().await;
}

#[tokio::test]
async fn a_bad_setting_fails_the_init_with_a_message_saying_what_to_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut lith = Function::start(
        "lith",
        &[("STORE_URL", "postgres://db/catalog")],
        dir.path(),
    )
    .await;
    let error = lith.try_send(request("GET", "/health")).await.unwrap_err();
    assert!(!lith.environment.is_alive(), "{error}");
    lith.wait_for_log("sqlite:///absolute/path.db").await;
}

#[tokio::test]
async fn logs_are_json_lines_carrying_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_url(dir.path());
    let mut lith = Function::start("lith", &[("STORE_URL", &store)], dir.path()).await;
    let sent = request("GET", "/api/v0/projects");
    let request_id = sent.request_id.clone();
    let response = lith.send(sent).await;
    assert_eq!(response.header("x-request-id"), Some(request_id.as_str()));
    let logs = lith.wait_for_log("request finished").await;
    let finished: Value = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["message"] == "request finished")
        .unwrap_or_else(|| panic!("no JSON 'request finished' line:\n{logs}"));
    assert_eq!(finished["span"]["request_id"], request_id.as_str());
    assert_eq!(finished["status"], 200);
}

/// The point of the DynamoDB store: whatever function of whichever pattern answers, in whatever
/// new execution environment, the catalog is the same table's.
#[tokio::test]
async fn functions_of_every_pattern_share_the_dynamodb_table_across_cold_starts() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start().await;
    moto.catalog_table("catalog-dev-shared").await;
    let env = moto.store_env("catalog-dev-shared");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let mut lith = Function::start("lith", &env, dir.path()).await;
    let created = lith
        .send(
            request("POST", "/api/v0/projects")
                .claims(claims("alice"))
                .json_body(&json!({"name": "Atlas"})),
        )
        .await;
    assert_eq!(created.status, 201);
    lith.stop().await;

    // A new environment of another pattern's function: a cold start with nothing in /tmp.
    let mut projects = Function::start("projects", &env, dir.path()).await;
    let listed = projects
        .send(request("GET", "/api/v0/projects"))
        .await
        .json()
        .unwrap();
    assert_eq!(listed["items"][0]["name"], "Atlas");
    assert_eq!(listed["items"][0]["created_by"], "alice");
    let duplicate = projects
        .send(request("POST", "/api/v0/projects").json_body(&json!({"name": "Atlas"})))
        .await;
    assert_eq!(
        duplicate.status, 409,
        "the name is taken in the shared table"
    );
    let mut technologies = Function::start("technologies", &env, dir.path()).await;
    let rust = technologies
        .send(request("POST", "/api/v0/technologies").json_body(&json!({"name": "Rust"})))
        .await;
    assert_eq!(rust.status, 201);

    let mut lith = Function::start("lith", &env, dir.path()).await;
    let rust = lith.send(request("GET", "/api/v0/technologies/Rust")).await;
    assert_eq!(
        rust.status, 200,
        "a fresh lith sees the fat function's write"
    );
    let deleted = lith.send(request("DELETE", "/api/v0/projects/Atlas")).await;
    assert_eq!(deleted.status, 204);
    let gone = projects
        .send(request("GET", "/api/v0/projects/Atlas"))
        .await;
    assert_eq!(
        gone.status, 404,
        "and the fat function sees the lith's delete at once"
    );
    let mut meta = Function::start("meta", &env, dir.path()).await;
    let health = meta.send(request("GET", "/health")).await;
    assert_eq!(health.status, 200, "{:?}", health.json());

    // And the single-purpose functions: one writes, another reads it, a third deletes.
    let mut create = Function::start("create-project", &env, dir.path()).await;
    let created = create
        .send(
            request("POST", "/api/v0/projects")
                .claims(claims("bob"))
                .json_body(&json!({"name": "Borealis"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let mut get = Function::start("get-technology", &env, dir.path()).await;
    let rust = get.send(request("GET", "/api/v0/technologies/Rust")).await;
    assert_eq!(
        rust.status, 200,
        "a single function sees the fat one's write"
    );
    let mut delete = Function::start("delete-project", &env, dir.path()).await;
    let deleted = delete
        .send(request("DELETE", "/api/v0/projects/Borealis").claims(claims("bob")))
        .await;
    assert_eq!(deleted.status, 204);
    let gone = projects
        .send(request("GET", "/api/v0/projects/Borealis"))
        .await;
    assert_eq!(
        gone.status, 404,
        "the fat function sees the single one's delete"
    );
    for function in [lith, projects, technologies, meta, create, get, delete] {
        function.stop().await;
    }
}

/// A table that is not there is the operator's to fix: 500 (no Retry-After), and the function's
/// log names the table and the action.
#[tokio::test]
async fn a_missing_dynamodb_table_is_a_500_whose_log_names_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start().await;
    let env = moto.store_env("catalog-dev-absent");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut lith = Function::start("lith", &env, dir.path()).await;
    let reply = lith.send(request("GET", "/api/v0/projects")).await;
    assert_eq!(reply.status, 500);
    assert!(
        !reply
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("retry-after")),
        "a misconfiguration is not a reason to retry"
    );
    let log = lith.wait_for_log("catalog-dev-absent").await;
    assert!(log.contains("dynamodb:Query"), "{log}");
    lith.stop().await;
}
