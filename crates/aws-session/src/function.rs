//! How a Lambda function reaches AWS: only what Lambda's environment gives, built at init.
//!
//! Lambda hands a function its credentials, region and (in tests, or against an emulator) an
//! endpoint as environment variables. The standard chain of aws-config would also look for
//! profile files, SSO caches and the instance metadata service, and its default HTTPS client reads
//! every CA file of the system store: measured here, that took a lambda_http hello world from
//! 3.1 ms to 7.5 ms spawn-to-first-response. So a function reads the environment itself and
//! trusts the roots AWS's own endpoints chain to (Amazon Trust Services), compiled in.
//!
//! The variables, as Lambda and every AWS SDK name them:
//! - `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` (the execution role's
//!   temporary credentials, which Lambda sets for the environment's whole life);
//! - `AWS_REGION` (set by Lambda), else `AWS_DEFAULT_REGION`;
//! - `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`: requests go there instead of AWS;
//! - `AWS_CA_BUNDLE`: a PEM file of further roots, for an HTTPS endpoint that is not AWS's.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::{RetryConfig, TimeoutConfig};

use crate::Session;

/// The roots of Amazon Trust Services, which every AWS service endpoint's certificate chains to
/// (Amazon Root CA 1 to 4, and the Starfield root that cross-signs them), from Debian's
/// ca-certificates.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../certs/amazon-trust-services.pem");

/// How long a function waits for a connection, one attempt and one operation with its retries.
/// A function answers behind API Gateway's 29 s integration timeout; an AWS service in the same
/// region answers in milliseconds, so seconds mean it is unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(12);

#[derive(Debug, thiserror::Error)]
pub enum FunctionEnvError {
    #[error(
        "{0} is not set: a Lambda function gets its credentials from its execution role through \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; outside Lambda, export them (any values for \
         an emulator such as moto)"
    )]
    NoCredentials(&'static str),
    #[error(
        "neither AWS_REGION nor AWS_DEFAULT_REGION is set: Lambda sets AWS_REGION; outside Lambda, \
         export it (as in AWS_REGION=eu-west-1)"
    )]
    NoRegion,
    #[error("AWS_CA_BUNDLE={path:?} cannot be read: {error}")]
    CaBundle { path: String, error: std::io::Error },
}

/// The configuration of a function's clients of `service` (its endpoint variable's suffix, as
/// `DYNAMODB`), read from the process environment.
pub fn from_function_env(service: &str, retry: RetryConfig) -> Result<Session, FunctionEnvError> {
    from_vars(service, retry, |name| {
        std::env::var(name).ok().filter(|value| !value.is_empty())
    })
}

/// [`from_function_env`] with the variables looked up by `var`.
pub fn from_vars(
    service: &str,
    retry: RetryConfig,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Session, FunctionEnvError> {
    let key_id =
        var("AWS_ACCESS_KEY_ID").ok_or(FunctionEnvError::NoCredentials("AWS_ACCESS_KEY_ID"))?;
    let secret = var("AWS_SECRET_ACCESS_KEY")
        .ok_or(FunctionEnvError::NoCredentials("AWS_SECRET_ACCESS_KEY"))?;
    let credentials = Credentials::new(
        key_id,
        secret,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or(FunctionEnvError::NoRegion)?;
    let endpoint = var(&format!(
        "AWS_ENDPOINT_URL_{}",
        service.to_ascii_uppercase()
    ))
    .or_else(|| var("AWS_ENDPOINT_URL"));

    let mut roots = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_TRUST_SERVICES);
    if let Some(path) = var("AWS_CA_BUNDLE") {
        let pem = std::fs::read(&path).map_err(|error| FunctionEnvError::CaBundle {
            path: path.clone(),
            error,
        })?;
        roots = roots.with_pem_certificate(pem);
    }
    let tls = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .expect("a TLS context of PEM roots builds (they are parsed on first connection)");
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build_https();

    let mut config = SdkConfig::builder()
        .behavior_version(
            aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
        )
        .region(Region::new(region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client)
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .retry_config(retry)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(endpoint) = &endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(Session {
        config: config.build(),
        region,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const KEYS: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn lambdas_variables_make_the_configuration() {
        let session = from_vars(
            "DYNAMODB",
            RetryConfig::standard(),
            vars(&[KEYS[0], KEYS[1], ("AWS_REGION", "eu-west-1")]),
        )
        .unwrap();
        assert_eq!(session.region, "eu-west-1");
        assert_eq!(session.endpoint, None);
        assert_eq!(
            session.config.region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
        assert!(session.config.http_client().is_some());
        assert!(session.config.credentials_provider().is_some());
    }

    #[test]
    fn the_service_endpoint_wins_over_the_general_one() {
        let both = [
            KEYS[0],
            KEYS[1],
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2"),
        ];
        let session = from_vars("dynamodb", RetryConfig::standard(), vars(&both)).unwrap();
        assert_eq!(session.endpoint.as_deref(), Some("http://127.0.0.1:2"));
        assert_eq!(session.region, "us-east-1");
        let general = from_vars("s3", RetryConfig::standard(), vars(&both)).unwrap();
        assert_eq!(general.endpoint.as_deref(), Some("http://127.0.0.1:1"));
    }

    #[test]
    fn missing_variables_are_named() {
        let error = from_vars(
            "DYNAMODB",
            RetryConfig::standard(),
            vars(&[KEYS[0], ("AWS_REGION", "eu-west-1")]),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("AWS_SECRET_ACCESS_KEY"),
            "{error}"
        );
        let error = from_vars("DYNAMODB", RetryConfig::standard(), vars(&KEYS)).unwrap_err();
        assert!(error.to_string().contains("AWS_REGION"), "{error}");
        let error = from_vars(
            "DYNAMODB",
            RetryConfig::standard(),
            vars(&[
                KEYS[0],
                KEYS[1],
                ("AWS_REGION", "eu-west-1"),
                ("AWS_CA_BUNDLE", "/nonexistent/ca.pem"),
            ]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_of_amazon_trust_services() {
        let pem = std::str::from_utf8(AMAZON_TRUST_SERVICES).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }
}
