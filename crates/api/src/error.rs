//! The API's errors and how each becomes a JSON response with the right status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use catalog::{FieldError, RepositoryError, ValidationError};
use serde::Serialize;

/// Everything a request can fail with. Bad input is always a 4xx naming what to fix; the only 5xx
/// are the store's: unavailable for a moment (503, retry), or set up wrongly (500, do not retry).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("no route for {method} {path}; the routes are listed in openapi.json")]
    NoRoute { method: String, path: String },
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Validation(#[from] ValidationError),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("send the body as JSON with the header Content-Type: application/json (got {0})")]
    UnsupportedContentType(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error(
        "next_token cannot be used: {0}; pass the next_token of the previous page as it came, or list again without one"
    )]
    InvalidNextToken(String),
    #[error("{0}")]
    Unavailable(String),
    /// An authorizer accepted the request's token, but its claims name no user.
    #[error(
        "the token was accepted but names no user (neither sub nor cognito:username), so the write could not be recorded with its author; use an ID token of the user pool"
    )]
    UnidentifiedCaller,
    /// The detail stays in the log: it names tables, files and permissions, and the client can do
    /// nothing about it.
    #[error(
        "the store is not set up correctly, so retrying will not help until it is fixed; the log line of this request (x-request-id) says what is wrong"
    )]
    StoreMisconfigured { detail: String },
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fields: &'a [FieldError],
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) | ApiError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::UnidentifiedCaller => StatusCode::FORBIDDEN,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MalformedJson(_)
            | ApiError::UnsupportedContentType(_)
            | ApiError::BadRequest(_)
            | ApiError::InvalidNextToken(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StoreMisconfigured { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable, machine-readable name for the error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::NoRoute { .. } => "no_route",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::UnidentifiedCaller => "unidentified_caller",
            ApiError::Validation(_) => "validation_failed",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::UnsupportedContentType(_) => "unsupported_content_type",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::InvalidNextToken(_) => "invalid_next_token",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Unavailable(_) => "store_unavailable",
            ApiError::StoreMisconfigured { .. } => "store_misconfigured",
        }
    }

    /// Rejects one field with one problem.
    pub fn invalid_field(field: &str, problem: impl Into<String>) -> ApiError {
        let mut error = ValidationError::default();
        error.push(field, problem);
        ApiError::Validation(error)
    }
}

impl From<RepositoryError> for ApiError {
    fn from(error: RepositoryError) -> Self {
        match error {
            RepositoryError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            RepositoryError::Duplicate { .. } => ApiError::Conflict(error.to_string()),
            RepositoryError::BadCursor(reason) => ApiError::InvalidNextToken(reason.to_string()),
            RepositoryError::Retryable(_) => ApiError::Unavailable(error.to_string()),
            RepositoryError::Misconfigured { what } => {
                ApiError::StoreMisconfigured { detail: what }
            }
        }
    }
}

impl ApiError {
    /// A response with this error's status and headers around `body`, after logging what the
    /// operator must see. Every error response is made here, the health check's included.
    pub(crate) fn response_with(&self, body: impl Serialize) -> Response {
        match self {
            ApiError::StoreMisconfigured { detail } => {
                tracing::error!(detail, "store misconfigured: {detail}");
            }
            ApiError::Unavailable(reason) => {
                tracing::warn!(reason, "store unavailable; the client was told to retry");
            }
            _ => {}
        }
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unavailable(_)) {
            // Store outages here are short (a lock, a throttled burst): invite a prompt retry.
            // A misconfiguration gets no such invitation: retries would only add load.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let fields = match &self {
            ApiError::Validation(validation) => validation.fields.as_slice(),
            _ => &[],
        };
        self.response_with(ErrorBody {
            code: self.code(),
            message: self.to_string(),
            fields,
        })
    }
}
