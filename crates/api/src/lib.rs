//! The catalog's HTTP API as axum routers, one per route group, all built from `routes::ROUTES`.
//!
//! The same routers serve a plain HTTP server (`catalog-serve`) and the Lambda functions; nothing
//! here knows of Lambda or the AWS SDK. Whatever the hosting layer knows about a request (its id,
//! the path prefix the client used, the authenticated caller) reaches handlers as
//! [`context`] extensions.

mod body;
mod collections;
pub mod context;
mod cors;
mod error;
pub mod logging;
mod meta;
pub mod openapi;
mod router;
pub mod single;
mod state;

pub use context::{BasePath, Caller, RequestId, UnidentifiedCaller};
pub use cors::CorsConfig;
pub use error::ApiError;
pub use router::{MAX_BODY_BYTES, lith, meta_group, projects, technologies};
pub use state::AppState;
