//! The local stack end to end: the dev environment's rendered template served on an ephemeral
//! port as API Gateway + WAF + Cognito + Lambda, with the packaged bootstraps (or a Python fixture
//! that crashes and hangs on demand) as real processes, driven over real HTTP.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::Report;
use devstack::cognito::{Denied, TokenRequest, UserPool};
use devstack::gateway::MAX_REQUEST_BYTES;
use e2e::local_stack::{
    LOCALHOST, OTHER_LOOPBACK, Reply, StackOptions, TestStack, allow_ip, assert_unauthorized,
    client_from, issuer, log_lines, wait_for_lines, write_fixture_package,
};
use serde_json::{Map, Value, json};
use stack::Pattern;

e2e::all_patterns!(
    crud_goes_through_the_gateway_and_keeps_the_stage,
    writes_without_a_valid_token_get_401,
    every_configured_pool_may_write,
    deleting_without_a_token_deletes_nothing,
    the_waf_lets_only_allowed_peers_through,
    a_doubled_stage_creates_nothing,
    unknown_stages_and_paths_outside_the_stage_are_missing_authentication_token,
    only_the_first_request_to_a_function_has_an_init_duration,
    functions_log_as_the_templates_logging_config_declares,
    each_request_leaves_one_access_log_line,
    payloads_over_10_mb_are_refused_before_the_function,
    names_needing_escapes_and_plus_signs_reach_the_functions_as_in_aws,
);

fn message(text: &str) -> Value {
    json!({ "message": text })
}

/// Fails unless `reply` is API Gateway's 401.
fn project(name: &str) -> Value {
    json!({ "name": name, "description": "from the e2e tests" })
}

async fn crud_goes_through_the_gateway_and_keeps_the_stage(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    for collection in ["projects", "technologies"] {
        let base = format!("/dev/api/v0/{collection}");
        let item_path = format!("{base}/Atlas");

        let created = stack.post(&base, Some(&token), &project("Atlas")).await;
        assert_eq!(created.status, 201, "{collection}: {}", created.text);
        assert_eq!(created.header("location"), Some(item_path.as_str()));
        // The function saw API Gateway's request id (requestContext.requestId).
        assert!(created.header("x-amzn-requestid").is_some());
        assert_eq!(
            created.header("x-request-id"),
            created.header("x-amzn-requestid")
        );
        let item = created.json();
        assert_eq!(item["name"], "Atlas");
        assert_eq!(
            item["created_by"], "alice",
            "the authorizer's claims reach the function"
        );

        let fetched = stack.get(&item_path).await;
        assert_eq!((fetched.status, fetched.json()), (200, item.clone()));
        let listed = stack.get(&format!("{base}?name=atl&limit=10")).await;
        assert_eq!(
            (listed.status, listed.json()),
            (200, json!({"items": [item], "next_token": null}))
        );

        let deleted = stack.delete(&item_path, Some(&token)).await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        let gone = stack.get(&item_path).await;
        assert_eq!(gone.status, 404);
        assert_eq!(gone.json()["code"], "not_found");
    }
    stack.stop().await;
}

/// A JWT's three parts.
fn split(token: &str) -> [String; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        panic!("not a JWT: {token}")
    };
    [header.into(), payload.into(), signature.into()]
}

fn decode_part(part: &str) -> Map<String, Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn encode_part(value: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token API Gateway's Cognito authorizer must refuse.
struct BadToken {
    what: &'static str,
    /// A fragment of the reason the local authorizer logs, to be sure the token fails for what
    /// was done to it and not for a mistake in forging it.
    reason: Option<&'static str>,
    token: String,
    /// The message of API Gateway's 401.
    message: &'static str,
}

/// Tokens that API Gateway's Cognito authorizer refuses, each with what is wrong with it.
fn bad_tokens(stack: &TestStack) -> Vec<BadToken> {
    let portal = stack.issuer("portal");
    let valid = portal.mint_id_token(TokenRequest::new("mallory"));
    let [header, payload, signature] = split(&valid);
    let claims = decode_part(&payload);

    let unconfigured = UserPool::new(
        "other",
        "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Other123",
        vec!["3n4b5c6d7e8f9g0h1i2j3k4l5m".into()],
    )
    .unwrap();
    let other = issuer(stack.state_dir(), &unconfigured);

    let expired = portal.mint_id_token(TokenRequest {
        issued_at: Some(SystemTime::now() - Duration::from_secs(2 * 3600)),
        ttl: Duration::from_secs(60),
        ..TokenRequest::new("mallory")
    });

    let mut admin = claims.clone();
    admin.insert("cognito:username".into(), "admin".into());
    let tampered_claims = format!("{header}.{}.{signature}", encode_part(&admin));

    // A character in the middle of the payload carries six bits of it (the last one may not).
    let mut flipped: Vec<char> = payload.chars().collect();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let tampered_payload = format!("{header}.{flipped}.{signature}");

    let mut none_header = decode_part(&header);
    none_header.insert("alg".into(), "none".into());
    let alg_none = format!("{}.{payload}.", encode_part(&none_header));

    // HS256 "signed" with what is public: the JWKS document, and the key's modulus.
    let hs256 = |secret: &[u8]| {
        let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs_header.kid = Some(portal.kid().to_owned());
        jsonwebtoken::encode(
            &hs_header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(secret),
        )
        .unwrap()
    };
    let jwks = portal.jwks();
    let hs256_jwks = hs256(jwks.to_string().as_bytes());
    let hs256_modulus = hs256(jwks["keys"][0]["n"].as_str().unwrap().as_bytes());

    let wrong_audience = portal.mint_id_token(TokenRequest {
        client_id: Some("0000000000000000000000000a".into()),
        ..TokenRequest::new("mallory")
    });

    let backoffice = stack.issuer("backoffice");
    let bad = |what, reason, token| BadToken {
        what,
        reason,
        token,
        message: Denied::UNAUTHORIZED,
    };
    vec![
        bad(
            "an ID token of an unconfigured pool",
            Some("eu-west-1_Other123"),
            other.mint_id_token(TokenRequest::new("mallory")),
        ),
        bad(
            "portal's claims signed by an unconfigured pool's key",
            Some("kid"),
            other.sign(&claims),
        ),
        bad(
            "portal's claims signed by the other configured pool's key",
            Some("kid"),
            backoffice.sign(&claims),
        ),
        BadToken {
            message: Denied::EXPIRED,
            ..bad("an expired token", Some("expired"), expired)
        },
        bad(
            "a token whose claims were changed",
            Some("signature does not verify"),
            tampered_claims,
        ),
        // Whatever the flipped character breaks (JSON, a claim, the signature), it must fail.
        bad(
            "a token with a flipped payload character",
            None,
            tampered_payload,
        ),
        bad(
            "a token with alg none and no signature",
            Some("alg `none`"),
            alg_none,
        ),
        bad(
            "an HS256 token keyed with the JWKS",
            Some("alg `HS256`"),
            hs256_jwks,
        ),
        bad(
            "an HS256 token keyed with the public modulus",
            Some("alg `HS256`"),
            hs256_modulus,
        ),
        bad(
            "an ID token for another app client",
            Some("aud"),
            wrong_audience,
        ),
        bad(
            "an access token where an ID token is needed",
            Some("token_use"),
            portal.mint_access_token(TokenRequest::new("mallory"), &[]),
        ),
        bad(
            "a token that is not a JWT",
            Some("not a JWT"),
            "not-a-token".into(),
        ),
    ]
}

async fn writes_without_a_valid_token_get_401(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let kept = stack
        .post(
            "/dev/api/v0/projects",
            Some(&stack.token("alice")),
            &project("Kept"),
        )
        .await;
    assert_eq!(kept.status, 201, "{}", kept.text);

    let no_token = stack
        .post("/dev/api/v0/projects", None, &project("Anonymous"))
        .await;
    assert_unauthorized(&no_token, "POST without a token");
    assert_eq!(
        no_token.header("x-amzn-errortype"),
        Some("UnauthorizedException")
    );
    let no_token = stack.delete("/dev/api/v0/projects/Kept", None).await;
    assert_unauthorized(&no_token, "DELETE without a token");

    for bad in bad_tokens(&stack) {
        let what = bad.what;
        let refused = |reply: &Reply, how: &str| {
            assert_eq!(
                (reply.status, reply.json()),
                (401, message(bad.message)),
                "{how} with {what}"
            );
            assert_eq!(
                reply.header("x-amzn-errortype"),
                Some("UnauthorizedException"),
                "{how} with {what}"
            );
        };
        let post = stack
            .post("/dev/api/v0/projects", Some(&bad.token), &project("Forged"))
            .await;
        refused(&post, "POST");
        let bearer = format!("Bearer {}", bad.token);
        let post_bearer = stack
            .post("/dev/api/v0/projects", Some(&bearer), &project("Forged"))
            .await;
        refused(&post_bearer, "POST with Bearer");
        let delete = stack
            .delete("/dev/api/v0/projects/Kept", Some(&bad.token))
            .await;
        refused(&delete, "DELETE");
        if let Some(reason) = bad.reason {
            for reply in [&post, &post_bearer, &delete] {
                let note = stack.authorizer_note(reply).await;
                assert!(note.contains(reason), "{what}: refused for {note:?}");
            }
        }
    }

    assert_eq!(stack.names("projects").await, ["Kept"]);
    stack.stop().await;
}

async fn every_configured_pool_may_write(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    assert_eq!(
        stack
            .config
            .user_pools
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>(),
        ["portal", "backoffice"]
    );
    for (pool, user) in [("portal", "alice"), ("backoffice", "bob")] {
        let token = stack.issuer(pool).mint_id_token(TokenRequest::new(user));
        let name = format!("From-{pool}");
        let created = stack
            .post("/dev/api/v0/technologies", Some(&token), &project(&name))
            .await;
        assert_eq!(created.status, 201, "{pool}: {}", created.text);
        assert_eq!(created.json()["created_by"], user);
        let deleted = stack
            .delete(&format!("/dev/api/v0/technologies/{name}"), Some(&token))
            .await;
        assert_eq!(deleted.status, 204, "{pool}: {}", deleted.text);
    }
    // "Bearer <token>" is accepted as well as the bare token.
    let bearer = format!("Bearer {}", stack.token("carol"));
    let created = stack
        .post(
            "/dev/api/v0/technologies",
            Some(&bearer),
            &project("Bearer"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(stack.names("technologies").await, ["Bearer"]);
    stack.stop().await;
}

async fn deleting_without_a_token_deletes_nothing(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let created = stack
        .post(
            "/dev/api/v0/projects",
            Some(&stack.token("alice")),
            &project("Atlas"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let item = created.json();

    // The proof of concept's hole: this fell through to the public {proxy+}.
    let reply = stack.delete("/dev/api/v0/projects/Atlas", None).await;
    assert_unauthorized(&reply, "DELETE /dev/api/v0/projects/Atlas without a token");
    let encoded = stack.delete("/dev/api/v0/projects/Atl%61s", None).await;
    assert_unauthorized(&encoded, "DELETE of a percent-encoded name without a token");
    // API Gateway matches these spellings as the same resource: the protected DELETE.
    for path in [
        "/dev//api/v0/projects/Atlas",
        "//dev/api/v0/projects/Atlas",
        "/dev/api/v0/projects/Atlas/",
        "/dev/api/v0/projects//Atlas",
        "/dev/api/v0//projects/Atlas",
    ] {
        let reply = stack.delete(path, None).await;
        assert_unauthorized(&reply, &format!("DELETE {path} without a token"));
    }

    // Paths that reach a public catch-all instead must not delete either.
    for path in [
        "/dev/api/v0/projects",
        "/dev/API/v0/projects/Atlas",
        "/dev/dev/api/v0/projects/Atlas",
        "/dev/api/v0/projects/Atlas?force=true",
    ] {
        let reply = stack.delete(path, None).await;
        assert!(
            !reply.is_success(),
            "DELETE {path} without a token answered {}: {}",
            reply.status,
            reply.text
        );
    }

    let fetched = stack.get("/dev/api/v0/projects/Atlas").await;
    assert_eq!((fetched.status, fetched.json()), (200, item));
    stack.stop().await;
}

async fn the_waf_lets_only_allowed_peers_through(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let outsider = client_from(OTHER_LOOPBACK);
    let list = stack.api_url("/api/v0/projects");

    let blocked = Reply::read(outsider.get(&list).send().await.unwrap()).await;
    assert_eq!(
        (blocked.status, blocked.json()),
        (403, message("Forbidden"))
    );

    // Headers naming an allowed address do not help: the WAF looks at the connection's peer.
    let spoofed = Reply::read(
        outsider
            .post(&list)
            .header("x-forwarded-for", LOCALHOST.to_string())
            .header("x-real-ip", LOCALHOST.to_string())
            .header("forwarded", format!("for={LOCALHOST}"))
            .header("authorization", stack.token("alice"))
            .json(&project("Spoofed"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (spoofed.status, spoofed.json()),
        (403, message("Forbidden"))
    );
    // 127.0.0.1 is allowed and sees that nothing was created.
    assert_eq!(stack.names("projects").await, Vec::<String>::new());

    // The gateway logged the blocked peer's own address.
    let access = wait_for_lines(&stack.log_path("access"), |lines| {
        access_records(lines).len() >= 3
    })
    .await;
    let records = access_records(&access);
    let blocked_record = records
        .iter()
        .find(|r| r["requestId"] == spoofed.header("x-amzn-requestid").unwrap())
        .expect("the spoofed request is in the access log");
    assert_eq!(blocked_record["ip"], OTHER_LOOPBACK.to_string());
    assert_eq!(blocked_record["status"], "403");
    assert_eq!(blocked_record["wafStatus"], "403");

    // `cargo xtask ip allow 127.0.0.2`, with the stack running.
    allow_ip(stack.state_dir(), OTHER_LOOPBACK);
    let allowed = Reply::read(outsider.get(&list).send().await.unwrap()).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    stack.stop().await;
}

async fn a_doubled_stage_creates_nothing(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let anonymous = stack
        .post("/dev/dev/api/v0/projects", None, &project("Doubled"))
        .await;
    // The public {proxy+} takes it to a function, which matches the stage-less path: no route.
    assert_eq!(anonymous.status, 404, "{}", anonymous.text);
    assert_eq!(anonymous.json()["code"], "no_route");

    let with_token = stack
        .post(
            "/dev/dev/api/v0/projects",
            Some(&stack.token("alice")),
            &project("Doubled"),
        )
        .await;
    assert!(
        matches!(with_token.status, 401 | 403 | 404),
        "{} {}",
        with_token.status,
        with_token.text
    );

    assert!(
        !stack
            .names("projects")
            .await
            .contains(&"Doubled".to_owned())
    );
    assert_eq!(stack.get("/dev/api/v0/projects/Doubled").await.status, 404);
    stack.stop().await;
}

async fn unknown_stages_and_paths_outside_the_stage_are_missing_authentication_token(
    pattern: Pattern,
) {
    let stack = TestStack::start(pattern).await;
    // The stage itself answers, so the 403s below are about the paths.
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    let token = stack.token("alice");
    // With a token in Authorization, API Gateway reads the header as an AWS signature and says
    // what it lacks (IncompleteSignatureException) instead.
    let unsigned = format!(
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. \
         Authorization={token}"
    );
    let bearer = format!("Bearer {token}");
    let not_a_pair = format!(
        "'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: \
         '{bearer}'."
    );
    for path in [
        "/prod/api/v0/projects",
        "/api/v0/projects",
        "/",
        "/devx/api/v0/projects",
        "/DEV/api/v0/projects",
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            for (authorization, expected, error_type) in [
                (
                    None,
                    "Missing Authentication Token",
                    "MissingAuthenticationTokenException",
                ),
                (
                    Some(&token),
                    unsigned.as_str(),
                    "IncompleteSignatureException",
                ),
                (
                    Some(&bearer),
                    not_a_pair.as_str(),
                    "IncompleteSignatureException",
                ),
            ] {
                let reply = stack
                    .send(
                        method.clone(),
                        path,
                        authorization.map(String::as_str),
                        Some(&project("Lost")),
                    )
                    .await;
                assert_eq!(
                    (reply.status, reply.json()),
                    (403, message(expected)),
                    "{method} {path}"
                );
                assert_eq!(
                    reply.header("x-amzn-errortype"),
                    Some(error_type),
                    "{method} {path}"
                );
            }
        }
    }
    assert_eq!(stack.names("projects").await, Vec::<String>::new());
    stack.stop().await;
}

/// The platform reports of a log, in whichever form it has them.
fn parse_reports(lines: &[String]) -> Vec<Report> {
    devstack::reports_in(&lines.join("\n"))
}

async fn only_the_first_request_to_a_function_has_an_init_duration(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let log = stack.log_path(&stack.function_for("list_projects"));
    for _ in 0..2 {
        assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    }
    let lines = wait_for_lines(&log, |lines| parse_reports(lines).len() >= 2).await;
    let reports = parse_reports(&lines);
    assert_eq!(reports.len(), 2, "{}", lines.join("\n"));
    assert!(reports[0].is_cold(), "first: {:?}", reports[0]);
    assert!(!reports[1].is_cold(), "second: {:?}", reports[1]);
    assert_ne!(reports[0].request_id, reports[1].request_id);
    assert_eq!(reports[0].memory_size_mb, Some(stack.config.memory_mb));

    if pattern != Pattern::Lith {
        // Only the function of the listing ran.
        let health = log_lines(&stack.log_path(&stack.function_for("health")));
        assert!(parse_reports(&health).is_empty(), "{}", health.join("\n"));
    }
    stack.stop().await;
}

/// The dev template says `LogFormat: JSON` with an application level (the environment file's
/// `log_level`): the platform records are JSON objects as Lambda writes them (an INFO stream has
/// initStart, start and report, no runtimeDone, as a real function's CloudWatch stream shows),
/// and the function's records below the level are gone. The function is told the level in
/// `AWS_LAMBDA_LOG_LEVEL` and filters itself too; either way, a level set in the template is the
/// level the log has.
async fn functions_log_as_the_templates_logging_config_declares(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let log = stack.log_path(&stack.function_for("list_projects"));
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    let lines = wait_for_lines(&log, |lines| !parse_reports(lines).is_empty()).await;
    let types: Vec<String> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|record| record["type"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        types,
        ["platform.initStart", "platform.start", "platform.report"],
        "{}",
        lines.join("\n")
    );
    assert!(
        lines.iter().any(|line| line.contains("request finished")),
        "INFO records of the function are kept at INFO: {}",
        lines.join("\n")
    );
    assert!(!lines.iter().any(|line| line.starts_with("START RequestId")));
    stack.stop().await;

    let mut options = StackOptions::new(pattern);
    options.edit_template = Some(Box::new(|template: &mut Value| {
        for resource in template["Resources"].as_object_mut().unwrap().values_mut() {
            if resource["Type"] == "AWS::Lambda::Function" {
                resource["Properties"]["LoggingConfig"]["ApplicationLogLevel"] = "ERROR".into();
            }
        }
    }));
    let stack = TestStack::start_with(options).await;
    let log = stack.log_path(&stack.function_for("list_projects"));
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    let lines = wait_for_lines(&log, |lines| !parse_reports(lines).is_empty()).await;
    assert!(
        !lines.iter().any(|line| line.contains("\"level\":\"INFO\"")),
        "no INFO record of the function at ERROR: {}",
        lines.join("\n")
    );
    stack.stop().await;
}

/// The records of an access log: every line is one JSON object.
fn access_records(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("access log line {line:?} is not JSON: {e}"))
        })
        .collect()
}

async fn each_request_leaves_one_access_log_line(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let replies = [
        stack.get("/dev/api/v0/projects").await,
        stack
            .post("/dev/api/v0/projects", Some(&token), &project("Atlas"))
            .await,
        stack.get("/dev/api/v0/projects/Atlas").await,
        stack.delete("/dev/api/v0/projects/Atlas", None).await,
        stack.get("/dev/nowhere/at/all").await,
        stack.get("/prod/api/v0/projects").await,
    ];
    // method, resourcePath, status, user
    let expected = [
        ("GET", "/api/v0/projects", "200", "-"),
        ("POST", "/api/v0/projects", "201", "alice"),
        ("GET", "/api/v0/projects/{name}", "200", "-"),
        ("DELETE", "/api/v0/projects/{name}", "401", "-"),
        ("GET", "/{proxy+}", "404", "-"),
        ("GET", "-", "403", "-"),
    ];

    let path = stack.log_path("access");
    let lines = wait_for_lines(&path, |lines| access_records(lines).len() >= replies.len()).await;
    let records = access_records(&lines);
    assert_eq!(records.len(), replies.len(), "{}", lines.join("\n"));
    for ((reply, record), (method, resource, status, user)) in
        replies.iter().zip(&records).zip(expected)
    {
        assert_eq!(
            record["requestId"],
            reply
                .header("x-amzn-requestid")
                .expect("every reply has a request id"),
            "{record}"
        );
        assert_eq!(record["ip"], "127.0.0.1", "{record}");
        assert_eq!(record["httpMethod"], method, "{record}");
        assert_eq!(record["resourcePath"], resource, "{record}");
        assert_eq!(record["status"], status, "{record}");
        assert_eq!(reply.status.to_string(), status, "{record}");
        assert_eq!(record["user"], user, "{record}");
    }
    stack.stop().await;
}

async fn payloads_over_10_mb_are_refused_before_the_function(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let function_log = stack.log_path(&stack.function_for("create_project"));
    let mut body = br#"{"name": "Huge", "description": ""#.to_vec();
    body.resize(MAX_REQUEST_BYTES + 1 - 2, b'x');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), MAX_REQUEST_BYTES + 1);

    let reply = Reply::read(
        stack
            .client
            .post(stack.api_url("/api/v0/projects"))
            .header("authorization", stack.token("alice"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the gateway answers instead of dropping the connection"),
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    // API Gateway's own answer ({"message": ...}), not the function's error ({"code": ...}).
    let body = reply.json();
    let keys: Vec<&String> = body.as_object().expect("a JSON object").keys().collect();
    assert_eq!(keys, ["message"], "{}", reply.text);
    // The function never ran: it logged nothing, so no REPORT either.
    assert!(parse_reports(&log_lines(&function_log)).is_empty());

    assert_eq!(stack.names("projects").await, Vec::<String>::new());
    stack.stop().await;
}

/// Names API Gateway passes percent-encoded (REST keeps the path as sent) and query values with
/// `+` (a space in the event) reach the real functions meaning what the client meant.
async fn names_needing_escapes_and_plus_signs_reach_the_functions_as_in_aws(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let created = stack
        .post(
            "/dev/api/v0/technologies",
            Some(&token),
            &project("C# & .NET"),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let location = created.header("location").unwrap().to_owned();
    assert_eq!(location, "/dev/api/v0/technologies/C%23%20%26%20.NET");
    let fetched = stack.get(&location).await;
    assert_eq!(
        (fetched.status, fetched.json()["name"].clone()),
        (200, json!("C# & .NET"))
    );
    // `+` is a space in a query, `%2B` a plus sign.
    let listed = stack
        .get("/dev/api/v0/technologies?name=c%23+%26&limit=10")
        .await;
    assert_eq!(
        listed.json()["items"][0]["name"],
        "C# & .NET",
        "{}",
        listed.text
    );
    let plus = stack
        .get("/dev/api/v0/technologies?name=c%23%2B%26&limit=10")
        .await;
    assert_eq!(plus.json()["items"], json!([]), "{}", plus.text);
    // An encoded slash stays inside the one path segment: the item resource, not a catch-all.
    let slashed = stack.get("/dev/api/v0/technologies/a%2Fb").await;
    assert_eq!(slashed.status, 404, "{}", slashed.text);
    assert_eq!(slashed.json()["code"], "not_found");
    let anonymous = stack
        .delete("/dev/api/v0/technologies/C%23%20%26%20.NET", None)
        .await;
    assert_unauthorized(&anonymous, "DELETE of an escaped name without a token");
    let deleted = stack.delete(&location, Some(&token)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    stack.stop().await;
}

/// The lith template with the fixture as its package, `Timeout` in seconds and, if given,
/// `ReservedConcurrentExecutions`.
async fn start_fixture(
    timeout_seconds: u64,
    reserved_concurrency: Option<u32>,
) -> (TestStack, tempfile::TempDir) {
    let artifacts = tempfile::tempdir().unwrap();
    write_fixture_package(artifacts.path(), "lith");
    let mut options =
        StackOptions::new(Pattern::Lith).function_timeout("LithFunction", timeout_seconds);
    if let Some(reserved) = reserved_concurrency {
        options = options.reserved_concurrency("LithFunction", reserved);
    }
    options.artifacts_dir = artifacts.path().to_owned();
    (TestStack::start_with(options).await, artifacts)
}

/// Sends `path` to the fixture, expects the failure, then a 200 from a fresh environment; the
/// failed invocation's REPORT line carries `status`.
async fn fails_then_recovers_in_a_fresh_environment(path: &str, status: &str) {
    let (stack, _artifacts) = start_fixture(1, None).await;
    let log = stack.log_path("catalog-dev-lith");

    let failed = stack.get(path).await;
    assert_eq!(
        (failed.status, failed.json()),
        (502, message("Internal server error")),
        "{}",
        failed.text
    );
    let ok = stack.get("/dev/ok").await;
    assert_eq!((ok.status, ok.text.as_str()), (200, "ok"));

    let lines = wait_for_lines(&log, |lines| parse_reports(lines).len() >= 2).await;
    let reports = parse_reports(&lines);
    assert_eq!(reports.len(), 2, "{}", lines.join("\n"));
    assert_eq!(
        reports[0].status.as_deref(),
        Some(status),
        "{:?}",
        reports[0]
    );
    assert!(
        reports[1].is_cold(),
        "a failed environment is not reused: {:?}",
        reports[1]
    );
    assert_eq!(reports[1].status, None);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_function_gives_502_and_the_next_request_a_fresh_environment() {
    fails_then_recovers_in_a_fresh_environment("/dev/crash", "error").await;
}

/// In AWS a function that hits its own timeout (here 1 s, under API Gateway's 29 s) fails the
/// invocation ("Task timed out after 1.00 seconds") and API Gateway answers 502; only when the
/// 29 s integration timeout comes first is the answer 504 "Endpoint request timed out".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_function_is_ended_with_502_and_the_next_request_gets_a_fresh_environment() {
    fails_then_recovers_in_a_fresh_environment("/dev/hang", "timeout").await;
}

/// A function that hits its own timeout (under API Gateway's 29 s) is a failed invocation: 502.
fn assert_timed_out(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.json()),
        (502, message("Internal server error")),
        "{}",
        reply.text
    );
}

/// Lambda throttles an invocation beyond the function's reserved concurrency, and API Gateway's
/// proxy integration answers 500, not 429: "If the Lambda API rejects the invocation request, API
/// Gateway returns a 500 error code ... the body ... is {"message": "Internal server error"}"
/// (Lambda's developer guide, "Handling Lambda errors with an API Gateway API").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_its_reserved_concurrency_a_function_is_throttled_and_the_gateway_answers_500() {
    let (stack, _artifacts) = start_fixture(2, Some(1)).await;
    let log = stack.log_path("catalog-dev-lith");

    let hanging = {
        let client = stack.client.clone();
        let url = stack.url("/dev/hang");
        tokio::spawn(async move { Reply::read(client.get(url).send().await.unwrap()).await })
    };
    // The only execution environment is busy once the fixture says it hangs.
    wait_for_lines(&log, |lines| lines.iter().any(|l| l == "fixture: hanging")).await;

    let throttled = stack.get("/dev/ok").await;
    assert_eq!(
        (throttled.status, throttled.json()),
        (500, message("Internal server error"))
    );
    assert_eq!(
        throttled.header("x-amzn-errortype"),
        Some("InternalServerErrorException")
    );
    assert_timed_out(&hanging.await.unwrap());
    // The slot is free again.
    let ok = stack.get("/dev/ok").await;
    assert_eq!((ok.status, ok.text.as_str()), (200, "ok"));
    stack.stop().await;
}

/// Without a reservation a function draws on the account's concurrency (1,000 by default, Lambda's
/// developer guide, "Lambda quotas"): a burst of requests, each holding an environment until the
/// function's timeout, runs at once and none is throttled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_reservation_a_burst_runs_at_once_unthrottled() {
    const BURST: usize = 20;
    let (stack, _artifacts) = start_fixture(3, None).await;
    let log = stack.log_path("catalog-dev-lith");
    let requests: Vec<_> = (0..BURST)
        .map(|_| {
            let client = stack.client.clone();
            let url = stack.url("/dev/hang");
            tokio::spawn(async move { Reply::read(client.get(url).send().await.unwrap()).await })
        })
        .collect();
    // Every request holds an environment of its own before any times out.
    wait_for_lines(&log, |lines| {
        lines.iter().filter(|l| *l == "fixture: hanging").count() == BURST
    })
    .await;
    for request in requests {
        assert_timed_out(&request.await.unwrap());
    }
    stack.stop().await;
}

/// API Gateway's Cognito authorizer trusts the pools its `ProviderARNs` list, whatever else the
/// environment file configures: a template whose authorizer leaves a pool out must refuse that
/// pool's tokens locally as it would in AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_the_authorizer_does_not_list_are_refused() {
    let mut options = StackOptions::new(Pattern::Lith);
    options.edit_template = Some(Box::new(|template: &mut Value| {
        let arns = template
            .pointer_mut("/Resources/CognitoAuthorizer/Properties/ProviderARNs")
            .and_then(Value::as_array_mut)
            .expect("the authorizer lists its pools");
        arns.retain(|arn| !arn.as_str().unwrap().ends_with("_BackOff01"));
        assert_eq!(arns.len(), 1);
    }));
    let stack = TestStack::start_with(options).await;

    let portal = stack.token("alice");
    let created = stack
        .post("/dev/api/v0/projects", Some(&portal), &project("Listed"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let backoffice = stack
        .issuer("backoffice")
        .mint_id_token(TokenRequest::new("bob"));
    let refused = stack
        .post(
            "/dev/api/v0/projects",
            Some(&backoffice),
            &project("Unlisted"),
        )
        .await;
    assert_unauthorized(&refused, "a token of a pool the authorizer does not list");
    assert_eq!(stack.names("projects").await, ["Listed"]);
    stack.stop().await;
}

/// The allow-list janitor runs inside the local stack on its own timer, as the scheduled
/// function does in AWS: an expired entry leaves the IP set files with no command run.
#[tokio::test]
async fn the_local_janitor_flushes_expired_entries_without_a_command() {
    let mut options = StackOptions::new(Pattern::Lith);
    options.janitor_period = Some(Duration::from_millis(200));
    let stack = TestStack::start_with(options).await;
    let backend =
        waf::LocalBackend::new(stack.state_dir(), waf::IpSetNames::for_env("dev").unwrap());
    let short: waf::Cidr = "127.0.0.9".parse().unwrap();
    waf::AllowListBackend::allow(
        &backend,
        &[short],
        Some(Duration::from_secs(1)),
        Some("short"),
        time::OffsetDateTime::now_utc(),
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = waf::AllowListBackend::list(&backend).await.unwrap();
        if !list.entries().any(|e| e.cidr == short) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the expired entry is still in the IP set files"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // 127.0.0.1, allowed for the whole test, stays.
    let list = waf::AllowListBackend::list(&backend).await.unwrap();
    assert!(list.entries().any(|e| e.cidr.to_string() == "127.0.0.1/32"));
    // The janitor's note reaches its file through the log writer, just after the flush itself.
    wait_for_lines(&stack.state_dir().join("logs/janitor.log"), |lines| {
        lines.iter().any(|line| line.contains("127.0.0.9/32"))
    })
    .await;
    stack.stop().await;
}

/// `localhost` may name ::1 first (it does on many machines), and the WAF allows ::1 on a first
/// start: the stack listens on both loopbacks, at one port, and the WAF decides for each
/// connection by the address it came from, ::1 by the IPv6 set.
#[tokio::test]
async fn both_loopbacks_are_served_and_each_is_judged_by_its_own_ip_set() {
    let stack = TestStack::start_with(StackOptions {
        both_loopbacks: true,
        ..StackOptions::new(Pattern::Lith)
    })
    .await;
    let v6 = stack.also_addr().expect("listening on [::1] too");
    assert_eq!(v6.ip(), std::net::Ipv6Addr::LOCALHOST);
    assert_eq!(v6.port(), stack.addr().port(), "one port for both");
    let url = format!("http://{v6}/dev/api/v0");
    let client = reqwest::Client::new();
    let refused = Reply::read(client.get(&url).send().await.unwrap()).await;
    assert_eq!(refused.status, 403, "::1 is not in the IPv6 set yet");
    allow_ip(stack.state_dir(), std::net::Ipv6Addr::LOCALHOST.into());
    let served = Reply::read(client.get(&url).send().await.unwrap()).await;
    assert_eq!(served.status, 200, "{}", served.text);
    let v4 = Reply::read(
        stack
            .client
            .get(stack.api_url("/api/v0"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v4.status, 200);
}
