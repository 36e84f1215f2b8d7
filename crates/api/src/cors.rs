//! CORS: any origin may read, without credentials; only configured origins may send credentials.
//!
//! The FastAPI proof of concept answered `*` together with `allow_credentials`, which let any web
//! site make credentialed calls. Here credentials are granted per origin, from a setting.
//!
//! This is a small middleware rather than tower-http's `CorsLayer`, on purpose. The rule answers
//! `Access-Control-Allow-Origin: *` to every origin that is not listed and echoes the listed ones
//! with `Access-Control-Allow-Credentials: true`. `CorsLayer` cannot say both: with credentials
//! granted by a predicate, its origin setting must echo every origin too (`*` with credentials is
//! refused by browsers), so every answer would name its caller. The gateway's own errors, which
//! a gateway response can only give a fixed `*` (see the stack crate's `CORS_GATEWAY_RESPONSES`),
//! would then disagree with the functions' answers on the same URL, and caches would keep one
//! copy per origin of what is public.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Comma-separated origins (`https://app.example.com`) allowed to send credentials.
pub const CREDENTIALED_ORIGINS_VAR: &str = "CORS_CREDENTIALED_ORIGINS";

const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";
const ALLOWED_HEADERS: &str = "authorization, content-type, x-request-id";
const EXPOSED_HEADERS: &str = "location, x-request-id";

#[derive(Debug, Clone, Default)]
pub struct CorsConfig {
    credentialed_origins: Vec<HeaderValue>,
}

#[derive(Debug, thiserror::Error)]
pub enum CorsConfigError {
    #[error(
        "{CREDENTIALED_ORIGINS_VAR} entry {0:?} is not an origin: write scheme://host[:port] without a path, as in https://app.example.com"
    )]
    NotAnOrigin(String),
    #[error(
        "{CREDENTIALED_ORIGINS_VAR} must not contain \"*\": that would let any web site make credentialed calls"
    )]
    Wildcard,
}

impl CorsConfig {
    /// Origins allowed to send credentials; every entry must be a bare origin.
    pub fn with_credentialed_origins<I, S>(origins: I) -> Result<CorsConfig, CorsConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut credentialed_origins = Vec::new();
        for origin in origins {
            let origin = origin.as_ref().trim();
            if origin.is_empty() {
                continue;
            }
            if origin == "*" {
                return Err(CorsConfigError::Wildcard);
            }
            let (scheme, rest) = origin
                .split_once("://")
                .ok_or_else(|| CorsConfigError::NotAnOrigin(origin.into()))?;
            let well_formed = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', ' ', '*']);
            if !well_formed {
                return Err(CorsConfigError::NotAnOrigin(origin.into()));
            }
            let value = HeaderValue::from_str(origin)
                .map_err(|_| CorsConfigError::NotAnOrigin(origin.into()))?;
            credentialed_origins.push(value);
        }
        Ok(CorsConfig {
            credentialed_origins,
        })
    }

    /// Reads [`CREDENTIALED_ORIGINS_VAR`]; unset means no origin gets credentials.
    pub fn from_env() -> Result<CorsConfig, CorsConfigError> {
        let setting = std::env::var(CREDENTIALED_ORIGINS_VAR).unwrap_or_default();
        CorsConfig::with_credentialed_origins(setting.split(','))
    }

    fn allows_credentials(&self, origin: &HeaderValue) -> bool {
        self.credentialed_origins
            .iter()
            .any(|allowed| allowed == origin)
    }

    fn apply(&self, origin: &HeaderValue, headers: &mut HeaderMap) {
        if self.allows_credentials(origin) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        } else {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        }
        // The answer depends on the origin, so caches must key on it.
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}

/// Answers preflights and adds CORS headers to responses for cross-origin requests.
pub async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        return next.run(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        response
    } else {
        next.run(request).await
    };
    state.cors.apply(&origin, response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_with_a_helpful_error() {
        let ok = CorsConfig::with_credentialed_origins([
            "https://app.example.com",
            " http://localhost:5173 ",
            "",
        ])
        .unwrap();
        assert_eq!(ok.credentialed_origins.len(), 2);
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "ftp://x",
            "https://",
            "https://*.example.com",
        ] {
            let err = CorsConfig::with_credentialed_origins([bad]).unwrap_err();
            assert!(err.to_string().contains("scheme://host"), "{bad}: {err}");
        }
        let wildcard = CorsConfig::with_credentialed_origins(["*"]).unwrap_err();
        assert!(wildcard.to_string().contains("any web site"));
    }

    #[test]
    fn only_listed_origins_get_credentials() {
        let config = CorsConfig::with_credentialed_origins(["https://app.example.com"]).unwrap();
        let mut listed = HeaderMap::new();
        config.apply(
            &HeaderValue::from_static("https://app.example.com"),
            &mut listed,
        );
        assert_eq!(
            listed[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(listed[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");

        let mut other = HeaderMap::new();
        config.apply(
            &HeaderValue::from_static("https://evil.example"),
            &mut other,
        );
        assert_eq!(other[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!other.contains_key(header::ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }
}
