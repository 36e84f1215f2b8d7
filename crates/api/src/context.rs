//! What the hosting layer knows about a request, handed to handlers as extensions: the request
//! id, the path prefix the client used, and the authenticated caller.

use std::time::Instant;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

/// The response header that carries the request id.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Identifies one request in responses and every log line it causes. In Lambda it is API
/// Gateway's request id; on the plain server, the client's `x-request-id` or a new UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    fn from_header(value: &HeaderValue) -> Option<RequestId> {
        let text = value.to_str().ok()?;
        let acceptable = !text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
        acceptable.then(|| RequestId(text.to_owned()))
    }
}

/// The path prefix under which the client reached the API (`/dev` behind an API Gateway stage,
/// empty on the plain server). Links the API hands out start with it, so they keep the stage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BasePath(pub String);

impl BasePath {
    /// Joins an absolute API path (`/api/v0/...`) to the prefix.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0.trim_end_matches('/'))
    }
}

/// The caller an authorizer vouched for (Cognito ID token claims). Only the hosting layer inserts
/// it, from data the gateway verified; never from a request header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The `sub` claim: the user's stable id in its pool.
    pub subject: String,
    /// `cognito:username`, falling back to the subject.
    pub username: String,
    pub email: Option<String>,
    pub groups: Vec<String>,
}

/// Set by the hosting layer instead of a [`Caller`] when an authorizer accepted the request but
/// its claims name no user (no `sub`, no `cognito:username`): a write is then refused rather
/// than recorded without its author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnidentifiedCaller;

/// Request facts for handlers, gathered from extensions.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: RequestId,
    pub base_path: BasePath,
    pub caller: Option<Caller>,
    /// An authorizer vouched for the request without naming a user ([`UnidentifiedCaller`]).
    pub unidentified_caller: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestContext {
            request_id: parts
                .extensions
                .get::<RequestId>()
                .cloned()
                .unwrap_or_else(|| RequestId(String::new())),
            base_path: parts
                .extensions
                .get::<BasePath>()
                .cloned()
                .unwrap_or_default(),
            caller: parts.extensions.get::<Caller>().cloned(),
            unidentified_caller: parts.extensions.get::<UnidentifiedCaller>().is_some(),
        })
    }
}

/// Gives every request an id, runs it inside a span carrying that id (so every log line of the
/// request has it), logs its outcome, and returns the id in `x-request-id`.
pub async fn track_request(mut request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .or_else(|| {
            request
                .headers()
                .get(&REQUEST_ID_HEADER)
                .and_then(RequestId::from_header)
        })
        .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string()));
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id.0,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, duration_ms, "request failed");
        } else {
            tracing::info!(status, duration_ms, "request finished");
        }
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_path_joins_without_double_slashes() {
        assert_eq!(
            BasePath("/dev".into()).join("/api/v0/projects"),
            "/dev/api/v0/projects"
        );
        assert_eq!(BasePath("/dev/".into()).join("/api/v0"), "/dev/api/v0");
        assert_eq!(BasePath::default().join("/api/v0"), "/api/v0");
    }

    #[test]
    fn only_plain_request_ids_are_taken_from_clients() {
        assert!(RequestId::from_header(&HeaderValue::from_static("abc-123_x.y:z")).is_some());
        assert!(RequestId::from_header(&HeaderValue::from_static("with space")).is_none());
        assert!(RequestId::from_header(&HeaderValue::from_static("")).is_none());
        let long = "a".repeat(129);
        assert!(RequestId::from_header(&HeaderValue::from_str(&long).unwrap()).is_none());
    }
}
