//! JSON logs through tracing, one object per line, carrying the request id of the request span.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL`, which Lambda
/// sets from the function's `ApplicationLogLevel` (the template's, from the environment file),
/// else `RUST_LOG` (a process run by hand), else `info`; the lambda_runtime crate reads them in
/// the same order. The records carry `level`, by which Lambda filters them with JSON logging.
/// Safe to call twice (the second call does nothing).
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        // tracing has no FATAL; ERROR is the nearest it keeps.
        .map(|level| match level.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            level => level.to_owned(),
        })
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
