//! Sorts what DynamoDB answered into what helps: waiting (503 with `Retry-After`), or someone
//! fixing the set-up (500, with a log line naming the table and the permission or setting).
//!
//! Error codes as DynamoDB documents them ("Error handling with DynamoDB", Developer Guide):
//! throttling and 5xx answers may be retried; a missing table, denied access and invalid
//! credentials may not. The SDK has already retried the retryable ones (standard mode, three
//! attempts) by the time an error reaches this module.

use aws_sdk_dynamodb::error::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use catalog::RepositoryError;

/// Codes that say DynamoDB is busy or briefly failing: the same request may succeed soon.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "LimitExceededException",
    "TransactionConflictException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Codes that say the credentials themselves are wrong or stale.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "InvalidClientTokenId",
    "ExpiredTokenException",
];

/// Where a failed call went: for the operator's log line.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The API action, as IAM names it (`PutItem`, `Query`).
    pub action: &'static str,
    pub table: &'a str,
}

/// The domain's view of a DynamoDB failure that is not the condition the call checked.
pub fn classify<E>(call: Call<'_>, error: &SdkError<E>) -> RepositoryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let Call { action, table } = call;
    let said = aws_session::explain(error);
    let misconfigured = |what: String| RepositoryError::Misconfigured { what };
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            match code {
                "ResourceNotFoundException" => misconfigured(format!(
                    "DynamoDB table {table:?} does not exist in this region (dynamodb:{action}): \
                     deploy the stack that creates it, or point STORE_URL at another ({said})"
                )),
                "AccessDeniedException" => misconfigured(format!(
                    "this function's role may not call dynamodb:{action} on table {table:?}: \
                     grant it in the function's role ({said})"
                )),
                "ValidationException" => misconfigured(format!(
                    "DynamoDB refused dynamodb:{action} on table {table:?} as invalid: the table's \
                     key schema must be `collection` (S, partition) and `name` (S, sort) ({said})"
                )),
                code if CREDENTIAL_CODES.contains(&code) => misconfigured(format!(
                    "DynamoDB did not accept this function's credentials for dynamodb:{action} on \
                     table {table:?}: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and \
                     AWS_SESSION_TOKEN ({said})"
                )),
                code if RETRYABLE_CODES.contains(&code) => RepositoryError::Retryable(format!(
                    "DynamoDB table {table:?}, dynamodb:{action}: {said}"
                )),
                _ if service.raw().status().is_server_error() => RepositoryError::Retryable(
                    format!("DynamoDB table {table:?}, dynamodb:{action}: {said}"),
                ),
                _ => misconfigured(format!(
                    "DynamoDB refused dynamodb:{action} on table {table:?}: {said}"
                )),
            }
        }
        // The request could not be built: a setting is wrong (the endpoint URL, the region).
        SdkError::ConstructionFailure(_) => misconfigured(format!(
            "no dynamodb:{action} request could be made for table {table:?}: check AWS_REGION and \
             AWS_ENDPOINT_URL ({said})"
        )),
        // No connection, a timeout, an answer cut short: the network or DynamoDB may recover.
        _ => RepositoryError::Retryable(format!(
            "DynamoDB table {table:?}, dynamodb:{action}: {said}"
        )),
    }
}
