//! The hostile-input suite: requests an attacker would send to the local stack (forged tokens,
//! abused headers, path and method spellings, spoofed client addresses, hostile bodies and
//! queries), each answered with an exact status and none of them writing anything.
//!
//! Every scenario runs on every pattern. Every case checks what was written afterwards, by
//! listing the collection from an allowed client, because a refusal that still wrote would be
//! the incident. Requests whose path, method or header bytes an HTTP client would tidy up go over
//! raw TCP (`e2e::raw`). `tests/local_stack.rs` already covers tokens of an unconfigured pool,
//! another pool's key, expiry, tampering, `alg: none`, HS256 with public material, a foreign
//! `aud` and an access token: they are not repeated here.
//!
//! Where the local answer stands for AWS's, the case names its source; where no source settles
//! it, the case says "not verified against AWS" and the stack keeps the safer answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devstack::cognito::{Denied, TokenRequest, UserPool};
use devstack::gateway::MAX_REQUEST_BYTES;
use e2e::local_stack::{
    ALLOW_TTL, ENV, LOCALHOST, OTHER_LOOPBACK, Reply, TestStack, assert_unauthorized, client_from,
    issuer,
};
use e2e::raw::{self, RawReply};
use serde_json::{Map, Value, json};
use stack::Pattern;
use waf::{AllowListBackend, Cidr, IpSetNames, IpVersion, LocalBackend};

/// A header case: what it is, the headers sent, the status expected.
type HeaderCase<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, u16);
/// A body case: what it is, the content type, the body, the status and error expected.
type BodyCase<'a> = (&'a str, Option<&'a [u8]>, Vec<u8>, u16, &'a str);

e2e::all_patterns!(
    forged_and_malformed_tokens_are_refused,
    a_token_missing_sub_or_username_never_writes_anonymously,
    abused_authorization_headers_are_refused,
    path_spellings_of_protected_routes_write_nothing_without_a_token,
    method_spellings_and_overrides_write_nothing_without_a_token,
    forwarding_headers_do_not_let_a_blocked_peer_in,
    allow_list_changes_apply_from_the_next_request,
    hostile_bodies_are_refused_and_write_nothing,
    bodies_over_each_limit_get_413_and_write_nothing,
    hostile_queries_are_refused,
);

const COLLECTIONS: [&str; 2] = ["projects", "technologies"];

fn item(name: &str) -> Value {
    json!({ "name": name, "description": "from the hostile suite" })
}

/// A JWT's claims, unverified.
fn claims_of(token: &str) -> Map<String, Value> {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A pool no authorizer of the stack lists: the attacker's own signing key.
fn unconfigured_pool() -> UserPool {
    UserPool::new(
        "other",
        "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Other123",
        vec!["3n4b5c6d7e8f9g0h1i2j3k4l5m".into()],
    )
    .unwrap()
}

fn jose(fields: Value) -> Map<String, Value> {
    let Value::Object(map) = fields else {
        panic!("a JOSE header is an object")
    };
    map
}

/// Creates `name` in every collection with a valid token, so that a refused DELETE can be told
/// from one that never had anything to delete.
async fn seed(stack: &TestStack, name: &str) {
    let token = stack.token("alice");
    for collection in COLLECTIONS {
        let created = stack
            .post(
                &format!("/{ENV}/api/v0/{collection}"),
                Some(&token),
                &item(name),
            )
            .await;
        assert_eq!(created.status, 201, "{collection}: {}", created.text);
    }
}

/// Fails unless every collection holds exactly `names`.
async fn assert_written(stack: &TestStack, names: &[&str]) {
    for collection in COLLECTIONS {
        assert_eq!(stack.names(collection).await, names, "{collection}");
    }
}

/// A token the authorizer must refuse, and a fragment of the reason it logs (so the token is
/// known to fail for what was done to it, not for a slip in forging it).
struct Forged {
    what: &'static str,
    reason: &'static str,
    header: String,
}

fn forged_tokens(stack: &TestStack) -> Vec<Forged> {
    let portal = stack.issuer("portal");
    let valid = portal.mint_id_token(TokenRequest::new("mallory"));
    let claims = claims_of(&valid);
    let attacker = issuer(stack.state_dir(), &unconfigured_pool());
    let attacker_jwk = attacker.jwks()["keys"][0].clone();
    let with = |name: &str, value: Value| {
        let mut changed = claims.clone();
        changed.insert(name.into(), value);
        changed
    };
    let without = |name: &str| {
        let mut changed = claims.clone();
        changed.remove(name);
        changed
    };
    let portal_issuer = claims["iss"].as_str().unwrap().to_owned();
    let pool_id = portal_issuer.rsplit('/').next().unwrap().to_owned();
    let forged = |what, reason, header| Forged {
        what,
        reason,
        header,
    };
    vec![
        forged(
            "a header without kid",
            "no kid",
            portal.sign_with_header(&jose(json!({"alg": "RS256"})), &claims),
        ),
        forged(
            "a kid no trusted pool has",
            "kid `not-a-key`",
            portal.sign_with_header(&jose(json!({"alg": "RS256", "kid": "not-a-key"})), &claims),
        ),
        forged(
            "nbf an hour from now",
            "not valid before",
            portal.sign(&with("nbf", json!(now_secs() + 3600))),
        ),
        forged(
            "iat two hours from now",
            "in the future",
            portal.mint_id_token(TokenRequest {
                issued_at: Some(SystemTime::now() + Duration::from_secs(2 * 3600)),
                ..TokenRequest::new("mallory")
            }),
        ),
        forged(
            "no token_use",
            "token_use",
            portal.sign(&without("token_use")),
        ),
        forged(
            "token_use refresh",
            "token_use is `refresh`",
            portal.sign(&with("token_use", json!("refresh"))),
        ),
        forged(
            "an unconfigured iss signed by a trusted key",
            "eu-west-1_Other123",
            portal.sign(&with(
                "iss",
                json!("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other123"),
            )),
        ),
        forged(
            "the trusted iss over http",
            "is not the issuer",
            portal.sign(&with(
                "iss",
                json!(portal_issuer.replace("https://", "http://")),
            )),
        ),
        forged(
            "the trusted iss with a trailing slash",
            "is not the issuer",
            portal.sign(&with("iss", json!(format!("{portal_issuer}/")))),
        ),
        forged("no iss", "iss", portal.sign(&without("iss"))),
        forged(
            "an embedded jwk under the trusted kid, signed by the attacker",
            "signature does not verify",
            attacker.sign_with_header(
                &jose(json!({"alg": "RS256", "kid": portal.kid(), "jwk": attacker_jwk.clone()})),
                &claims,
            ),
        ),
        forged(
            "an embedded jwk with its own kid",
            "is not among the keys",
            attacker.sign_with_header(
                &jose(json!({"alg": "RS256", "kid": attacker.kid(), "jwk": attacker_jwk})),
                &claims,
            ),
        ),
        forged(
            "a jku at the attacker's JWKS",
            "is not among the keys",
            attacker.sign_with_header(
                &jose(json!({
                    "alg": "RS256",
                    "kid": attacker.kid(),
                    "jku": stack.url("/eu-west-1_Other123/.well-known/jwks.json"),
                })),
                &claims,
            ),
        ),
        forged(
            "a jku at the trusted JWKS under the trusted kid, signed by the attacker",
            "signature does not verify",
            attacker.sign_with_header(
                &jose(json!({
                    "alg": "RS256",
                    "kid": portal.kid(),
                    "jku": stack.url(&format!("/{pool_id}/.well-known/jwks.json")),
                })),
                &claims,
            ),
        ),
        forged(
            "a critical extension",
            "critical",
            portal.sign_with_header(
                &jose(json!({"alg": "RS256", "kid": portal.kid(), "crit": ["exp"]})),
                &claims,
            ),
        ),
        forged(
            "alg spelled rs256",
            "alg `rs256`",
            portal.sign_with_header(&jose(json!({"alg": "rs256", "kid": portal.kid()})), &claims),
        ),
        forged(
            "aud as an array holding the app client",
            "aud",
            portal.sign(&with("aud", json!([claims["aud"]]))),
        ),
        forged(
            "exp as a string",
            "exp",
            portal.sign(&with("exp", json!(claims["exp"].to_string()))),
        ),
        forged(
            "Bearer twice",
            "not a JWT",
            format!("Bearer Bearer {valid}"),
        ),
        forged(
            "bearer in lower case",
            "not a JWT",
            format!("bearer {valid}"),
        ),
        forged(
            "the token with a fourth part",
            "not a JWT",
            format!("{valid}.{}", valid.split('.').nth(2).unwrap()),
        ),
    ]
}

async fn forged_and_malformed_tokens_are_refused(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    seed(&stack, "Kept").await;
    for forged in forged_tokens(&stack) {
        let what = forged.what;
        for (method, path) in [
            (reqwest::Method::POST, "/dev/api/v0/projects"),
            (reqwest::Method::DELETE, "/dev/api/v0/projects/Kept"),
            (reqwest::Method::POST, "/dev/api/v0/technologies"),
            (reqwest::Method::DELETE, "/dev/api/v0/technologies/Kept"),
        ] {
            let body = (method == reqwest::Method::POST).then(|| item("Forged"));
            let reply = stack
                .send(method.clone(), path, Some(&forged.header), body.as_ref())
                .await;
            assert_unauthorized(&reply, &format!("{method} {path} with {what}"));
            let note = stack.authorizer_note(&reply).await;
            assert!(
                note.contains(forged.reason),
                "{what}: refused for {note:?}, not for {:?}",
                forged.reason
            );
        }
    }
    assert_written(&stack, &["Kept"]).await;
    stack.stop().await;
}

/// Cognito's ID tokens carry both `sub` and `cognito:username`. API Gateway's authorizer checks
/// neither, so a token of a trusted pool with only one of them is recorded by the one it has,
/// and one with neither is refused by the function (403 `unidentified_caller`): a write is never
/// stored without its author.
async fn a_token_missing_sub_or_username_never_writes_anonymously(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let portal = stack.issuer("portal");
    let mut only_username = claims_of(&portal.mint_id_token(TokenRequest::new("nosub")));
    only_username.remove("sub");
    let mut only_sub = claims_of(&portal.mint_id_token(TokenRequest::new("nouser")));
    only_sub.remove("cognito:username");
    let subject = only_sub["sub"].as_str().unwrap().to_owned();

    for (claims, name, author) in [
        (&only_username, "No-sub", "nosub"),
        (&only_sub, "No-username", subject.as_str()),
    ] {
        let created = stack
            .post(
                "/dev/api/v0/projects",
                Some(&portal.sign(claims)),
                &item(name),
            )
            .await;
        assert_eq!(created.status, 201, "{name}: {}", created.text);
        assert_eq!(created.json()["created_by"], author, "{name}");
    }
    let mut nameless = only_sub.clone();
    nameless.remove("sub");
    let refused = stack
        .post(
            "/dev/api/v0/projects",
            Some(&portal.sign(&nameless)),
            &item("Nameless"),
        )
        .await;
    assert_eq!(
        (refused.status, refused.json()["code"].clone()),
        (403, json!("unidentified_caller")),
        "{}",
        refused.text
    );
    assert_eq!(stack.names("projects").await, ["No-sub", "No-username"]);
    stack.stop().await;
}

/// The `Authorization` header abused: too big, not UTF-8, or sent twice.
async fn abused_authorization_headers_are_refused(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let valid = stack.token("alice");
    let body = item("Smuggled").to_string();
    let json_type: (&str, &[u8]) = ("Content-Type", b"application/json");
    let padding = "p".repeat(11 * 1024);
    let garbage = "g".repeat(9 * 1024);
    let with_byte = |byte: u8, at_end: bool| -> Vec<u8> {
        let mut value = valid.clone().into_bytes();
        if at_end {
            value.push(byte);
        } else {
            let middle = value.len() / 2;
            value.insert(middle, byte);
        }
        value
    };
    let ff_at_end = with_byte(0xff, true);
    let ff_inside = with_byte(0x80, false);
    let mut ff_first = vec![0xffu8];
    ff_first.extend_from_slice(valid.as_bytes());

    // API Gateway's REST quota: "Total combined size of request line and header values: 10240
    // bytes" (docs: api-gateway-execution-service-limits-table). The status beyond it is 431, as
    // recorded behind API Gateway at backbencher.dev ("431 Status Code With Request Header Fields
    // Too Large"); AWS's body for it is not verified.
    let cases: Vec<HeaderCase> = vec![
        (
            "an Authorization header of 11 KiB",
            vec![("Authorization", padding.as_bytes())],
            431,
        ),
        (
            "a valid token beside 11 KiB of another header",
            vec![
                ("Authorization", valid.as_bytes()),
                ("X-Padding", padding.as_bytes()),
            ],
            431,
        ),
        (
            "9 KiB of garbage as the token",
            vec![("Authorization", garbage.as_bytes())],
            401,
        ),
        (
            "an empty Authorization header",
            vec![("Authorization", b"")],
            401,
        ),
        (
            "a valid token followed by 0xff",
            vec![("Authorization", &ff_at_end)],
            401,
        ),
        (
            "a valid token with 0x80 inside",
            vec![("Authorization", &ff_inside)],
            401,
        ),
        (
            "0xff before a valid token",
            vec![("Authorization", &ff_first)],
            401,
        ),
        // Not verified against AWS: which of two Authorization headers its authorizer reads.
        // Whichever it is, refusing both is the answer that cannot let a wrong one through.
        (
            "two Authorization headers, the valid one first",
            vec![
                ("Authorization", valid.as_bytes()),
                ("Authorization", b"not-a-token"),
            ],
            401,
        ),
        (
            "two Authorization headers, the valid one last",
            vec![
                ("Authorization", b"not-a-token"),
                ("Authorization", valid.as_bytes()),
            ],
            401,
        ),
        (
            "the valid token twice",
            vec![
                ("Authorization", valid.as_bytes()),
                ("Authorization", valid.as_bytes()),
            ],
            401,
        ),
        (
            "two spellings of Authorization",
            vec![
                ("authorization", valid.as_bytes()),
                ("AUTHORIZATION", valid.as_bytes()),
            ],
            401,
        ),
    ];
    let mut wrong = Vec::new();
    for (what, mut headers, expected) in cases {
        headers.push(json_type);
        let reply = raw::send(
            stack.addr(),
            "POST",
            "/dev/api/v0/projects",
            &headers,
            Some(body.as_bytes()),
        )
        .await;
        let message = (expected == 401).then(|| json!({"message": Denied::UNAUTHORIZED}));
        let body: Option<Value> = serde_json::from_slice(&reply.body).ok();
        if reply.status != expected || (message.is_some() && body != message) {
            wrong.push(format!("{what}: {} {}", reply.status, reply.text()));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected other answers:\n{}",
        wrong.join("\n")
    );
    // The same valid token, sent once, is accepted: the refusals above are about the abuse.
    let accepted = stack
        .post("/dev/api/v0/technologies", Some(&valid), &item("Accepted"))
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    assert_eq!(stack.names("projects").await, Vec::<String>::new());
    stack.stop().await;
}

/// One request as written on the wire, and the status it must get.
struct Case {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    expected: u16,
}

impl Case {
    fn new(method: &str, target: String, expected: u16) -> Case {
        let bodiless = ["GET", "HEAD", "DELETE"]
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method));
        let body = (!bodiless).then(|| item("Sneaked").to_string());
        Case {
            method: method.to_owned(),
            target,
            headers: Vec::new(),
            body,
            expected,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Case {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Sends every case over raw TCP and fails with every answer that differs; a 401 must be the
/// authorizer's.
async fn run_cases(stack: &TestStack, cases: Vec<Case>) {
    let mut wrong = Vec::new();
    for case in &cases {
        let mut headers: Vec<(&str, &[u8])> = case
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        if case.body.is_some() {
            headers.push(("Content-Type", b"application/json"));
        }
        let reply: RawReply = raw::send(
            stack.addr(),
            &case.method,
            &case.target,
            &headers,
            case.body.as_deref().map(str::as_bytes),
        )
        .await;
        let unauthorized_body = reply.status == 401
            && serde_json::from_slice::<Value>(&reply.body).ok()
                != Some(json!({"message": Denied::UNAUTHORIZED}));
        if reply.status != case.expected || unauthorized_body {
            wrong.push(format!(
                "{} {} {:?}: expected {}, got {} {}",
                case.method,
                case.target,
                case.headers,
                case.expected,
                reply.status,
                reply.text()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases answered otherwise:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// Every spelling of the protected routes (POST on a collection, DELETE on an item) an attacker
/// might try without a token. 401 where API Gateway folds the spelling onto the protected
/// method; otherwise the request reaches a public catch-all and the function answers 404
/// `no_route` (or 405), or nothing matches (403): never a write.
async fn path_spellings_of_protected_routes_write_nothing_without_a_token(pattern: Pattern) {
    assert_the_protected_routes_are(&[
        "POST /api/v0/projects",
        "DELETE /api/v0/projects/{name}",
        "POST /api/v0/technologies",
        "DELETE /api/v0/technologies/{name}",
    ]);
    let stack = TestStack::start(pattern).await;
    seed(&stack, "Atlas").await;
    let mut cases = Vec::new();
    for c in COLLECTIONS {
        let post = |target: String, expected| Case::new("POST", target, expected);
        let delete = |target: String, expected| Case::new("DELETE", target, expected);
        cases.extend([
            // Recorded (LocalStack snapshots invocation-payload-with-prepended-slash-to-stage
            // and invocation-hardcoded): slashes before the stage, and a doubled slash right
            // after it, match the same resource.
            post(format!("//dev/api/v0/{c}"), 401),
            post(format!("/dev//api/v0/{c}"), 401),
            delete(format!("//dev/api/v0/{c}/Atlas"), 401),
            delete(format!("/dev//api/v0/{c}/Atlas"), 401),
            // Not verified against AWS (README): a trailing slash and inner doubled slashes are
            // matched as without them, so the protected method needs a token in them too.
            post(format!("/dev/api/v0/{c}/"), 401),
            post(format!("/dev/api//v0/{c}"), 401),
            post(format!("/dev/api/v0//{c}"), 401),
            post(format!("/dev/api/v0/{c}//"), 401),
            delete(format!("/dev/api/v0/{c}/Atlas/"), 401),
            delete(format!("/dev/api/v0/{c}//Atlas"), 401),
            delete(format!("/dev/api/v0//{c}/Atlas"), 401),
            // Percent-encoding inside the item's name is still the {name} resource (recorded:
            // path parameters stay encoded, LocalStack invocation-payload-with-path-encoded-email).
            delete(format!("/dev/api/v0/{c}/Atl%61s"), 401),
            delete(format!("/dev/api/v0/{c}/%41tlas"), 401),
            delete(format!("/dev/api/v0/{c}/Atlas%2F"), 401),
            delete(format!("/dev/api/v0/{c}/Atlas%252F"), 401),
            delete(format!("/dev/api/v0/{c}/ATLAS"), 401),
            delete(format!("/dev/api/v0/{c}/Atlas;x=1"), 401),
            delete(format!("/dev/api/v0/{c}/Atlas%3Bx=1"), 401),
            // Not verified against AWS: dot segments are not resolved (nothing recorded says
            // API Gateway resolves them); they reach the public catch-all, whose function routes
            // on the same unresolved path and finds no route.
            post(format!("/dev/api/v0/./{c}"), 404),
            post(format!("/dev/api/v0/x/../{c}"), 404),
            post(format!("/dev/api/v1/../v0/{c}"), 404),
            post(format!("/dev/./api/v0/{c}"), 404),
            // `.` after the collection is an item name to the {name} resource: no POST there.
            post(format!("/dev/api/v0/{c}/."), 405),
            post(format!("/dev/api/v0/%2e/{c}"), 404),
            post(format!("/dev/api/v0/x/%2e%2e/{c}"), 404),
            delete(format!("/dev/api/v0/{c}/./Atlas"), 404),
            delete(format!("/dev/api/v0/{c}/x/../Atlas"), 404),
            delete(format!("/dev/api/v0/{c}/Atlas/."), 404),
            delete(format!("/dev/api/v0/{c}/Atlas/.."), 404),
            delete(format!("/dev/api/v0/{c}/Atlas/x/.."), 404),
            delete(format!("/dev/api/v0/{c}/%2e%2e/{c}/Atlas"), 404),
            // Not verified against AWS (README): percent-encoded characters in a literal
            // segment are compared as sent, encoded slashes included: no literal matches.
            post(
                format!("/dev/api/v0/{}", percent_encode_first_letter(c)),
                404,
            ),
            post(format!("/dev/%61pi/v0/{c}"), 404),
            post(format!("/dev/api%2Fv0%2F{c}"), 404),
            post(format!("/dev/api/v0/{c}%2F"), 404),
            post(
                format!("/dev/api/v0/{}", double_encode_first_letter(c)),
                404,
            ),
            post(format!("/dev/api/v0%252F{c}"), 404),
            delete(format!("/dev/api/v0/{c}%2FAtlas"), 404),
            delete(format!("/dev/api/v0%2F{c}/Atlas"), 404),
            // Literal segments are case-sensitive, stages too.
            post(format!("/dev/api/v0/{}", capitalised(c)), 404),
            post(format!("/dev/API/V0/{}", c.to_uppercase()), 404),
            delete(format!("/dev/api/v0/{}/Atlas", capitalised(c)), 404),
            // `;` is not a parameter separator in a path to API Gateway or the functions.
            post(format!("/dev/api/v0/{c};x=1"), 404),
            post(format!("/dev/api/v0;x=1/{c}"), 404),
            post(format!("/dev/api;/v0/{c}"), 404),
            delete(format!("/dev/api/v0/{c};x=1/Atlas"), 404),
            // A doubled stage reaches the public catch-all, whose function matches the path
            // after the one real stage: no route.
            post(format!("/dev/dev/api/v0/{c}"), 404),
            delete(format!("/dev/dev/api/v0/{c}/Atlas"), 404),
            // Unknown stages, no stage, a stage with parameters or encoded: Missing
            // Authentication Token (recorded: LocalStack ROUTING test_routing_not_found).
            post(format!("/prod/api/v0/{c}"), 403),
            post(format!("/DEV/api/v0/{c}"), 403),
            post(format!("/Dev/api/v0/{c}"), 403),
            post(format!("/api/v0/{c}"), 403),
            post(format!("/dev;x=1/api/v0/{c}"), 403),
            post(format!("/%64ev/api/v0/{c}"), 403),
            post(format!("/dev%2Fapi/v0/{c}"), 403),
            delete(format!("/prod/api/v0/{c}/Atlas"), 403),
            delete(format!("/api/v0/{c}/Atlas"), 403),
            delete(format!("/dev%2F/api/v0/{c}/Atlas"), 403),
        ]);
    }
    run_cases(&stack, cases).await;
    assert_written(&stack, &["Atlas"]).await;
    stack.stop().await;
}

/// Fails when the route table protects other routes than the ones the spellings below cover: a
/// new protected route needs its spellings here.
fn assert_the_protected_routes_are(covered: &[&str]) {
    let protected: Vec<String> = routes::ROUTES
        .iter()
        .filter(|route| route.is_protected())
        .map(|route| format!("{} {}", route.method.as_str(), route.path))
        .collect();
    assert_eq!(
        protected, covered,
        "spell out the new protected routes below"
    );
}

fn percent_encode_first_letter(segment: &str) -> String {
    format!("%{:02X}{}", segment.as_bytes()[0], &segment[1..])
}

fn double_encode_first_letter(segment: &str) -> String {
    format!("%25{:02X}{}", segment.as_bytes()[0], &segment[1..])
}

fn capitalised(segment: &str) -> String {
    let mut chars = segment.chars();
    let first = chars.next().unwrap().to_ascii_uppercase();
    format!("{first}{}", chars.as_str())
}

/// Methods spelled otherwise, methods the routes lack, and the method-override headers some
/// frameworks honour: none reaches a write without a token.
async fn method_spellings_and_overrides_write_nothing_without_a_token(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    seed(&stack, "Atlas").await;
    let overrides = [
        "X-HTTP-Method-Override",
        "X-HTTP-Method",
        "X-Method-Override",
        "X-Original-Method",
    ];
    let mut cases = Vec::new();
    for c in COLLECTIONS {
        let collection = format!("/dev/api/v0/{c}");
        let atlas = format!("/dev/api/v0/{c}/Atlas");
        cases.extend([
            // Not verified against AWS (README): method names are matched without regard to
            // case, so any spelling of a protected method needs the token.
            Case::new("post", collection.clone(), 401),
            Case::new("Post", collection.clone(), 401),
            Case::new("pOST", collection.clone(), 401),
            Case::new("delete", atlas.clone(), 401),
            Case::new("Delete", atlas.clone(), 401),
            // Methods no route has reach the public catch-all (ANY): the function refuses them.
            Case::new("PUT", collection.clone(), 405),
            Case::new("PATCH", collection.clone(), 405),
            Case::new("DELETE", collection.clone(), 405),
            Case::new("PUT", atlas.clone(), 405),
            Case::new("PATCH", atlas.clone(), 405),
            Case::new("POST", atlas.clone(), 405),
            Case::new("POST", format!("{atlas}/delete"), 404),
            // Not verified against AWS (README): ANY serves its seven methods only.
            Case::new("TRACE", atlas.clone(), 403),
            Case::new("PROPFIND", atlas.clone(), 403),
            Case::new("MOVE", atlas.clone(), 403),
            Case::new("FOO", collection.clone(), 403),
        ]);
        for name in overrides {
            cases.extend([
                Case::new("POST", atlas.clone(), 405).header(name, "DELETE"),
                Case::new("GET", atlas.clone(), 200).header(name, "DELETE"),
                Case::new("GET", collection.clone(), 200).header(name, "POST"),
                Case::new("PUT", collection.clone(), 405).header(name, "POST"),
            ]);
        }
        cases.extend([
            Case::new("POST", format!("{atlas}?_method=DELETE"), 405),
            Case::new("GET", format!("{atlas}?_method=DELETE"), 200),
        ]);
    }
    run_cases(&stack, cases).await;

    // HEAD and OPTIONS go through an HTTP client: a reply to HEAD has no body to read. Neither
    // resource has them, so both reach the public catch-all: the function serves HEAD as GET
    // (nothing written) and has no OPTIONS route.
    for c in COLLECTIONS {
        for path in [format!("/dev/api/v0/{c}"), format!("/dev/api/v0/{c}/Atlas")] {
            let head = stack.send(reqwest::Method::HEAD, &path, None, None).await;
            assert_eq!((head.status, head.text.as_str()), (200, ""), "HEAD {path}");
            let options = stack
                .send(reqwest::Method::OPTIONS, &path, None, None)
                .await;
            assert_eq!(
                (options.status, options.json()["code"].clone()),
                (405, json!("method_not_allowed")),
                "OPTIONS {path}"
            );
        }
    }
    assert_written(&stack, &["Atlas"]).await;
    stack.stop().await;
}

/// Headers that proxies use to name the original client. The WAF judges the connection's peer:
/// an IP set rule reads a header only with `IPSetForwardedIPConfig`, otherwise "the IP address
/// that's reported by the web request origin" (AWS WAFV2 API reference, IPSetReferenceStatement),
/// and the template's rules set none.
const FORWARDING_HEADERS: [&str; 13] = [
    "X-Forwarded-For",
    "Forwarded",
    "X-Real-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "X-Client-IP",
    "X-Cluster-Client-IP",
    "Fastly-Client-IP",
    "X-Originating-IP",
    "X-Remote-IP",
    "X-Remote-Addr",
    "Client-IP",
    "X-Forwarded",
];

async fn forwarding_headers_do_not_let_a_blocked_peer_in(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let outsider = client_from(OTHER_LOOPBACK);
    let token = stack.token("alice");
    let forbidden = json!({"message": "Forbidden"});
    for name in FORWARDING_HEADERS {
        let value = if name == "Forwarded" {
            format!("for={LOCALHOST}")
        } else {
            LOCALHOST.to_string()
        };
        let read = Reply::read(
            outsider
                .get(stack.api_url("/api/v0/projects"))
                .header(name, &value)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (read.status, read.json()),
            (403, forbidden.clone()),
            "GET with {name}"
        );
        let write = Reply::read(
            outsider
                .post(stack.api_url("/api/v0/projects"))
                .header(name, &value)
                .header("authorization", &token)
                .json(&item("Spoofed"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (write.status, write.json()),
            (403, forbidden.clone()),
            "POST with {name}"
        );
    }
    let mut all = outsider
        .post(stack.api_url("/api/v0/technologies"))
        .header("authorization", &token)
        .json(&item("Spoofed"));
    for name in FORWARDING_HEADERS {
        all = all.header(name, LOCALHOST.to_string());
    }
    let all = Reply::read(all.send().await.unwrap()).await;
    assert_eq!(
        (all.status, all.json()),
        (403, forbidden),
        "every header at once"
    );
    assert_written(&stack, &[]).await;
    stack.stop().await;
}

/// Allows `ip` for `ttl` as `cargo xtask ip allow` does, and returns when the entry expires.
async fn allow_for(stack: &TestStack, ip: std::net::IpAddr, ttl: Duration) -> time::OffsetDateTime {
    let backend = LocalBackend::new(stack.state_dir(), IpSetNames::for_env(ENV).unwrap());
    let cidr = Cidr::host(ip);
    backend
        .update_set_blocking(IpVersion::of(ip), &mut |set| {
            set.allow(
                cidr,
                Some(ttl),
                Some("hostile suite"),
                time::OffsetDateTime::now_utc(),
            )?;
            Ok(true)
        })
        .unwrap();
    let list = AllowListBackend::list(&backend).await.unwrap();
    list.entries()
        .find(|e| e.cidr == cidr)
        .and_then(|e| e.expires_at)
        .expect("the entry just allowed expires")
}

/// `cargo xtask ip revoke`.
fn revoke(stack: &TestStack, ip: std::net::IpAddr) {
    let backend = LocalBackend::new(stack.state_dir(), IpSetNames::for_env(ENV).unwrap());
    backend
        .update_set_blocking(IpVersion::of(ip), &mut |set| {
            Ok(set.revoke(Cidr::host(ip)).is_some())
        })
        .unwrap();
}

/// An entry that expires while the stack runs blocks the very next request, as does a revoke:
/// nothing is cached past a change of the allow-list.
async fn allow_list_changes_apply_from_the_next_request(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let outsider = client_from(OTHER_LOOPBACK);
    let token = stack.token("alice");
    let list = stack.api_url("/api/v0/projects");
    let write = |name: &'static str| {
        outsider
            .post(&list)
            .header("authorization", &token)
            .json(&item(name))
    };

    let expires_at = allow_for(&stack, OTHER_LOOPBACK, Duration::from_secs(3)).await;
    let served = Reply::read(outsider.get(&list).send().await.unwrap()).await;
    assert!(
        time::OffsetDateTime::now_utc() < expires_at,
        "the machine took the whole 3 s entry to answer one request; nothing to conclude"
    );
    assert_eq!(
        served.status, 200,
        "allowed until {expires_at}: {}",
        served.text
    );
    // Waits for the instant itself, not for a guessed duration.
    while time::OffsetDateTime::now_utc() < expires_at {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expired = Reply::read(write("Expired").send().await.unwrap()).await;
    assert_eq!(
        (expired.status, expired.json()),
        (403, json!({"message": "Forbidden"}))
    );

    allow_for(&stack, OTHER_LOOPBACK, ALLOW_TTL).await;
    let allowed = Reply::read(outsider.get(&list).send().await.unwrap()).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text);
    revoke(&stack, OTHER_LOOPBACK);
    let revoked = Reply::read(write("Revoked").send().await.unwrap()).await;
    assert_eq!(
        (revoked.status, revoked.json()),
        (403, json!({"message": "Forbidden"}))
    );

    assert_written(&stack, &[]).await;
    stack.stop().await;
}

/// POSTs `body` with a valid token and `content_type` (none when `None`).
async fn post_bytes(stack: &TestStack, content_type: Option<&[u8]>, body: Vec<u8>) -> Reply {
    let mut request = stack
        .client
        .post(stack.api_url("/api/v0/projects"))
        .header("authorization", stack.token("alice"))
        .body(body);
    if let Some(content_type) = content_type {
        let value = reqwest::header::HeaderValue::from_bytes(content_type).unwrap();
        request = request.header("content-type", value);
    }
    Reply::read(request.send().await.expect("the stack answers")).await
}

/// The function's error code, or the gateway's message.
fn what_answered(reply: &Reply) -> String {
    let body: Value = serde_json::from_str(&reply.text).unwrap_or(Value::Null);
    body.get("code")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// Bodies an authorized client should never get written, each with the status and the
/// function's error code.
async fn hostile_bodies_are_refused_and_write_nothing(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let json_type: Option<&[u8]> = Some(b"application/json");
    let nested = |depth: usize| {
        let mut body = br#"{"name": "Deep", "description": "x", "extra": "#.to_vec();
        body.extend(std::iter::repeat_n(b'[', depth));
        body.extend(std::iter::repeat_n(b']', depth));
        body.push(b'}');
        body
    };
    let mut nested_objects = String::new();
    for _ in 0..200 {
        nested_objects.push_str(r#"{"a":"#);
    }
    nested_objects.push('1');
    nested_objects.push_str(&"}".repeat(200));
    let nested_objects = format!(r#"{{"name": "Deep", "description": {nested_objects}}}"#);

    let cases: Vec<BodyCase> = vec![
        (
            "a name that is not UTF-8",
            json_type,
            b"{\"name\": \"\xff\xfe\", \"description\": \"x\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "a body of lone continuation bytes",
            json_type,
            vec![0x80; 64],
            400,
            "malformed_json",
        ),
        (
            "100,000 nested arrays",
            json_type,
            nested(100_000),
            400,
            "malformed_json",
        ),
        (
            "200 nested objects",
            json_type,
            nested_objects.into_bytes(),
            400,
            "malformed_json",
        ),
        (
            "a duplicated name",
            json_type,
            br#"{"name": "First", "name": "Second"}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "a duplicated description",
            json_type,
            br#"{"name": "Dup", "description": "a", "description": "b"}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "two JSON documents",
            json_type,
            br#"{"name": "One"} {"name": "Two"}"#.to_vec(),
            400,
            "malformed_json",
        ),
        (
            "a byte-order mark before the JSON",
            json_type,
            b"\xef\xbb\xbf{\"name\": \"Bom\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "an empty body",
            json_type,
            Vec::new(),
            400,
            "malformed_json",
        ),
        (
            "an array",
            json_type,
            br#"[{"name": "Listed"}]"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "a NUL inside the name",
            json_type,
            br#"{"name": "Nu\u0000l"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "a slash inside the name",
            json_type,
            br#"{"name": "a/b"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "a field the API does not know",
            json_type,
            br#"{"name": "Owned", "created_by": "admin"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "no Content-Type",
            None,
            br#"{"name": "Untyped"}"#.to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "text/plain",
            Some(b"text/plain"),
            br#"{"name": "Plain"}"#.to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "a form",
            Some(b"application/x-www-form-urlencoded"),
            b"name=Form".to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "multipart",
            Some(b"multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMulti\r\n--x--\r\n"
                .to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "XML",
            Some(b"application/xml"),
            b"<name>Xml</name>".to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "text/json",
            Some(b"text/json"),
            br#"{"name": "TextJson"}"#.to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "application/json-seq",
            Some(b"application/json-seq"),
            br#"{"name": "Seq"}"#.to_vec(),
            400,
            "unsupported_content_type",
        ),
        (
            "a Content-Type that is not UTF-8",
            Some(b"application/json; charset=\xff"),
            br#"{"name": "Charset"}"#.to_vec(),
            400,
            "unsupported_content_type",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, content_type, body, status, code) in cases {
        let reply = post_bytes(&stack, content_type, body).await;
        if (reply.status, what_answered(&reply).as_str()) != (status, code) {
            wrong.push(format!("{what}: {} {}", reply.status, reply.text));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected other answers:\n{}",
        wrong.join("\n")
    );
    assert_written(&stack, &[]).await;
    stack.stop().await;
}

/// A JSON create body of exactly `size` bytes (a long description).
fn body_of(size: usize) -> Vec<u8> {
    let mut body = br#"{"name": "Big", "description": ""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(br#""}"#);
    assert_eq!(body.len(), size);
    body
}

/// README: the API answers 413 `payload_too_large` above 1 MiB; API Gateway refuses above 10 MB
/// itself; between Lambda's 6 MB invoke limit and 10 MB API Gateway answers 413 `Request Too
/// Long` too (recorded: koki-develop/lgtm-generator#10, a REST API in front of Lambda answered a
/// request over Lambda's limit with `413 {"message": "Request Too Long"}`).
async fn bodies_over_each_limit_get_413_and_write_nothing(pattern: Pattern) {
    const MIB: usize = 1024 * 1024;
    let stack = TestStack::start(pattern).await;
    let json_type: Option<&[u8]> = Some(b"application/json");

    let at_the_limit = post_bytes(&stack, json_type, body_of(MIB)).await;
    // Read whole and judged on its fields: the description is far over 2,000 characters.
    assert_eq!(
        (at_the_limit.status, what_answered(&at_the_limit).as_str()),
        (422, "validation_failed"),
        "{}",
        at_the_limit.text
    );
    let over_the_api = post_bytes(&stack, json_type, body_of(MIB + 1)).await;
    assert_eq!(
        (over_the_api.status, what_answered(&over_the_api).as_str()),
        (413, "payload_too_large"),
        "{}",
        over_the_api.text
    );

    let request_too_long = json!({"message": "Request Too Long"});
    let over_lambda = post_bytes(&stack, json_type, body_of(7 * 1000 * 1000)).await;
    assert_eq!(
        (over_lambda.status, over_lambda.json()),
        (413, request_too_long.clone()),
        "7 MB"
    );
    let just_under_the_gateway = post_bytes(&stack, json_type, body_of(MAX_REQUEST_BYTES)).await;
    assert_eq!(
        (just_under_the_gateway.status, just_under_the_gateway.json()),
        (413, request_too_long.clone()),
        "10 MiB exactly"
    );
    // Bytes that are not UTF-8 travel base64-encoded in the event (a third more): 5 MB of them
    // are over Lambda's limit. Not verified against AWS, which passes such a body as text unless
    // the API lists binary media types: there the function would answer 413 itself.
    let mut binary = body_of(5 * 1000 * 1000);
    binary[40] = 0xff;
    let binary = post_bytes(&stack, json_type, binary).await;
    assert_eq!(binary.status, 413, "5 MB, not UTF-8: {}", binary.text);

    // Over 10 MiB without a Content-Length (chunked): refused by the gateway all the same.
    let token = stack.token("alice");
    let chunked = raw::send_chunked(
        stack.addr(),
        "POST",
        "/dev/api/v0/projects",
        &[
            ("Authorization", token.as_bytes()),
            ("Content-Type", b"application/json"),
        ],
        &body_of(MAX_REQUEST_BYTES + 1),
    )
    .await;
    assert_eq!(
        (
            chunked.status,
            serde_json::from_slice::<Value>(&chunked.body).ok()
        ),
        (413, Some(request_too_long)),
        "chunked, 10 MiB + 1"
    );

    assert_written(&stack, &[]).await;
    stack.stop().await;
}

async fn hostile_queries_are_refused(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    for name in ["Alpha", "Beta", "Gamma"] {
        let created = stack
            .post("/dev/api/v0/projects", Some(&token), &item(name))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
    }
    let created = stack
        .post("/dev/api/v0/technologies", Some(&token), &item("Rust"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let first_page = stack.get("/dev/api/v0/projects?limit=1").await;
    let next = first_page.json()["next_token"]
        .as_str()
        .expect("three items, one a page: a next page")
        .to_owned();
    let filtered = stack.get("/dev/api/v0/projects?limit=1&name=a").await;
    let filtered_next = filtered.json()["next_token"].as_str().unwrap().to_owned();

    let flipped = {
        let mut chars: Vec<char> = next.chars().collect();
        let middle = chars.len() / 2;
        chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let cut = next[..next.len() / 2].to_owned();
    let long = "A".repeat(4096);
    let mut cases: Vec<(String, u16, &str)> = Vec::new();
    for limit in [
        "0",
        "101",
        "-1",
        "ten",
        "1.5",
        "",
        "1e2",
        "%20%205",
        "18446744073709551616",
        "%00",
        "0x10",
        "%zz",
        "%",
    ] {
        cases.push((format!("projects?limit={limit}"), 422, "validation_failed"));
    }
    for token in [
        flipped.as_str(),
        cut.as_str(),
        &format!("{next}A"),
        "AAAA",
        long.as_str(),
        "%zz",
        "%ff%fe",
        "..%2F..%2F",
    ] {
        cases.push((
            format!("projects?next_token={token}"),
            400,
            "invalid_next_token",
        ));
    }
    cases.extend([
        // A token continues only the listing it came from.
        (
            format!("technologies?next_token={next}"),
            400,
            "invalid_next_token",
        ),
        (
            format!("projects?name=a&next_token={next}"),
            400,
            "invalid_next_token",
        ),
        (
            format!("projects?next_token={filtered_next}"),
            400,
            "invalid_next_token",
        ),
        ("projects?limit=1&limit=2".to_owned(), 400, "bad_request"),
    ]);
    let mut wrong = Vec::new();
    for (query, status, code) in &cases {
        let target = format!("/dev/api/v0/{query}");
        let reply = raw::send(stack.addr(), "GET", &target, &[], None).await;
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if (reply.status, body["code"].as_str().unwrap_or("")) != (*status, *code) {
            wrong.push(format!("GET {target}: {} {}", reply.status, reply.text()));
        }
    }
    // Not verified against AWS: bad percent-encoding in a filter is passed on as it decodes
    // (`%zz` as written, `%ff` as U+FFFD): a filter matching nothing, not an error.
    for target in [
        "/dev/api/v0/projects?name=%zz",
        "/dev/api/v0/projects?name=%",
        "/dev/api/v0/projects?name=%ff",
        "/dev/api/v0/projects?name=%00",
    ] {
        let reply = raw::send(stack.addr(), "GET", target, &[], None).await;
        let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        if (reply.status, &body["items"]) != (200, &json!([])) {
            wrong.push(format!("GET {target}: {} {}", reply.status, reply.text()));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected other answers:\n{}",
        wrong.join("\n")
    );
    assert_eq!(stack.names("projects").await, ["Alpha", "Beta", "Gamma"]);
    assert_eq!(stack.names("technologies").await, ["Rust"]);
    stack.stop().await;
}
