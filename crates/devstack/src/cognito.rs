//! The local stack's Cognito: local user-pool issuers that mint ID tokens shaped like Cognito's,
//! and the check API Gateway's COGNITO_USER_POOLS authorizer makes on a request's token.
//!
//! The authorizer is deliberately no looser than the real one: a token that passes here passes for
//! the same reasons in AWS (RS256 signature by a key of the issuing pool's JWKS, unexpired, issued
//! by a configured pool, the right `token_use`, `aud` or scope). Tokens can come from a
//! [`LocalIssuer`] (a key kept in the state directory), from a real user pool, or from an emulator
//! such as moto, whose keys are fetched from a JWKS URL.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use devstack::cognito::{Authorizer, LocalIssuer, TokenRequest, TrustedPool, UserPool};
//!
//! let pool = UserPool::new(
//!     "catalog-dev",
//!     "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Example1",
//!     vec!["web".to_owned()],
//! )?;
//! let issuer = LocalIssuer::open(pool, ".devstack")?;
//! let token = issuer.mint_id_token(TokenRequest::new("alice"));
//! let authorizer = Authorizer::new([TrustedPool::local(&issuer)])?;
//! let claims = authorizer.authorize(Some(&token), &[]).await?;
//! assert_eq!(claims["cognito:username"], "alice");
//! # Ok(()) }
//! ```

mod authorizer;
mod issuer;

pub use authorizer::{
    Authorizer, AuthorizerError, Claims, DEFAULT_JWKS_REFETCH_INTERVAL, Denied, EXP_LEEWAY,
    IAT_MAX_AHEAD, KeySource, TrustedPool,
};
pub use issuer::{DEFAULT_TOKEN_TTL, IssuerError, KEY_BITS, LocalIssuer, TokenRequest, key_file};
pub use stack::{PoolError, UserPool};
