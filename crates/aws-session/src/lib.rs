//! How the project reaches AWS, written once, in two ways:
//! - the tools people run (feature `chain`): the SDK configuration from the standard chain
//!   (environment, profiles, SSO, `AWS_ENDPOINT_URL`), with `--profile` and `--region` applied,
//!   and credentials checked before any request is sent;
//! - a Lambda function ([`function`], always there): only the variables Lambda sets, with the
//!   roots of AWS's endpoints compiled in, so that a cold start reads no file;
//!
//! plus AWS errors rendered as their code and message, which is what tells a person what to fix.

pub mod function;

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::SdkConfig;
#[cfg(feature = "chain")]
use {
    aws_config::BehaviorVersion,
    aws_config::meta::region::RegionProviderChain,
    aws_config::retry::RetryConfig,
    aws_sdk_sts::config::{ProvideCredentials, Region},
};

pub use function::{FunctionEnvError, from_function_env};

#[cfg(feature = "chain")]
/// What a command asks of the AWS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// A named profile of `~/.aws/config` (`--profile`); otherwise `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// The region to work in (`--region`, or the environment file's region).
    pub region: String,
}

/// A checked AWS configuration: credentials were found, and where requests go is known.
#[derive(Debug, Clone)]
pub struct Session {
    pub config: SdkConfig,
    pub region: String,
    /// `AWS_ENDPOINT_URL` (or a profile's `endpoint_url`) when requests go somewhere other than
    /// AWS itself, such as moto or LocalStack.
    pub endpoint: Option<String>,
}

#[cfg(feature = "chain")]
/// Who the credentials belong to, as STS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    /// The principal's ARN (a user, or an assumed role's session).
    pub arn: String,
}

#[cfg(feature = "chain")]
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "no AWS credentials found{}: {detail}. Sign in first: `aws configure` (access keys), \
         `aws sso login --profile NAME` (IAM Identity Center), or export AWS_ACCESS_KEY_ID and \
         AWS_SECRET_ACCESS_KEY; then pass the profile with --profile or AWS_PROFILE. Nothing was sent \
         to AWS",
        profile.as_ref().map(|p| format!(" for profile {p:?}")).unwrap_or_default()
    )]
    NoCredentials {
        profile: Option<String>,
        detail: String,
    },
    #[error("the region {0:?} is not a region name (such as eu-west-1)")]
    BadRegion(String),
    #[error("AWS did not accept the credentials (sts:GetCallerIdentity): {0}")]
    Identity(String),
}

#[cfg(feature = "chain")]
/// The configuration for `settings`, with its credentials checked (they are resolved, not yet
/// used: an expired SSO session or a missing profile is reported here, before any request).
pub async fn connect(settings: &Settings) -> Result<Session, SessionError> {
    let region = settings.region.trim();
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !region_ok {
        return Err(SessionError::BadRegion(settings.region.clone()));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(RegionProviderChain::first_try(Region::new(
            region.to_owned(),
        )))
        // Standard retries (throttling, transient errors) with a few more attempts than the
        // default three: a deploy polls for minutes and should ride out a throttled call.
        .retry_config(RetryConfig::standard().with_max_attempts(5));
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| SessionError::NoCredentials {
            profile: settings.profile.clone(),
            detail: "no credentials provider is configured".into(),
        })?;
    if let Err(error) = provider.provide_credentials().await {
        return Err(SessionError::NoCredentials {
            profile: settings.profile.clone(),
            detail: chain(&error),
        });
    }
    Ok(Session {
        endpoint: config.endpoint_url().map(str::to_owned),
        region: region.to_owned(),
        config,
    })
}

#[cfg(feature = "chain")]
impl Session {
    /// A session with fixed credentials that sends every request to `endpoint`: for emulators
    /// (moto, LocalStack) and tests, where no credential chain applies. Retries are AWS's
    /// standard ones.
    pub fn for_endpoint(endpoint: &str, region: &str, key_id: &str, secret: &str) -> Session {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                aws_sdk_sts::config::Credentials::new(key_id, secret, None, None, "fixed"),
            ))
            .retry_config(RetryConfig::standard())
            .build();
        Session {
            config,
            region: region.to_owned(),
            endpoint: Some(endpoint.to_owned()),
        }
    }

    /// The account and principal the credentials belong to (`sts:GetCallerIdentity`, which
    /// every principal may call).
    pub async fn caller(&self) -> Result<Caller, SessionError> {
        let sts = aws_sdk_sts::Client::new(&self.config);
        let identity = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| SessionError::Identity(explain(&e)))?;
        Ok(Caller {
            account: identity.account().unwrap_or_default().to_owned(),
            arn: identity.arn().unwrap_or_default().to_owned(),
        })
    }
}

impl Session {
    /// Where requests go, for messages: the endpoint override, or the region.
    pub fn destination(&self) -> String {
        match &self.endpoint {
            Some(endpoint) => format!("{endpoint} (AWS_ENDPOINT_URL, region {})", self.region),
            None => format!("AWS region {}", self.region),
        }
    }
}

/// An error and its causes on one line: `a: b: c` (a cause already quoted is not repeated).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        next = cause.source();
    }
    text
}

/// An SDK error as a person needs it: AWS's error code and message when the service answered
/// (`AccessDenied: User ... is not authorized to perform: s3:CreateBucket ...`), otherwise what
/// kept the request from being answered (no connection, a timeout, ...).
pub fn explain<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    match error {
        SdkError::ServiceError(service) => {
            let error = service.err();
            match (error.code(), error.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => chain(error),
            }
        }
        other => chain(other),
    }
}

/// The AWS error code of an SDK error, when the service answered with one.
pub fn error_code<E, R>(error: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match error {
        SdkError::ServiceError(service) => service.err().code(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "chain")]
    #[tokio::test]
    async fn a_region_that_is_not_a_name_is_refused_before_anything_else() {
        let settings = Settings {
            profile: None,
            region: "EU West".into(),
        };
        let error = connect(&settings).await.unwrap_err().to_string();
        assert!(error.contains("\"EU West\""), "{error}");
    }

    #[test]
    fn chains_skip_causes_already_in_the_message() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "outer")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other("inner"));
        assert_eq!(chain(&error), "outer: inner");
    }
}
