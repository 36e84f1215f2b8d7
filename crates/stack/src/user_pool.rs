//! A Cognito user pool as deployments and authorizers know it: its ARN (from which region, id and issuer
//! follow) and the app clients whose ID tokens it accepts.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What to write instead, repeated in every ARN error so the fix is in the message.
const ARN_FORMAT: &str = "expected arn:aws:cognito-idp:<region>:<account>:userpool/<region>_<id>, \
                          e.g. arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123xyZ";

/// A configured user pool. Built only through [`UserPool::new`] (or deserialised, which validates
/// the same way), so the region, pool id and issuer it reports always come from a valid ARN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UserPoolConfig", into = "UserPoolConfig")]
pub struct UserPool {
    name: String,
    arn: String,
    client_ids: Vec<String>,
    region: String,
    account: String,
    pool_id: String,
}

/// The configuration form: `{ name, arn, client_ids }`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPoolConfig {
    name: String,
    arn: String,
    #[serde(default)]
    client_ids: Vec<String>,
}

impl TryFrom<UserPoolConfig> for UserPool {
    type Error = PoolError;

    fn try_from(config: UserPoolConfig) -> Result<Self, PoolError> {
        UserPool::new(config.name, config.arn, config.client_ids)
    }
}

impl From<UserPool> for UserPoolConfig {
    fn from(pool: UserPool) -> Self {
        UserPoolConfig {
            name: pool.name,
            arn: pool.arn,
            client_ids: pool.client_ids,
        }
    }
}

/// A pool configuration that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("`{arn}` is not a Cognito user pool ARN: {problem}; {ARN_FORMAT}")]
    InvalidArn { arn: String, problem: String },
    #[error(
        "app client id {client_id:?} of user pool `{pool}` is empty or contains whitespace; \
         list the pool's app client ids exactly as Cognito shows them"
    )]
    InvalidClientId { pool: String, client_id: String },
}

impl UserPool {
    /// A pool named `name` (a label for logs), identified by `arn`, whose ID tokens must be for one
    /// of `client_ids` (an empty list accepts any app client, as an authorizer without an audience
    /// restriction does).
    pub fn new(
        name: impl Into<String>,
        arn: impl Into<String>,
        client_ids: Vec<String>,
    ) -> Result<Self, PoolError> {
        let arn = arn.into();
        let (region, account, pool_id) =
            parse_arn(&arn).map_err(|problem| PoolError::InvalidArn {
                arn: arn.clone(),
                problem,
            })?;
        if let Some(bad) = client_ids
            .iter()
            .find(|id| id.is_empty() || id.chars().any(char::is_whitespace))
        {
            return Err(PoolError::InvalidClientId {
                pool: pool_id,
                client_id: bad.clone(),
            });
        }
        Ok(UserPool {
            name: name.into(),
            arn,
            client_ids,
            region,
            account,
            pool_id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The app clients whose ID tokens the authorizer accepts; empty means any.
    pub fn client_ids(&self) -> &[String] {
        &self.client_ids
    }

    /// The region, e.g. `eu-west-1`.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The twelve-digit account id.
    pub fn account_id(&self) -> &str {
        &self.account
    }

    /// The pool id, e.g. `eu-west-1_AbC123xyZ`.
    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The `iss` of every token the pool signs: `https://cognito-idp.<region>.amazonaws.com/<pool-id>`.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.pool_id
        )
    }

    /// Where the real pool publishes its signing keys: `<issuer>/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.issuer())
    }
}

impl fmt::Display for UserPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.pool_id)
    }
}

/// Splits a user pool ARN into (region, account, pool id), or says what is wrong with it.
fn parse_arn(arn: &str) -> Result<(String, String, String), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return Err("it does not have six colon-separated parts".to_owned());
    };
    if prefix != "arn" {
        return Err("it does not start with `arn:`".to_owned());
    }
    if partition != "aws" {
        // The issuer URL differs in other partitions (e.g. amazonaws.com.cn); better refuse than
        // make up an issuer no real token carries.
        return Err(format!(
            "partition `{partition}` is not supported (only `aws`, whose issuer URL format is known)"
        ));
    }
    if service != "cognito-idp" {
        return Err(format!("service is `{service}`, not `cognito-idp`"));
    }
    if !is_region(region) {
        return Err(format!("`{region}` is not a region name such as eu-west-1"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("account `{account}` is not twelve digits"));
    }
    let Some(pool_id) = resource.strip_prefix("userpool/") else {
        return Err(format!(
            "resource `{resource}` does not start with `userpool/`"
        ));
    };
    let Some(suffix) = pool_id
        .strip_prefix(region)
        .and_then(|rest| rest.strip_prefix('_'))
    else {
        return Err(format!(
            "pool id `{pool_id}` does not start with the ARN's region and `_` (`{region}_`)"
        ));
    };
    // Pool ids also name the key file in the state directory, so this check keeps paths tame too.
    if suffix.is_empty() || !suffix.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "pool id `{pool_id}` must end in letters and digits after `{region}_`"
        ));
    }
    Ok((region.to_owned(), account.to_owned(), pool_id.to_owned()))
}

/// `eu-west-1`, `us-gov-west-1`, `ap-southeast-7`: two letters, words, a number.
fn is_region(region: &str) -> bool {
    let words: Vec<&str> = region.split('-').collect();
    let [first, middle @ .., last] = &words[..] else {
        return false;
    };
    first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}
