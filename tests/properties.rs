//! Invariants checked on generated input (proptest): what the parsers and verifiers at the edge
//! of the system accept, whatever they are given. A failing case is shrunk to its simplest form
//! and saved by proptest; the ones found are kept below as explicit regression cases.
//!
//! - a Cognito token with any one character changed is refused, unless it decodes to the very
//!   same bytes (base64url's last character can carry unused bits);
//! - a page cursor with any one character changed, cut short or made up is refused, unless it
//!   decodes to the same bytes;
//! - CIDRs print as they parse, and parsing anything never panics;
//! - the template reader takes any JSON without panicking;
//! - a token signed by the pool's own key is accepted only with the claims API Gateway requires;
//! - the REST event the local stack builds from a request reaches the function (lambda_http and
//!   `lambda_adapter::adapt`) with the method, path, query, headers, body, stage and caller sent;
//! - a function's response, serialized as lambda_http serializes it, reads back the same through
//!   the check the local stack makes as API Gateway, which refuses what API Gateway refuses and
//!   never panics;
//! - a platform report, text or JSON, reads back as it was written, and what the parser reads
//!   from any line has durations a measurement can use (finite, not negative).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use catalog::{Collection, CursorCodec, ListQuery};
use devstack::cognito::{Authorizer, LocalIssuer, TokenRequest, TrustedPool};
use devstack::proxy::{ProxyRequest, ProxyResponse};
use e2e::local_stack::{dev_config, issuer, rendered_template};
use platform_report::Report;
use proptest::prelude::*;
use serde_json::Value;
use stack::Pattern;

/// An issuer of the dev environment's first pool (its key in a temporary state directory) and an
/// authorizer that trusts it, made once for every case.
fn cognito() -> &'static (LocalIssuer, Authorizer, tokio::runtime::Runtime) {
    static COGNITO: OnceLock<(LocalIssuer, Authorizer, tokio::runtime::Runtime)> = OnceLock::new();
    COGNITO.get_or_init(|| {
        let state = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let pool = dev_config().user_pools[0].clone();
        let issuer = issuer(state.path(), &pool);
        let authorizer = Authorizer::new([TrustedPool::local(&issuer)]).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (issuer, authorizer, runtime)
    })
}

/// The bytes a JWT's three parts decode to (`None` when a part is not base64url).
fn decoded(token: &str) -> Option<Vec<Vec<u8>>> {
    token
        .split('.')
        .map(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .collect()
}

fn accepted(token: &str) -> bool {
    let (_, authorizer, runtime) = cognito();
    runtime
        .block_on(authorizer.authorize(Some(token), &[]))
        .is_ok()
}

/// `text` with the character at `index` (modulo its length) replaced by `replacement`.
fn with_char_replaced(text: &str, index: usize, replacement: char) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let index = index % chars.len();
    chars[index] = replacement;
    chars.into_iter().collect()
}

/// Characters a mutation draws from: base64url's alphabet, the JWT separator, and a few others.
fn mutation_char() -> impl Strategy<Value = char> {
    prop::sample::select(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %é"
            .chars()
            .collect::<Vec<_>>(),
    )
}

const CODEC: CursorCodec = CursorCodec::new("sqlite");

/// Walks down `path` (an index into each object's or array's members, as deep as it goes) and
/// replaces what is there.
fn replace_at(node: &mut Value, path: &[prop::sample::Index], replacement: Value) {
    if let Some((step, rest)) = path.split_first() {
        match node {
            Value::Object(map) if !map.is_empty() => {
                let key = map.keys().nth(step.index(map.len())).unwrap().clone();
                return replace_at(map.get_mut(&key).unwrap(), rest, replacement);
            }
            Value::Array(items) if !items.is_empty() => {
                let index = step.index(items.len());
                return replace_at(&mut items[index], rest, replacement);
            }
            _ => {}
        }
    }
    *node = replacement;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_changed_token_is_refused(index in any::<usize>(), replacement in mutation_char()) {
        let (issuer, _, _) = cognito();
        let token = issuer.mint_id_token(TokenRequest::new("alice"));
        prop_assume!(accepted(&token));
        let changed = with_char_replaced(&token, index, replacement);
        if changed != token && accepted(&changed) {
            prop_assert_eq!(decoded(&changed), decoded(&token), "{} was accepted", changed);
        }
    }

    #[test]
    fn made_up_tokens_are_refused(token in "\\PC{0,300}") {
        prop_assert!(!accepted(&token));
    }

    #[test]
    fn a_changed_cursor_is_refused(
        position in "[a-zA-Z0-9 ]{1,40}",
        index in any::<usize>(),
        replacement in mutation_char(),
    ) {
        let query = ListQuery::default();
        let cursor = CODEC.encode(Collection::Projects, &query, &position);
        let token = cursor.as_token().to_owned();
        let changed = with_char_replaced(&token, index, replacement);
        let read = CODEC.decode(
            &catalog::Cursor::from_token(changed.clone()),
            Collection::Projects,
            &query,
        );
        if changed != token && let Ok(read) = read {
            prop_assert_eq!(
                URL_SAFE_NO_PAD.decode(&changed).ok(),
                URL_SAFE_NO_PAD.decode(&token).ok(),
                "{} read as {:?}", changed, read
            );
        }
        // Cut short, it is refused too.
        let cut = &token[..token.len() / 2];
        let read = CODEC.decode(&catalog::Cursor::from_token(cut), Collection::Projects, &query);
        prop_assert!(read.is_err());
    }

    #[test]
    fn made_up_cursors_are_refused(token in "\\PC{0,200}") {
        let read = CODEC.decode(
            &catalog::Cursor::from_token(token),
            Collection::Technologies,
            &ListQuery::default(),
        );
        prop_assert!(read.is_err());
    }

    #[test]
    fn cidrs_print_as_they_parse(bits in any::<u128>(), v4 in any::<bool>(), prefix in 1u8..=128) {
        let (network, prefix) = if v4 {
            (std::net::IpAddr::from(std::net::Ipv4Addr::from(bits as u32)), prefix.min(32))
        } else {
            (std::net::IpAddr::from(std::net::Ipv6Addr::from(bits)), prefix)
        };
        // Host bits cleared, as a network must be written.
        let cidr = match network {
            std::net::IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                waf::Cidr::new(std::net::Ipv4Addr::from(u32::from(a) & mask).into(), prefix)
            }
            std::net::IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                waf::Cidr::new(std::net::Ipv6Addr::from(u128::from(a) & mask).into(), prefix)
            }
        };
        // Some networks are refused on purpose (IPv4-mapped IPv6 ranges): those need not print.
        if let Ok(cidr) = cidr {
            let printed = cidr.to_string();
            prop_assert_eq!(printed.parse::<waf::Cidr>().ok(), Some(cidr));
            prop_assert!(cidr.contains(cidr.network()));
        }
    }

    #[test]
    fn parsing_anything_as_a_cidr_never_panics(text in "\\PC{0,60}") {
        let _ = text.parse::<waf::Cidr>();
    }

    #[test]
    fn the_template_reader_takes_any_change_without_panicking(
        path in prop::collection::vec(any::<prop::sample::Index>(), 1..6),
        replacement in prop_oneof![
            Just(Value::Null),
            Just(Value::from("")),
            Just(Value::from(7)),
            Just(serde_json::json!({"Ref": "Nowhere"})),
            Just(serde_json::json!({"Fn::GetAtt": ["Api"]})),
            Just(serde_json::json!([])),
        ],
    ) {
        let mut template = rendered_template(Pattern::Fat, &dev_config());
        replace_at(&mut template, &path, replacement);
        let _ = stack::ApiTemplate::read(&template);
    }
}

// ----- the token verifier: what a correctly signed token must still satisfy -----

/// A claim value of any JSON type, or absent.
fn claim(values: Vec<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![Just(None), prop::sample::select(values).prop_map(Some)]
}

/// Seconds from now, never within two seconds of a limit the authorizer draws (`exp` + 5 s,
/// `iat` - 300 s, `nbf` - 5 s), so the second ticking between signing and checking changes nothing.
fn seconds_from_now(max: i64) -> impl Strategy<Value = Option<i64>> {
    prop_oneof![Just(None), (-max..max).prop_map(|tens| Some(tens * 10 + 3))]
}

/// Whether API Gateway takes a token with these claims for a method without scopes: the pool's
/// `iss`, `token_use` `id` for one of its app clients, unexpired, not issued in the future.
fn id_token_claims_valid(claims: &serde_json::Map<String, Value>, issuer: &LocalIssuer) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let clients = issuer.pool().client_ids();
    text("iss") == Some(issuer.pool().issuer().as_str())
        && text("token_use") == Some("id")
        && (clients.is_empty() || text("aud").is_some_and(|aud| clients.iter().any(|c| c == aud)))
        && number("exp").is_some_and(|exp| now < exp + devstack::cognito::EXP_LEEWAY.as_secs_f64())
        && number("iat")
            .is_some_and(|iat| iat <= now + devstack::cognito::IAT_MAX_AHEAD.as_secs_f64())
        && claims.get("nbf").is_none_or(|nbf| {
            nbf.as_f64()
                .is_some_and(|nbf| nbf <= now + devstack::cognito::EXP_LEEWAY.as_secs_f64())
        })
}

// ----- the REST event, from the local stack's gateway to the function -----

/// A path after the stage as a client can send it: segments of URI path characters, percent
/// escapes (some not valid), doubled and trailing slashes.
fn sent_path() -> impl Strategy<Value = String> {
    "(/{1,2}([A-Za-z0-9._~!$&'()*+,;=:@-]{0,6}|%[0-9A-Fa-f]{2}|%zz|%){0,3}){1,5}/?"
}

/// A header as a client can send it (no hop-by-hop ones, which the gateway drops): its name
/// spelled in any case, a value of visible characters with spaces inside.
fn header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            "[A-Za-z][A-Za-z0-9-]{0,12}",
            prop::sample::select(vec![
                "Accept".to_owned(),
                "content-type".to_owned(),
                "Authorization".to_owned(),
                "X-Amzn-Trace-Id".to_owned(),
                "Cookie".to_owned(),
            ]),
        ]
        .prop_filter("hop-by-hop", |name| {
            !matches!(
                name.to_ascii_lowercase().as_str(),
                "connection"
                    | "content-length"
                    | "keep-alive"
                    | "te"
                    | "transfer-encoding"
                    | "upgrade"
                    | "host"
            )
        }),
        "([!-~]([ -~]{0,16}[!-~])?)?",
    )
}

/// Bytes decoded as API Gateway decodes a query and as axum's `Query` reads one (`+` is a space).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect();
    pairs.sort();
    pairs
}

fn percent_decoded(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

/// The request the function's router gets for the event the stack made of `request`.
fn delivered(request: &ProxyRequest) -> lambda_http::Request {
    let event = request.to_event().to_string();
    let parsed = lambda_http::request::from_str(&event)
        .unwrap_or_else(|e| panic!("lambda_http refused the stack's event ({e}): {event}"));
    lambda_adapter::adapt(parsed)
}

// ----- the response, from the function back to the local stack's gateway -----

/// A function's answer: status, headers, and a body (text `Ok`, binary `Err`) or none.
type FunctionResponse = (u16, Vec<(String, String)>, Option<Result<String, Vec<u8>>>);

/// What a function answers: a status, headers (a name may repeat), and a body, text or binary.
fn function_response() -> impl Strategy<Value = FunctionResponse> {
    (
        100u16..=599,
        prop::collection::vec(
            ("[a-z][a-z0-9-]{0,10}", "([!-~]([ -~]{0,16}[!-~])?)?"),
            0..5,
        ),
        prop_oneof![
            Just(None),
            "\\PC{0,40}".prop_map(|text| Some(Ok(text))),
            prop::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| Some(Err(bytes))),
        ],
    )
}

/// Any JSON, a few levels deep, with the keys a proxy response has among others.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        (0u16..1000).prop_map(|n| Value::from(n.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "statusCode",
                        "headers",
                        "multiValueHeaders",
                        "body",
                        "isBase64Encoded",
                        "x",
                    ]),
                    inner,
                ),
                0..6,
            )
            .prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(key, value)| (key.to_owned(), value))
                        .collect(),
                )
            }),
        ]
    })
}

// ----- the platform report -----

/// A report as Lambda writes one: an id without spaces, durations in hundredths of a
/// millisecond (as the text form prints them), whole megabytes and billed milliseconds.
fn lambda_report() -> impl Strategy<Value = Report> {
    (
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        0u64..100_000_000,
        prop::option::of(0u64..10_000_000),
        prop::option::of(128u32..10_241),
        prop::option::of(1u32..10_241),
        prop::option::of(0u64..10_000_000),
        prop::option::of(prop::sample::select(vec!["timeout", "error"])),
        prop::option::of("Runtime\\.[A-Za-z]{1,20}"),
    )
        .prop_map(
            |(id, hundredths, billed, size, used, init, status, error_type)| Report {
                request_id: id,
                duration_ms: hundredths as f64 / 100.0,
                billed_duration_ms: billed,
                memory_size_mb: size,
                max_memory_used_mb: used,
                init_duration_ms: init.map(|h| h as f64 / 100.0),
                status: status.map(str::to_owned),
                error_type,
            },
        )
}

/// Numbers as a damaged or forged log line may spell them.
fn odd_number() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        Just("-inf".to_owned()),
        Just("infinity".to_owned()),
        Just("1e999".to_owned()),
        Just("-0".to_owned()),
        Just("+1.5".to_owned()),
        Just("18446744073709551616".to_owned()),
        any::<f64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "\\PC{0,6}",
    ]
}

fn durations_are_usable(report: &Report) -> bool {
    [Some(report.duration_ms), report.init_duration_ms]
        .into_iter()
        .flatten()
        .all(|ms| ms.is_finite() && ms >= 0.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_signed_token_is_accepted_only_with_valid_claims(
        iss in claim(vec![
            Value::from("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other1"),
            Value::from(7),
        ]),
        iss_is_the_pool in any::<bool>(),
        token_use in claim(vec![Value::from("id"), Value::from("access"), Value::from("ID"), Value::from(1)]),
        aud in claim(vec![Value::from("someone-else"), Value::from(vec!["x"]), Value::Null]),
        aud_is_a_client in any::<bool>(),
        exp_offset in seconds_from_now(10_000),
        exp_as_text in any::<bool>(),
        iat_offset in seconds_from_now(10_000),
        nbf_offset in seconds_from_now(100),
    ) {
        let (issuer, _, _) = cognito();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut claims = serde_json::Map::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                claims.insert(name.to_owned(), value);
            }
        };
        put("iss", if iss_is_the_pool { Some(issuer.pool().issuer().into()) } else { iss });
        put("token_use", token_use);
        put("aud", if aud_is_a_client { Some(issuer.default_client_id().into()) } else { aud });
        put("exp", exp_offset.map(|o| {
            if exp_as_text { Value::from((now + o).to_string()) } else { Value::from(now + o) }
        }));
        put("iat", iat_offset.map(|o| Value::from(now + o)));
        put("nbf", nbf_offset.map(|o| Value::from(now + o)));
        put("sub", Some("1b2c".into()));
        let token = issuer.sign(&claims);
        prop_assert_eq!(
            accepted(&token),
            id_token_claims_valid(&claims, issuer),
            "claims {:?}", claims
        );
    }

    #[test]
    fn the_function_gets_the_request_the_gateway_got(
        method in prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
        stage in prop::sample::select(vec!["dev", "prod", "v1"]),
        path in sent_path(),
        query in prop::collection::vec(("\\PC{0,8}", "\\PC{0,8}"), 0..4),
        headers in prop::collection::vec(header(), 0..5),
        body in prop::option::of(prop_oneof![
            "\\PC{0,40}".prop_map(String::into_bytes),
            prop::collection::vec(any::<u8>(), 0..40),
        ]),
        claims in prop::option::of(("[a-z0-9-]{1,12}", prop::option::of("[a-z]{1,8}"))),
    ) {
        let mut request = ProxyRequest::new(method, stage, &path);
        for (name, value) in &query {
            request = request.query(name, value);
        }
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        if let Some(body) = &body {
            request = request.body(body.clone());
        }
        if let Some((sub, username)) = &claims {
            let mut map = serde_json::Map::new();
            map.insert("sub".into(), sub.as_str().into());
            if let Some(username) = username {
                map.insert("cognito:username".into(), username.as_str().into());
            }
            request = request.claims(map);
        }
        let got = delivered(&request);

        prop_assert_eq!(got.method().as_str(), method);
        // The route is matched on the event's path, whatever was escaped on the way.
        prop_assert_eq!(percent_decoded(got.uri().path()), percent_decoded(&request.path));
        prop_assert!(got.uri().path().starts_with('/'));
        let mut sent_query: Vec<(String, String)> = query.clone();
        sent_query.sort();
        prop_assert_eq!(form_pairs(got.uri().query().unwrap_or_default()), sent_query);
        // A header sent once arrives as sent; of a name sent more than once (in any case), one of
        // its values arrives. lambda_http lays the event's single-valued `headers` over
        // `multiValueHeaders`, so the function never sees a repeated header's other values, in
        // AWS as here (found here: a second `Cookie` replaced the first); nothing the API reads is
        // sent twice.
        for (name, value) in &headers {
            let sent: Vec<&String> = headers
                .iter()
                .filter(|(other, _)| other.eq_ignore_ascii_case(name))
                .map(|(_, value)| value)
                .collect();
            let arrived: Vec<&[u8]> =
                got.headers().get_all(name.as_str()).iter().map(|v| v.as_bytes()).collect();
            if sent.len() == 1 {
                prop_assert!(arrived.contains(&value.as_bytes()), "{}: {} was lost", name, value);
            } else {
                prop_assert!(
                    sent.iter().any(|value| arrived.contains(&value.as_bytes())),
                    "every value of {} was lost", name
                );
            }
        }
        let received: &[u8] = got.body().as_ref();
        prop_assert_eq!(received, body.as_deref().unwrap_or_default());
        prop_assert_eq!(
            got.extensions().get::<api::BasePath>().map(|base| base.0.clone()),
            Some(format!("/{stage}"))
        );
        let caller = got.extensions().get::<api::Caller>();
        match &claims {
            None => prop_assert!(caller.is_none()),
            Some((sub, username)) => {
                let caller = caller.expect("the claims make a caller");
                prop_assert_eq!(&caller.subject, sub);
                prop_assert_eq!(&caller.username, username.as_ref().unwrap_or(sub));
            }
        }
    }

    #[test]
    fn any_event_path_is_routed_as_itself_never_with_the_stage(
        path in prop_oneof!["/\\PC{0,24}", "\\PC{1,24}", "/dev/[a-z/]{0,8}"],
    ) {
        // API Gateway's paths start with `/`; a function invoked directly may get anything.
        let mut request = ProxyRequest::new("GET", "dev", "/");
        request.path = path.clone();
        let got = delivered(&request);
        let expected = if path.starts_with('/') { path.clone() } else { format!("/{path}") };
        prop_assert_eq!(percent_decoded(got.uri().path()), expected.into_bytes());
    }

    #[test]
    fn a_function_response_reads_back_as_it_was_sent((status, headers, body) in function_response()) {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyResponse;
        // As lambda_http serializes what the router returned (crates/lambda-adapter).
        let mut sent = ApiGatewayProxyResponse::default();
        sent.status_code = i64::from(status);
        for (name, value) in &headers {
            sent.multi_value_headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_str(value).unwrap(),
            );
        }
        let bytes = match &body {
            None => Vec::new(),
            Some(Ok(text)) => text.clone().into_bytes(),
            Some(Err(binary)) => binary.clone(),
        };
        sent.is_base64_encoded = matches!(body, Some(Err(_)));
        sent.body = body.map(|body| match body {
            Ok(text) => lambda_http::Body::Text(text),
            Err(binary) => lambda_http::Body::Binary(binary),
        });
        let payload = serde_json::to_value(&sent).unwrap();

        let read = ProxyResponse::from_payload(&payload);
        prop_assert!(read.is_ok(), "{} refused: {:?}", payload, read);
        let read = read.unwrap();
        prop_assert_eq!(read.status, status);
        prop_assert_eq!(read.body, bytes);
        let mut read_headers = read.headers.clone();
        read_headers.sort();
        let mut sent_headers = headers.clone();
        sent_headers.sort();
        prop_assert_eq!(read_headers, sent_headers);
    }

    #[test]
    fn the_gateway_reads_any_result_without_panicking_and_only_real_statuses(payload in any_json()) {
        if let Ok(read) = ProxyResponse::from_payload(&payload) {
            prop_assert!((100..=599).contains(&read.status), "{}", payload);
            prop_assert!(payload.get("statusCode").is_some());
            // A body that is not a string, or headers that are not objects, are 502s in AWS.
            prop_assert!(matches!(payload.get("body"), None | Some(Value::Null | Value::String(_))));
            for field in ["headers", "multiValueHeaders"] {
                prop_assert!(
                    matches!(payload.get(field), None | Some(Value::Null | Value::Object(_))),
                    "{}", payload
                );
            }
        }
    }

    #[test]
    fn a_status_outside_http_is_refused(status in prop_oneof![
        (-1000i64..100).prop_map(Value::from),
        (600i64..100_000).prop_map(Value::from),
        (100u16..600).prop_map(|s| Value::from(f64::from(s) + 0.5)),
        Just(Value::Null),
        Just(Value::from(true)),
        Just(Value::from("two hundred")),
    ]) {
        let payload = serde_json::json!({"statusCode": status, "body": "x"});
        prop_assert!(ProxyResponse::from_payload(&payload).is_err(), "{}", payload);
    }

    #[test]
    fn a_text_report_reads_back_as_written(report in lambda_report(), prefix in "[^{R\\n]{0,30}") {
        let line = format!("{prefix}{report}");
        prop_assert_eq!(Report::parse(&line), Ok(report.clone()));
        // Some viewers turn the tabs into spaces.
        prop_assert_eq!(Report::parse(&line.replace('\t', " ")), Ok(report));
    }

    #[test]
    fn both_forms_of_a_report_read_the_same(report in lambda_report(), time in "[0-9TZ:.-]{0,24}") {
        let json = report.to_json_line(&time);
        prop_assert_eq!(Report::parse(&json), Ok(report.clone()));
        prop_assert_eq!(Report::parse(&json), Report::parse(&report.to_string()));
    }

    #[test]
    fn reports_are_found_among_other_lines(
        reports in prop::collection::vec((lambda_report(), any::<bool>()), 0..5),
        noise in prop::collection::vec("[^\\n]{0,40}", 0..5),
    ) {
        let mut lines = Vec::new();
        for (index, (report, as_json)) in reports.iter().enumerate() {
            if let Some(other) = noise.get(index).filter(|l| !l.contains("REPORT") && !l.contains("platform.report")) {
                lines.push(other.clone());
            }
            lines.push(if *as_json { report.to_json_line("t") } else { report.to_string() });
        }
        let found = platform_report::reports_in(&lines.join("\n"));
        let expected: Vec<Report> = reports.into_iter().map(|(report, _)| report).collect();
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn what_a_report_line_says_is_a_usable_duration_or_an_error(
        id in "[^\\s]{1,12}",
        duration in odd_number(),
        init in prop::option::of(odd_number()),
        as_json in any::<bool>(),
    ) {
        let line = if as_json {
            let init = init.map(|n| format!(",\"initDurationMs\":{n}")).unwrap_or_default();
            format!(r#"{{"type":"platform.report","record":{{"requestId":"{id}","metrics":{{"durationMs":{duration}{init}}}}}}}"#)
        } else {
            let init = init.map(|n| format!("\tInit Duration: {n} ms")).unwrap_or_default();
            format!("REPORT RequestId: {id}\tDuration: {duration} ms{init}")
        };
        if let Ok(report) = Report::parse(&line) {
            prop_assert!(durations_are_usable(&report), "{} read as {:?}", line, report);
        }
    }

    #[test]
    fn any_line_is_read_without_panicking(line in "\\PC{0,80}", marker in prop::sample::select(vec![
        "", "REPORT RequestId:", "{\"type\":\"platform.report\",", "Duration:", "{",
    ]), at in any::<prop::sample::Index>()) {
        let mut chars: Vec<char> = line.chars().collect();
        let at = at.index(chars.len() + 1);
        chars.splice(at..at, marker.chars());
        let line: String = chars.into_iter().collect();
        if let Ok(report) = Report::parse(&line) {
            prop_assert!(durations_are_usable(&report), "{} read as {:?}", line, report);
        }
    }
}
