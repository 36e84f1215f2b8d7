//! The local API Gateway (REST): WAF, stage, resource and method matching, the Cognito
//! authorizer, the Lambda proxy integration and the access log, in the order AWS applies them,
//! with AWS's own error bodies. What it answers and what it hands the function are held to AWS's
//! recorded answers by tests/gateway_conformance.rs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value};
use stack::ApiTemplate;
use stack::matching::path_under_stage;
use stack::template::{Authorization, HeaderValueSource, WebAcl};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::access_log::AccessRecord;
use crate::cognito::{Authorizer, Claims, Denied};
use crate::connection::{LocalAddr, SpelledHeaderNames};
use crate::log::{LogLine, LogSink, LogStream};
use crate::pool::{FunctionPool, PoolError};
use crate::proxy::{ProxyRequest, ProxyResponse};

/// API Gateway REST refuses payloads over 10 MB.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// API Gateway REST: "Total combined size of request line and header values: 10240 bytes"
/// (quotas for configuring and running a REST API).
pub const MAX_HEAD_BYTES: usize = 10240;

/// The WAF as configured in the template, over the allow-list files the `ip` command writes.
pub struct WafGate {
    pub acl: WebAcl,
    pub allow_list: waf::LocalAllowList,
    pub names: waf::IpSetNames,
}

impl WafGate {
    /// Evaluates the web ACL for a peer: the first rule whose IP set holds the address decides,
    /// else the default action. A set that cannot be read allows nobody (fail closed).
    fn allows(&self, peer: std::net::IpAddr, log: &LogSink) -> bool {
        let version = waf::IpVersion::of(canonical(peer));
        for rule in &self.acl.rules {
            if rule.ip_set != self.names.get(version) {
                continue;
            }
            match self.allow_list.allows(peer, OffsetDateTime::now_utc()) {
                Ok(true) => return rule.allow,
                Ok(false) => {}
                Err(error) => {
                    log.emit(LogLine::new(
                        "waf",
                        LogStream::Platform,
                        format!("WAF cannot read its IP set, blocking: {error}"),
                    ));
                    return false;
                }
            }
        }
        self.acl.default_allow
    }
}

/// `::ffff:a.b.c.d` is the IPv4 peer `a.b.c.d` (a dual-stack socket reports it so).
fn canonical(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

pub struct Gateway {
    pub template: ApiTemplate,
    pub api_id: String,
    /// Function pools by the function's logical id in the template.
    pub pools: BTreeMap<String, Arc<FunctionPool>>,
    pub authorizer: Option<Authorizer>,
    pub waf: Option<WafGate>,
    /// JWKS documents of local issuers, by pool id, served as Cognito serves them.
    pub jwks: BTreeMap<String, Value>,
    /// The stage's access log: one line per request, in the template's format.
    pub access_log: LogSink,
    /// The gateway's own notes: why a request was refused, what failed.
    pub notes: LogSink,
}

/// API Gateway stops waiting for an integration after 29 s (504), whatever the function's own
/// timeout; a function that times out sooner is a failed invocation (502).
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// The errors API Gateway makes itself: each with AWS's status, `{"message": ...}` body and
/// `x-amzn-ErrorType`, and the gateway response type that the template may shape it with
/// (API Gateway's developer guide, "Gateway response types").
#[derive(Debug, Clone, PartialEq)]
enum GatewayError {
    /// The web ACL blocked the request.
    WafFiltered,
    /// No method matches (an unknown stage included), and no `Authorization` header.
    MissingAuthenticationToken,
    /// No method matches, and the `Authorization` header is not a whole SigV4 signature.
    IncompleteSignature(String),
    /// The Cognito authorizer refused the token (or its absence).
    Unauthorized(&'static str),
    /// The payload is over API Gateway's 10 MB.
    RequestTooLarge,
    /// The event is over Lambda's 6 MB invoke limit: 413 `Request Too Long`, error type
    /// `BadRequestException` (recorded: koki-develop/lgtm-generator#10, a REST API in front of
    /// Lambda).
    EventTooLarge,
    /// The request line and header values are over [`MAX_HEAD_BYTES`]: 431 (recorded behind
    /// API Gateway, backbencher.dev; AWS's body and error type are not recorded).
    HeadTooLarge,
    /// A `Host` header that is no URI authority: 400, as RFC 9112 (3.2) has a server answer. In
    /// AWS the Host names the API, or the request never reaches it; passed on, such a Host makes
    /// lambda_http panic building the request URI, killing the function's environment (found by
    /// `cargo xtask fuzz`, rest_event). AWS's own answer is not recorded.
    BadHost,
    /// The function answered nothing within API Gateway's 29 s.
    IntegrationTimeout,
    /// Lambda refused the invocation (the function throttled, or missing): "If the Lambda API
    /// rejects the invocation request, API Gateway returns a 500 error code" (Lambda's developer
    /// guide, "Handling Lambda errors with an API Gateway API"); the throttle is an integration
    /// failure (AWS's answer on the API Gateway forum, thread 309901, quoted on Stack Overflow
    /// question 36363280).
    InvocationRejected,
    /// The function failed, or its result is not a proxy response: "If the function runs but
    /// returns an error, or returns a response in the wrong format, API Gateway returns a 502"
    /// (same guide). No documented type narrower than DEFAULT_5XX is known for it.
    FunctionFailed,
}

impl GatewayError {
    fn status(&self) -> StatusCode {
        match self {
            GatewayError::WafFiltered
            | GatewayError::MissingAuthenticationToken
            | GatewayError::IncompleteSignature(_) => StatusCode::FORBIDDEN,
            GatewayError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            GatewayError::RequestTooLarge | GatewayError::EventTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            GatewayError::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            GatewayError::BadHost => StatusCode::BAD_REQUEST,
            GatewayError::IntegrationTimeout => StatusCode::GATEWAY_TIMEOUT,
            GatewayError::InvocationRejected => StatusCode::INTERNAL_SERVER_ERROR,
            GatewayError::FunctionFailed => StatusCode::BAD_GATEWAY,
        }
    }

    fn message(&self) -> &str {
        match self {
            GatewayError::WafFiltered => "Forbidden",
            GatewayError::MissingAuthenticationToken => "Missing Authentication Token",
            GatewayError::IncompleteSignature(message) => message,
            GatewayError::Unauthorized(message) => message,
            GatewayError::RequestTooLarge | GatewayError::EventTooLarge => "Request Too Long",
            GatewayError::HeadTooLarge => "Request Header Fields Too Large",
            GatewayError::BadHost => "Bad Request",
            GatewayError::IntegrationTimeout => "Endpoint request timed out",
            GatewayError::InvocationRejected | GatewayError::FunctionFailed => {
                "Internal server error"
            }
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            GatewayError::WafFiltered => "ForbiddenException",
            GatewayError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            GatewayError::IncompleteSignature(_) => "IncompleteSignatureException",
            GatewayError::Unauthorized(_) => "UnauthorizedException",
            GatewayError::RequestTooLarge => "RequestTooLongException",
            GatewayError::EventTooLarge => "BadRequestException",
            GatewayError::HeadTooLarge => "RequestHeaderFieldsTooLargeException",
            GatewayError::BadHost => "BadRequestException",
            GatewayError::IntegrationTimeout => "IntegrationTimeoutException",
            GatewayError::InvocationRejected | GatewayError::FunctionFailed => {
                "InternalServerErrorException"
            }
        }
    }

    /// The gateway response type; `DEFAULT_4XX`/`DEFAULT_5XX` apply when the template has none
    /// of this type.
    fn response_type(&self) -> &'static str {
        match self {
            GatewayError::WafFiltered => "WAF_FILTERED",
            GatewayError::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            GatewayError::IncompleteSignature(_) => "INVALID_SIGNATURE",
            GatewayError::Unauthorized(_) => "UNAUTHORIZED",
            GatewayError::RequestTooLarge | GatewayError::EventTooLarge => "REQUEST_TOO_LARGE",
            GatewayError::HeadTooLarge | GatewayError::BadHost => "DEFAULT_4XX",
            GatewayError::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            GatewayError::InvocationRejected => "INTEGRATION_FAILURE",
            GatewayError::FunctionFailed => "DEFAULT_5XX",
        }
    }

    /// The error as API Gateway answers it, shaped by the template's gateway response for its
    /// type (`request` gives the values of `method.request.header.*` mappings), and noted in
    /// the access record.
    fn respond(
        self,
        template: &ApiTemplate,
        request: &HeaderMap,
        record: &mut AccessRecord,
    ) -> Response<Body> {
        record.set("error.message", self.message().to_owned());
        let mut response = Response::new(Body::from(
            serde_json::json!({ "message": self.message() }).to_string(),
        ));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(self.error_type()) {
            headers.insert("x-amzn-errortype", value);
        }
        let Some(shaped) = template.gateway_response(self.response_type(), self.status().as_u16())
        else {
            return response;
        };
        if let Some(status) = shaped
            .status_code
            .and_then(|s| StatusCode::from_u16(s).ok())
        {
            *response.status_mut() = status;
        }
        for (name, source) in &shaped.headers {
            let value = match source {
                HeaderValueSource::Static(text) => HeaderValue::from_str(text).ok(),
                HeaderValueSource::RequestHeader(header) => request.get(header.as_str()).cloned(),
            };
            if let (Ok(name), Some(value)) = (HeaderName::from_bytes(name.as_bytes()), value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// API Gateway's answer to a request no method matches (an unknown stage included). Without an
/// `Authorization` header it is 403 Missing Authentication Token. With one, API Gateway reads the
/// header as an AWS signature (SigV4) and answers 403 IncompleteSignatureException, saying what
/// the signature lacks: the messages are AWS's, quoted in the conformance suite's sources. A
/// header that looks like a whole signature would next have its signature checked; that is not
/// emulated, and it gets Missing Authentication Token.
fn no_method(headers: &HeaderMap) -> GatewayError {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let dated = headers.contains_key("x-amz-date") || headers.contains_key("date");
    match authorization.and_then(|a| incomplete_signature(a, dated)) {
        Some(message) => GatewayError::IncompleteSignature(message),
        None => GatewayError::MissingAuthenticationToken,
    }
}

/// What API Gateway says of an `Authorization` header read as a SigV4 signature
/// (`<algorithm> Credential=..., SignedHeaders=..., Signature=...`), or `None` when it has every
/// part. A part without `=` is named first (`'x' not a valid key=value pair (missing equal-sign)
/// in Authorization header: 'Bearer x'.`); otherwise every missing part is listed, then the header
/// (`... Authorization=<header>`).
fn incomplete_signature(authorization: &str, dated: bool) -> Option<String> {
    let pairs = authorization
        .split_once(' ')
        .map_or("", |(_algorithm, pairs)| pairs);
    let mut keys = Vec::new();
    for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, _value)) = pair.split_once('=') else {
            return Some(format!(
                "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
            ));
        };
        keys.push(key.trim());
    }
    let mut message = String::new();
    for required in ["Credential", "Signature", "SignedHeaders"] {
        if !keys.contains(&required) {
            message.push_str(&format!(
                "Authorization header requires '{required}' parameter. "
            ));
        }
    }
    if !dated {
        message.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    (!message.is_empty()).then(|| format!("{message}Authorization={authorization}"))
}

/// API Gateway hands claims to the function as strings: numbers as text, `exp`/`iat` as dates,
/// lists joined with commas.
fn claims_as_strings(claims: &Claims) -> Map<String, Value> {
    let date = format_description!(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]"
    );
    claims
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) if matches!(name.as_str(), "exp" | "iat") => n
                    .as_i64()
                    .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
                    .and_then(|t| t.format(&date).ok())
                    .unwrap_or_else(|| n.to_string()),
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            (name.clone(), Value::String(text))
        })
        .collect()
}

/// Query parameters as API Gateway puts them in the event: decoded as a form is, `+` as a space
/// and `%2B` as `+` (recorded: `plus=test+alias` arrives as `test alias`).
fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), form_decode(value))
        })
        .collect()
}

fn form_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl Gateway {
    /// Serves one client request, as API Gateway would.
    pub async fn handle(&self, peer: SocketAddr, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let request_id = crate::random_uuid().to_string();
        let mut record = AccessRecord::default();
        record
            .set("requestId", request_id.clone())
            .set("identity.sourceIp", canonical(peer.ip()).to_string())
            .set("requestTime", request_time())
            .set("httpMethod", request.method().as_str().to_owned())
            .set("protocol", format!("{:?}", request.version()));

        let mut response = self.pipeline(peer, request, &request_id, &mut record).await;

        response.headers_mut().insert(
            "x-amzn-requestid",
            HeaderValue::from_str(&request_id).expect("a UUID is a header value"),
        );
        record.set("status", response.status().as_u16().to_string());
        if let Some(length) = body_length(&response) {
            record.set("responseLength", length.to_string());
        }
        record.set("responseLatency", started.elapsed().as_millis().to_string());
        if let Some(format) = &self.template.access_log_format {
            self.access_log.emit(LogLine::new(
                "access",
                LogStream::Platform,
                record.render(format),
            ));
        }
        response
    }

    async fn pipeline(
        &self,
        peer: SocketAddr,
        request: Request<Body>,
        request_id: &str,
        record: &mut AccessRecord,
    ) -> Response<Body> {
        let path = request.uri().path().to_owned();

        // Cognito publishes each pool's keys at /<pool-id>/.well-known/jwks.json; so does this.
        if let Some(jwks) = path
            .strip_suffix("/.well-known/jwks.json")
            .and_then(|pool| self.jwks.get(pool.trim_start_matches('/')))
        {
            let mut response = Response::new(Body::from(jwks.to_string()));
            response
                .headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            return response;
        }

        if let Some(waf) = self.waf.as_ref().filter(|w| w.acl.protects_stage) {
            if !waf.allows(peer.ip(), &self.notes) {
                record.set("waf.status", "403");
                return GatewayError::WafFiltered.respond(
                    &self.template,
                    request.headers(),
                    record,
                );
            }
            record.set("waf.status", "200");
        }
        if head_size(&request) > MAX_HEAD_BYTES {
            return GatewayError::HeadTooLarge.respond(&self.template, request.headers(), record);
        }
        if !hosts_are_authorities(request.headers()) {
            return GatewayError::BadHost.respond(&self.template, request.headers(), record);
        }

        // The stage is the first segment; unknown stages answer like unknown paths.
        let Some(api_path) = path_under_stage(&path, &self.template.stage) else {
            return no_method(request.headers()).respond(&self.template, request.headers(), record);
        };
        let api_path = api_path.to_owned();
        let method = request.method().as_str().to_owned();
        let Ok(matched) = self.template.match_request(&method, &api_path) else {
            return no_method(request.headers()).respond(&self.template, request.headers(), record);
        };
        record.set("resourcePath", matched.resource.path.clone());

        let (parts, body) = request.into_parts();
        let claims = match &matched.method.authorization {
            Authorization::None => None,
            Authorization::CognitoUserPools {
                provider_arns,
                scopes,
            } => {
                let header = parts
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok());
                // Which of two Authorization headers API Gateway reads is not recorded: neither.
                let sent = parts.headers.get_all("authorization").iter().count();
                let verdict = match &self.authorizer {
                    _ if sent > 1 => Err((
                        Denied::UNAUTHORIZED,
                        format!("{sent} Authorization headers; one is needed"),
                    )),
                    Some(authorizer) => authorizer
                        .authorize_for(header, scopes, provider_arns)
                        .await
                        .map_err(|denied| (denied.message(), denied.to_string())),
                    None => Err((Denied::UNAUTHORIZED, "no user pool is trusted".to_owned())),
                };
                match verdict {
                    Ok(claims) => Some(claims),
                    Err((message, reason)) => {
                        self.notes.emit(LogLine::new(
                            "authorizer",
                            LogStream::Platform,
                            format!("{request_id} 401: {reason}"),
                        ));
                        return GatewayError::Unauthorized(message).respond(
                            &self.template,
                            &parts.headers,
                            record,
                        );
                    }
                }
            }
        };
        if let Some(username) = claims
            .as_ref()
            .and_then(|c| c.get("cognito:username"))
            .and_then(Value::as_str)
        {
            record.set("authorizer.claims.cognito:username", username.to_owned());
        }

        let body = match to_bytes(body, MAX_REQUEST_BYTES).await {
            Ok(body) => body,
            Err(_) => {
                return GatewayError::RequestTooLarge.respond(
                    &self.template,
                    &parts.headers,
                    record,
                );
            }
        };

        // `path` and `requestContext.path` as API Gateway makes them from the path sent.
        let mut event = ProxyRequest::new(&method, &self.template.stage, &api_path);
        event.resource = matched.resource.path.clone();
        event.path_parameters = matched.path_parameters.clone();
        event.query = parts.uri.query().map(decode_query).unwrap_or_default();
        event.headers = event_headers(
            &parts.headers,
            parts.extensions.get::<SpelledHeaderNames>(),
            peer,
            parts.extensions.get::<LocalAddr>(),
        );
        event.body = (!body.is_empty()).then(|| body.to_vec());
        event.source_ip = canonical(peer.ip()).to_string();
        event.claims = claims.as_ref().map(claims_as_strings);
        event.api_id = self.api_id.clone();
        event.request_id = request_id.to_owned();

        let Some(pool) = self.pools.get(&matched.method.function) else {
            return GatewayError::InvocationRejected.respond(
                &self.template,
                &parts.headers,
                record,
            );
        };
        // The invocation goes on if API Gateway stops waiting, as it does in Lambda.
        let invoked =
            tokio::time::timeout(INTEGRATION_TIMEOUT, pool.invoke(event.to_event())).await;
        let Ok(invoked) = invoked else {
            return GatewayError::IntegrationTimeout.respond(
                &self.template,
                &parts.headers,
                record,
            );
        };
        match invoked {
            Ok(invocation) => match ProxyResponse::from_payload(&invocation.response) {
                Ok(proxied) => to_http(proxied),
                Err(malformed) => {
                    self.notes.emit(LogLine::new(
                        &pool.config().name,
                        LogStream::Platform,
                        format!("{request_id} 502: {malformed}"),
                    ));
                    GatewayError::FunctionFailed.respond(&self.template, &parts.headers, record)
                }
            },
            Err(PoolError::Invoke(crate::InvokeError::RequestTooLarge { .. })) => {
                GatewayError::EventTooLarge.respond(&self.template, &parts.headers, record)
            }
            Err(throttled @ PoolError::Throttled { .. }) => {
                self.notes.emit(LogLine::new(
                    &pool.config().name,
                    LogStream::Platform,
                    format!("{request_id} 500: {throttled}"),
                ));
                GatewayError::InvocationRejected.respond(&self.template, &parts.headers, record)
            }
            Err(error) => {
                self.notes.emit(LogLine::new(
                    &pool.config().name,
                    LogStream::Platform,
                    format!("{request_id} 502: {error}"),
                ));
                GatewayError::FunctionFailed.respond(&self.template, &parts.headers, record)
            }
        }
    }
}

/// Whether every `Host` header is a host and optional port (RFC 9110's `uri-host [":" port]`, no
/// user info) that passes the test lambda_http makes of the event's Host, unwrapping: a URL
/// parsed, then taken as an `http::Uri`.
fn hosts_are_authorities(headers: &HeaderMap) -> bool {
    headers.get_all("host").iter().all(|host| {
        host.to_str().is_ok_and(|host| {
            !host.contains('@')
                && host.parse::<axum::http::uri::Authority>().is_ok()
                && reqwest::Url::parse(&format!("https://{host}/"))
                    .is_ok_and(|url| axum::http::Uri::try_from(url.as_str()).is_ok())
        })
    })
}

/// The request line and header values, counted as API Gateway's quota counts them.
fn head_size(request: &Request<Body>) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let line = request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len();
    line + request
        .headers()
        .values()
        .map(HeaderValue::len)
        .sum::<usize>()
}

/// Headers that describe one hop of the connection, not the request: API Gateway does not pass
/// them on (recorded: no `Connection` or `Content-Length` in the events; the rest are RFC 9110's
/// hop-by-hop headers).
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Names API Gateway spells its own way whatever the client sent (recorded: `authorization` and
/// `aUThorization` arrive as `Authorization`, `user-agent` as `User-Agent`, the host as `Host`).
const RESPELLED: [&str; 3] = ["Authorization", "Host", "User-Agent"];

/// The request's headers as the function sees them: names as the client spelled them (but
/// [`RESPELLED`]), hop-by-hop headers dropped, and the headers API Gateway adds, set from the
/// connection and never trusted from the client: `X-Forwarded-For`, `-Port` (the port the client
/// reached), `-Proto`, and an `X-Amzn-Trace-Id` unless the client sent one.
fn event_headers(
    headers: &HeaderMap,
    spelled: Option<&SpelledHeaderNames>,
    peer: SocketAddr,
    local: Option<&LocalAddr>,
) -> Vec<(String, String)> {
    let spelling = |name: &HeaderName| -> String {
        RESPELLED
            .iter()
            .find(|own| own.eq_ignore_ascii_case(name.as_str()))
            .map(|own| (*own).to_owned())
            .or_else(|| {
                spelled
                    .and_then(|s| s.spelling_of(name.as_str()))
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| name.as_str().to_owned())
    };
    let mut event: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            !name.as_str().starts_with("x-forwarded-") && !HOP_BY_HOP.contains(&name.as_str())
        })
        .filter_map(|(name, value)| Some((spelling(name), value.to_str().ok()?.to_owned())))
        .collect();
    event.push(("X-Forwarded-For".into(), canonical(peer.ip()).to_string()));
    if let Some(LocalAddr(local)) = local {
        event.push(("X-Forwarded-Port".into(), local.port().to_string()));
    }
    event.push(("X-Forwarded-Proto".into(), "http".into()));
    if !headers.contains_key("x-amzn-trace-id") {
        event.push(("X-Amzn-Trace-Id".into(), trace_id()));
    }
    event
}

/// A new X-Ray trace id, `Root=1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>`.
fn trace_id() -> String {
    let random = crate::random_uuid().simple().to_string();
    format!(
        "Root=1-{:08x}-{}",
        OffsetDateTime::now_utc().unix_timestamp(),
        &random[..24]
    )
}

fn to_http(proxied: ProxyResponse) -> Response<Body> {
    let mut response = Response::new(Body::from(proxied.body));
    *response.status_mut() =
        StatusCode::from_u16(proxied.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = response.headers_mut();
    for (name, value) in proxied.headers {
        // Framing is the gateway's business, not the function's.
        if matches!(
            name.to_ascii_lowercase().as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    response
}

fn body_length(response: &Response<Body>) -> Option<u64> {
    use http_body::Body as _;
    response.body().size_hint().exact()
}

fn request_time() -> String {
    let format =
        format_description!("[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000");
    OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_that_makes_no_uri_is_refused() {
        let headers = |hosts: &[&str]| {
            let mut map = HeaderMap::new();
            for host in hosts {
                map.append("host", HeaderValue::from_str(host).unwrap());
            }
            map
        };
        for good in [
            "127.0.0.1:3000",
            "localhost",
            "[::1]:3000",
            "abc123.execute-api.eu-west-1.amazonaws.com",
        ] {
            assert!(hosts_are_authorities(&headers(&[good])), "{good}");
        }
        assert!(hosts_are_authorities(&headers(&[])));
        // The first made lambda_http panic in `cargo xtask fuzz` (rest_event).
        for bad in [
            "abc123.exec}te-api.eu-west-1.amazonaws.com",
            "a b",
            "a:99999",
            "[::1",
            "a/b",
            "a@b",
            "",
        ] {
            assert!(!hosts_are_authorities(&headers(&[bad])), "{bad}");
            assert!(
                !hosts_are_authorities(&headers(&["localhost", bad])),
                "{bad}"
            );
        }
    }

    #[test]
    fn claims_reach_the_function_as_strings() {
        let claims: Claims = serde_json::from_value(serde_json::json!({
            "sub": "s", "cognito:groups": ["admin", "dev"], "exp": 1_800_000_000, "auth_time": 1_700_000_000, "email_verified": true
        }))
        .unwrap();
        let strings = claims_as_strings(&claims);
        assert_eq!(strings["cognito:groups"], "admin,dev");
        assert_eq!(strings["auth_time"], "1700000000");
        assert_eq!(strings["email_verified"], "true");
        assert_eq!(strings["exp"], "Fri Jan 15 08:00:00 UTC 2027");
    }

    #[test]
    fn queries_are_decoded_as_forms_are() {
        assert_eq!(
            decode_query("name=C%23%20lang&limit=5&flag&plus=a+b&encoded=a%2Bb"),
            [
                ("name".into(), "C# lang".into()),
                ("limit".into(), "5".into()),
                ("flag".into(), String::new()),
                ("plus".into(), "a b".into()),
                ("encoded".into(), "a+b".into()),
            ]
        );
        assert_eq!(form_decode("100%"), "100%");
        assert_eq!(form_decode("%zz"), "%zz");
    }

    #[test]
    fn an_authorization_header_is_read_as_a_signature() {
        assert_eq!(
            incomplete_signature("Bearer x", false).unwrap(),
            "'x' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer x'."
        );
        assert_eq!(
            incomplete_signature("eyJ.e30.sig", false).unwrap(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJ.e30.sig"
        );
        assert_eq!(
            incomplete_signature("AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host", true)
                .unwrap(),
            "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host"
        );
        assert_eq!(
            incomplete_signature(
                "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=host, Signature=00",
                true
            ),
            None
        );
    }

    #[test]
    fn event_headers_keep_the_spelling_sent_and_add_api_gateways_own() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("test-header", "aValUE"),
            ("authorization", "t"),
            ("connection", "keep-alive"),
            ("content-length", "2"),
            ("x-forwarded-for", "10.9.9.9"),
            ("accept", "*/*"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let spelled = SpelledHeaderNames(
            [
                "tEsT-HEADeR",
                "authorization",
                "Connection",
                "Content-Length",
            ]
            .map(str::to_owned)
            .to_vec(),
        );
        let peer: SocketAddr = "127.0.0.2:5000".parse().unwrap();
        let local = LocalAddr("127.0.0.1:3000".parse().unwrap());
        let event = event_headers(&headers, Some(&spelled), peer, Some(&local));
        let names: Vec<&str> = event.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..5],
            [
                "tEsT-HEADeR",
                "Authorization",
                "accept",
                "X-Forwarded-For",
                "X-Forwarded-Port"
            ]
        );
        let value = |name: &str| {
            event
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("X-Forwarded-For"), Some("127.0.0.2"));
        assert_eq!(value("X-Forwarded-Port"), Some("3000"));
        assert_eq!(value("X-Forwarded-Proto"), Some("http"));
        let trace = value("X-Amzn-Trace-Id").unwrap();
        assert!(trace.starts_with("Root=1-") && trace.len() == "Root=1-".len() + 8 + 1 + 24);
    }

    #[test]
    fn mapped_ipv4_peers_are_ipv4() {
        assert_eq!(
            canonical("::ffff:127.0.0.2".parse().unwrap()),
            "127.0.0.2".parse::<std::net::IpAddr>().unwrap()
        );
        assert_eq!(
            canonical("::1".parse().unwrap()),
            "::1".parse::<std::net::IpAddr>().unwrap()
        );
    }
}
