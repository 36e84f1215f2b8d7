//! Serves an api router through `lambda_http` for API Gateway REST (v1) proxy events.
//!
//! The one rule for paths: a route is matched against the event's `path`, which API Gateway sends
//! without the stage. lambda_http instead puts the stage in front unless
//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, and skips that when the path already starts with
//! the stage, so `/dev/dev/api/...` would lose one `/dev` and reach a route. Taking the event's
//! path as it is routes the same under either setting and strips the stage exactly once (by API
//! Gateway). The stage becomes the request's [`api::BasePath`], so links the API hands out keep it.

use api::{AppState, BasePath, Caller, CorsConfig, RequestId, UnidentifiedCaller};
use axum::Router;
use http::Uri;
use http::uri::PathAndQuery;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::Value;
use tower::ServiceExt;

/// Characters that cannot stand raw in a URI path: escaped, everything else kept as sent.
const NOT_IN_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'#')
    .add(b'?')
    .add(b'^')
    .add(b'|')
    .add(b'\\');

/// Runs a Lambda function that serves the router `build` makes. The store comes from
/// `STORE_URL`, CORS from `CORS_CREDENTIALED_ORIGINS`; a bad setting fails the init with a message
/// saying what to change. Opening the store is the init's only work beyond reading settings.
pub async fn run(build: fn(AppState) -> Router) -> Result<(), lambda_http::Error> {
    api::logging::init();
    let (repository, cors) = settings().await.map_err(|message| {
        tracing::error!("{message}");
        // The runtime prints an init error with `{:?}`: keep it the readable message.
        lambda_http::Error::from(message)
    })?;
    tracing::info!(store = %repository.describe(), "store chosen");
    let router = build(AppState::new(repository, cors));
    lambda_http::run(tower::service_fn(move |request: Request| {
        let router = router.clone();
        async move { router.oneshot(adapt(request)).await }
    }))
    .await
}

async fn settings() -> Result<(std::sync::Arc<dyn catalog::Repository>, CorsConfig), String> {
    let cors = CorsConfig::from_env().map_err(|e| e.to_string())?;
    let repository = store::open_from_env().await.map_err(|e| e.to_string())?;
    Ok((repository, cors))
}

/// Turns lambda_http's request into what the api expects: the route path from the event, and the
/// request id, base path and authorized caller as extensions.
pub fn adapt(mut request: Request) -> Request {
    let raw_path = request.raw_http_path().to_owned();
    if !raw_path.is_empty() {
        let path = utf8_percent_encode(&raw_path, NOT_IN_PATH).to_string();
        // API Gateway's paths start with `/`; an event invoked by other means need not, and a URI
        // path without one is refused below, which would leave lambda_http's stage-prefixed path.
        let path = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        let path_and_query = match request.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(path_and_query) = PathAndQuery::try_from(path_and_query) {
            *request.uri_mut() = Uri::from(path_and_query);
        }
    }
    if let Some(RequestContext::ApiGatewayV1(context)) = request.request_context_ref() {
        let request_id = context.request_id.clone().map(RequestId);
        let base_path = match context.stage.as_deref() {
            None | Some("") | Some("$default") => BasePath::default(),
            Some(stage) => BasePath(format!("/{stage}")),
        };
        let claims = context.authorizer.fields.get("claims");
        let caller = claims.and_then(caller_from_claims);
        let authorized = claims.is_some();
        let extensions = request.extensions_mut();
        if let Some(id) = request_id {
            extensions.insert(id);
        }
        extensions.insert(base_path);
        match (caller, authorized) {
            (Some(caller), _) => {
                extensions.insert(caller);
            }
            // Claims that name nobody: the request was authorized, but a write cannot say by whom.
            (None, true) => {
                extensions.insert(UnidentifiedCaller);
            }
            (None, false) => {}
        }
    }
    request
}

/// Reads the caller from the claims a Cognito User Pools authorizer put in the event. API Gateway
/// (REST) passes every claim as a string; `cognito:groups` arrives as "a,b" or "[a b]".
fn caller_from_claims(claims: &Value) -> Option<Caller> {
    let text = |key: &str| {
        claims
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    // Whichever of the two the token has: a Cognito ID token carries both, but a write must
    // never be recorded without its author because one is missing.
    let username = text("cognito:username").or_else(|| text("username"));
    let subject = text("sub").or_else(|| username.clone())?;
    let groups = match claims.get("cognito:groups") {
        Some(Value::Array(groups)) => groups
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(groups)) => groups
            .trim_matches(|c| c == '[' || c == ']')
            .split([',', ' '])
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(Caller {
        username: username.unwrap_or_else(|| subject.clone()),
        email: text("email"),
        subject,
        groups,
    })
}

#[cfg(test)]
mod tests;
