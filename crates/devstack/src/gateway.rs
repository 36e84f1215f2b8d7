//! The local API Gateway (REST): WAF, stage, resource and method matching, the Cognito
//! authorizer, the Lambda proxy integration and the access log, in the order AWS applies them,
//! with AWS's own error bodies.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use serde_json::{Map, Value};
use stack::ApiTemplate;
use stack::template::{Authorization, WebAcl};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::access_log::AccessRecord;
use crate::cognito::{Authorizer, Claims};
use crate::log::{LogLine, LogSink, LogStream};
use crate::pool::{FunctionPool, PoolError};
use crate::proxy::{ProxyRequest, ProxyResponse};

/// API Gateway REST refuses payloads over 10 MB.
pub const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

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

/// A gateway-made error response, with AWS's body and `x-amzn-ErrorType`.
fn gateway_error(status: StatusCode, message: &str, error_type: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(
        serde_json::json!({ "message": message }).to_string(),
    ));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(error_type) {
        headers.insert("x-amzn-errortype", value);
    }
    response
}

fn missing_authentication_token() -> Response<Body> {
    gateway_error(
        StatusCode::FORBIDDEN,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    )
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

fn decode_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

impl Gateway {
    /// Serves one client request, as API Gateway would.
    pub async fn handle(&self, peer: SocketAddr, request: Request<Body>) -> Response<Body> {
        let started = Instant::now();
        let request_id = uuid::Uuid::new_v4().to_string();
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
                record
                    .set("waf.status", "403")
                    .set("error.message", "Forbidden");
                return gateway_error(StatusCode::FORBIDDEN, "Forbidden", "ForbiddenException");
            }
            record.set("waf.status", "200");
        }

        // The stage is the first segment; unknown stages answer like unknown paths.
        let stage_prefix = format!("/{}", self.template.stage);
        let api_path = match path.strip_prefix(&stage_prefix) {
            Some("") => "/".to_owned(),
            Some(rest) if rest.starts_with('/') => rest.to_owned(),
            _ => {
                record.set("error.message", "Missing Authentication Token");
                return missing_authentication_token();
            }
        };
        let method = request.method().as_str().to_owned();
        let Ok(matched) = self.template.match_request(&method, &api_path) else {
            record.set("error.message", "Missing Authentication Token");
            return missing_authentication_token();
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
                let verdict = match &self.authorizer {
                    Some(authorizer) => authorizer
                        .authorize_for(header, scopes, provider_arns)
                        .await
                        .map_err(|denied| denied.to_string()),
                    None => Err("no user pool is trusted".to_owned()),
                };
                match verdict {
                    Ok(claims) => Some(claims),
                    Err(reason) => {
                        self.notes.emit(LogLine::new(
                            "authorizer",
                            LogStream::Platform,
                            format!("{request_id} 401: {reason}"),
                        ));
                        record.set("error.message", "Unauthorized");
                        return gateway_error(
                            StatusCode::UNAUTHORIZED,
                            "Unauthorized",
                            "UnauthorizedException",
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
                record.set("error.message", "Request Too Long");
                return gateway_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Request Too Long",
                    "RequestTooLongException",
                );
            }
        };

        let mut event = ProxyRequest::new(&method, &self.template.stage, &api_path);
        event.resource = matched.resource.path.clone();
        event.path_parameters = matched.path_parameters.clone();
        event.query = parts.uri.query().map(decode_query).unwrap_or_default();
        event.headers = forwarded_headers(&parts.headers, peer);
        event.body = (!body.is_empty()).then(|| body.to_vec());
        event.source_ip = canonical(peer.ip()).to_string();
        event.claims = claims.as_ref().map(claims_as_strings);
        event.api_id = self.api_id.clone();
        event.request_id = request_id.to_owned();

        let Some(pool) = self.pools.get(&matched.method.function) else {
            record.set("error.message", "Internal server error");
            return gateway_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "InternalServerErrorException",
            );
        };
        // The invocation goes on if API Gateway stops waiting, as it does in Lambda.
        let invoked =
            tokio::time::timeout(INTEGRATION_TIMEOUT, pool.invoke(event.to_event())).await;
        let Ok(invoked) = invoked else {
            record.set("error.message", "Endpoint request timed out");
            return gateway_error(
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out",
                "IntegrationTimeoutException",
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
                    record.set("error.message", "Internal server error");
                    gateway_error(
                        StatusCode::BAD_GATEWAY,
                        "Internal server error",
                        "InternalServerErrorException",
                    )
                }
            },
            Err(PoolError::Throttled { .. }) => {
                record.set("error.message", "Too Many Requests");
                gateway_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests",
                    "TooManyRequestsException",
                )
            }
            Err(error) => {
                self.notes.emit(LogLine::new(
                    &pool.config().name,
                    LogStream::Platform,
                    format!("{request_id} 502: {error}"),
                ));
                record.set("error.message", "Internal server error");
                gateway_error(
                    StatusCode::BAD_GATEWAY,
                    "Internal server error",
                    "InternalServerErrorException",
                )
            }
        }
    }
}

/// The request's headers as the function sees them, with the `X-Forwarded-*` headers API
/// Gateway adds (set from the connection, never trusted from the client).
fn forwarded_headers(headers: &HeaderMap, peer: SocketAddr) -> Vec<(String, String)> {
    let mut forwarded: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !name.as_str().starts_with("x-forwarded-"))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    forwarded.push(("x-forwarded-for".into(), canonical(peer.ip()).to_string()));
    forwarded.push(("x-forwarded-proto".into(), "http".into()));
    forwarded
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
    fn queries_are_decoded() {
        assert_eq!(
            decode_query("name=C%23%20lang&limit=5&flag"),
            [
                ("name".into(), "C# lang".into()),
                ("limit".into(), "5".into()),
                ("flag".into(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
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
