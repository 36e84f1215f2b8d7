//! What can go wrong with a measurement in AWS, each with what to do about it.

#[derive(Debug, thiserror::Error)]
pub enum ColdstartError {
    #[error(transparent)]
    Session(#[from] aws_session::SessionError),
    #[error(transparent)]
    Deploy(#[from] deployer::DeployError),
    /// An AWS call failed; `action` says which and why it was made.
    #[error("{action} failed: {message}")]
    Aws { action: String, message: String },
    #[error(
        "there is no stack {stack}: the measurement uses the role and the data store of the \
         environment's deployed stack (either pattern). Deploy it first: cargo xtask deploy \
         --pattern lith --target aws --env {env}"
    )]
    NoStack { stack: String, env: String },
    #[error(
        "stack {stack} is {status}, not deployed and settled: wait for it, or deploy again \
         (`cargo xtask status --target aws --env {env}` shows it)"
    )]
    StackNotReady {
        stack: String,
        env: String,
        status: String,
    },
    #[error(
        "stack {stack} has no function serving the {group} routes (its pattern is {pattern}); \
         deploy it again: cargo xtask deploy --pattern {pattern} --target aws --env {env}"
    )]
    NoFunctionFor {
        stack: String,
        env: String,
        pattern: String,
        group: String,
    },
    #[error("the measurement has no package for {0}; `cargo xtask build` builds it")]
    MissingPackage(String),
    #[error("{0}")]
    Plan(String),
    #[error("{function}: {what} ({reason})")]
    UpdateFailed {
        function: String,
        what: &'static str,
        reason: String,
    },
    #[error("{function}: {what} did not happen within {seconds} s")]
    Timeout {
        function: String,
        what: &'static str,
        seconds: u64,
    },
    #[error(
        "{function} failed ({kind}): {detail}. The measurement stopped, since the cold starts of \
         a failing function measure nothing. Its log tail:\n{log}"
    )]
    FunctionError {
        function: String,
        kind: String,
        detail: String,
        log: String,
    },
    #[error(
        "{function}: no platform report for request {request_id}, neither in the invoke's log \
         tail nor in CloudWatch Logs ({log_group}) after {seconds} s"
    )]
    NoReport {
        function: String,
        request_id: String,
        log_group: String,
        seconds: u64,
    },
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
}

/// Turns an SDK error into [`ColdstartError::Aws`] naming the action.
pub(crate) fn aws<E, R>(
    action: impl Into<String>,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> ColdstartError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let action = action.into();
    move |error| ColdstartError::Aws {
        action,
        message: aws_session::explain(&error),
    }
}
