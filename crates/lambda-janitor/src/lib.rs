//! The janitor's handler: built once from the function's environment (the two IP sets and the
//! entries' table, as the template passes them), then, at each scheduled event, the same
//! [`waf::janitor`] the local stack runs on its timer, with the AWS backend.

use serde_json::{Value, json};
use time::OffsetDateTime;
use waf::AllowListBackend;
use waf_aws::{AwsBackend, IpSetRef};

/// The environment variables the template sets on the function.
pub const IPV4_SET_VAR: &str = "ALLOW_LIST_IPV4_SET";
pub const IPV6_SET_VAR: &str = "ALLOW_LIST_IPV6_SET";
pub const TABLE_VAR: &str = "ALLOW_LIST_TABLE";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set: the template passes it to the janitor function")]
    Missing(&'static str),
    #[error("{var}={value:?} is not an IP set's `Name|Id|Scope` (its CloudFormation Ref)")]
    BadSet { var: &'static str, value: String },
    #[error(transparent)]
    Name(#[from] waf::NameError),
}

fn var(name: &'static str) -> Result<String, ConfigError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(ConfigError::Missing(name))
}

fn set(name: &'static str) -> Result<IpSetRef, ConfigError> {
    let value = var(name)?;
    IpSetRef::from_physical_id(&value).ok_or(ConfigError::BadSet { var: name, value })
}

/// The backend described by the function's environment.
pub fn backend_from_env(session: &aws_session::Session) -> Result<AwsBackend, ConfigError> {
    Ok(AwsBackend::new(
        session,
        set(IPV4_SET_VAR)?,
        set(IPV6_SET_VAR)?,
        Some(var(TABLE_VAR)?),
    )?
    .with_caller("janitor"))
}

/// One run: the expired entries flushed, as the function's answer (and its log line).
pub async fn sweep(
    backend: &dyn AllowListBackend,
    now: OffsetDateTime,
) -> Result<Value, waf::BackendError> {
    let flushed = waf::janitor(backend, now).await?;
    let cidrs: Vec<String> = flushed.iter().map(|e| e.cidr.to_string()).collect();
    Ok(json!({"flushed": cidrs, "at": now.unix_timestamp()}))
}

/// The function: configuration at init (a bad one fails the init, and Lambda says so), then
/// one sweep per event.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    // Format and level from Lambda's AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL (the
    // template's LoggingConfig).
    lambda_runtime::tracing::init_default_subscriber();
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let session = aws_session::connect(&aws_session::Settings {
        profile: None,
        region,
    })
    .await?;
    let backend = backend_from_env(&session)?;
    lambda_runtime::run(lambda_runtime::service_fn(
        |_event: lambda_runtime::LambdaEvent<Value>| async {
            let result = sweep(&backend, OffsetDateTime::now_utc()).await;
            match &result {
                Ok(summary) => tracing::info!(%summary, "allow-list swept"),
                Err(error) => tracing::error!(%error, "allow-list sweep failed"),
            }
            // An error fails the invocation, which Lambda counts and logs.
            result.map_err(|error| lambda_runtime::Diagnostic::from(error.to_string()))
        },
    ))
    .await
}
