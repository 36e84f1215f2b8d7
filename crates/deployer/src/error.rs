//! What can go wrong with a deployment, each with what to do about it.

use crate::events::Failure;

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Session(#[from] aws_session::SessionError),
    /// An AWS call failed; `action` says which and why it was made.
    #[error("{action} failed: {message}")]
    Aws { action: String, message: String },
    #[error(
        "stack {stack} is busy ({status}): another operation is running on it. Wait for it to end \
         (`cargo xtask status --target aws --env {env}` shows it), then run this again"
    )]
    Busy {
        stack: String,
        env: String,
        status: String,
    },
    #[error(
        "stack {stack} is in {status}, which CloudFormation cannot update{hint}. Fix it in the \
         CloudFormation console (or `cargo xtask destroy --target aws --env {env}`), then deploy again"
    )]
    Stuck {
        stack: String,
        env: String,
        status: String,
        hint: &'static str,
    },
    #[error("the change set could not be created: {reason}. Nothing was changed")]
    ChangeSetFailed { reason: String },
    #[error(
        "{operation} of stack {stack} failed; it ended in {status}{}.{}",
        what_status_means(status),
        describe_failures(failures)
    )]
    Failed {
        operation: &'static str,
        stack: String,
        status: String,
        failures: Vec<Failure>,
    },
    #[error(
        "API Gateway in {region} has no CloudWatch Logs role for the account, and the stage's \
         access log needs one (AWS would fail the stage with \"CloudWatch Logs role ARN must be \
         set in account settings to enable logging\"); deploy/envs/{env}.toml says \
         apigateway_logging_role = \"existing\". Nothing was changed. Choose \"create\" there to \
         have the deploy make it (stack {stack}, kept on destroy), or \"off\" to go without the \
         access log, or set one yourself: aws apigateway update-account \
         --patch-operations op=replace,path=/cloudwatchRoleArn,value=<role ARN> --region {region}"
    )]
    NoLoggingRole {
        region: String,
        stack: String,
        env: String,
    },
    #[error(
        "the artifact bucket {bucket} exists but belongs to another account (S3 answered 403); \
         bucket names are global. {hint}"
    )]
    BucketNotOurs { bucket: String, hint: &'static str },
    #[error("could not read the package {path}: {source}; build it again with `cargo xtask build`")]
    Package {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the deployment has no package for function {0}; build it with `cargo xtask build`")]
    MissingPackage(String),
}

/// What a final status leaves behind, in words.
fn what_status_means(status: &str) -> &'static str {
    match status {
        "UPDATE_ROLLBACK_COMPLETE" => ", rolled back to what it was before",
        "ROLLBACK_COMPLETE" => {
            ": its creation was rolled back, and the next deploy deletes it and creates it again"
        }
        "UPDATE_ROLLBACK_FAILED" | "ROLLBACK_FAILED" => {
            ": even the rollback failed; see the stack in the CloudFormation console"
        }
        _ => "",
    }
}

fn describe_failures(failures: &[Failure]) -> String {
    if failures.is_empty() {
        return " CloudFormation gave no resource failure; see the stack's events in the console."
            .into();
    }
    let lines: Vec<String> = failures
        .iter()
        .map(|f| format!("\n  {} ({}): {}", f.logical_id, f.resource_type, f.reason))
        .collect();
    format!(" What failed:{}", lines.concat())
}

/// Turns an SDK error into [`DeployError::Aws`] naming the action.
pub(crate) fn aws<E, R>(
    action: impl Into<String>,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> DeployError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let action = action.into();
    move |error| DeployError::Aws {
        action,
        message: aws_session::explain(&error),
    }
}
