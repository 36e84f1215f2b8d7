//! The account-level CloudWatch Logs role of API Gateway: a stage that writes access logs needs
//! it, and AWS fails the stage without it ("CloudWatch Logs role ARN must be set in account
//! settings to enable logging"). It is checked before anything else is changed, and, when the
//! person agrees, set up by a small stack of its own (a role and the account setting), kept on
//! destroy because every API of the account and region shares it.

use aws_sdk_apigateway::Client;

use crate::error::{DeployError, aws};

/// The stack that holds the role and the account setting, one per account and region.
pub const LOGGING_ROLE_STACK: &str = "catalog-apigateway-logging";

/// The role ARN API Gateway logs with in this region, if one is set.
pub async fn current_role(apigw: &Client) -> Result<Option<String>, DeployError> {
    let account = apigw.get_account().send().await.map_err(aws(
        "reading API Gateway's account settings (apigateway:GET /account)",
    ))?;
    Ok(account
        .cloudwatch_role_arn()
        .filter(|arn| !arn.is_empty())
        .map(str::to_owned))
}
