//! The token check of API Gateway's COGNITO_USER_POOLS authorizer, and where the pools' public
//! keys come from (a local issuer, or a JWKS URL fetched once and cached).

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::issuer::LocalIssuer;
use stack::UserPool;

/// The claims of an accepted token, as API Gateway hands them to the integration.
pub type Claims = Map<String, Value>;

/// How long past `exp` a token is still accepted, for clocks a little apart; no more.
pub const EXP_LEEWAY: Duration = Duration::from_secs(5);

/// How far in the future `iat` may be before the token is refused as nonsense.
pub const IAT_MAX_AHEAD: Duration = Duration::from_secs(300);

/// At most one JWKS refetch per pool this often when a token names an unknown `kid` (a key
/// rotation), so a stream of forged kids cannot turn into a stream of requests to the JWKS host.
pub const DEFAULT_JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(60);

/// After a failed fetch, retry this soon: a JWKS host that starts after the local stack (moto)
/// should not lock tokens out for a whole refetch interval.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// API Gateway documents the raw token in the header, yet takes `Bearer <token>` too: AWS's own
/// workshop has `Bearer ` typed before the token in the authorizer test console, and Amplify's
/// documented `Authorization: Bearer ${idToken}` works against Cognito authorizers. So exactly this
/// prefix (case and single space as written) is removed once; anything else is the token.
const BEARER_PREFIX: &str = "Bearer ";

/// Where a trusted pool's public keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// The key of a [`LocalIssuer`], known without any request.
    Local(LocalIssuer),
    /// A JWKS document at this URL: the real pool's (see [`UserPool::jwks_url`]) or an emulator's.
    /// Fetched on first use and cached.
    Jwks(String),
}

/// A pool the authorizer accepts tokens from, with its key source and the `iss` its tokens carry.
#[derive(Debug, Clone)]
pub struct TrustedPool {
    pool: UserPool,
    keys: KeySource,
    issuer: String,
}

impl TrustedPool {
    /// Tokens minted by `issuer`.
    pub fn local(issuer: &LocalIssuer) -> Self {
        TrustedPool {
            pool: issuer.pool().clone(),
            issuer: issuer.pool().issuer(),
            keys: KeySource::Local(issuer.clone()),
        }
    }

    /// Tokens of the real pool, verified against its public JWKS
    /// (`https://cognito-idp.<region>.amazonaws.com/<pool-id>/.well-known/jwks.json`).
    pub fn cognito(pool: UserPool) -> Self {
        let url = pool.jwks_url();
        Self::jwks(pool, url)
    }

    /// Tokens of `pool` whose keys are published at `url`, e.g. by moto at
    /// `http://127.0.0.1:<port>/<pool-id>/.well-known/jwks.json`.
    pub fn jwks(pool: UserPool, url: impl Into<String>) -> Self {
        TrustedPool {
            issuer: pool.issuer(),
            keys: KeySource::Jwks(url.into()),
            pool,
        }
    }

    /// Expects `iss` to be `issuer` instead of the pool's Cognito issuer URL. Only for emulators
    /// that put their own address in `iss` (LocalStack does; moto does not): the check stays exact,
    /// it only compares against what that emulator really signs.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    pub fn pool(&self) -> &UserPool {
        &self.pool
    }

    pub fn keys(&self) -> &KeySource {
        &self.keys
    }

    /// The `iss` this pool's tokens must carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// An authorizer configuration that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    #[error("a Cognito authorizer needs at least one user pool; list the pools it trusts")]
    NoPools,
    #[error(
        "user pools `{first}` and `{second}` both issue tokens as `{issuer}`, so a token could not \
         be tied to one pool's keys; configure each pool once"
    )]
    DuplicateIssuer {
        issuer: String,
        first: String,
        second: String,
    },
    #[error(
        "JWKS URL `{url}` of user pool `{pool}` is not an http(s) URL; give one such as \
         https://cognito-idp.<region>.amazonaws.com/<pool-id>/.well-known/jwks.json"
    )]
    InvalidJwksUrl { pool: String, url: String },
    #[error("cannot build the HTTP client that fetches JWKS documents: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// Why a token was refused. Meant for logs: the caller answers 401 with [`Denied::message`], which
/// is [`Denied::UNAUTHORIZED`] for every reason but an expired token, as API Gateway does.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Denied {
    #[error("no Authorization header")]
    MissingToken,
    #[error("the token is not a JWT: {0}")]
    Malformed(String),
    #[error("the token is signed with alg `{0}`; only RS256 is accepted")]
    Algorithm(String),
    #[error("iss `{0}` is not the issuer of a user pool this authorizer trusts")]
    UnknownIssuer(String),
    #[error("kid `{kid}` is not among the keys of user pool {pool}")]
    UnknownKey { pool: String, kid: String },
    #[error("the keys of user pool {pool} could not be fetched from {url}: {error}")]
    KeysUnavailable {
        pool: String,
        url: String,
        error: String,
    },
    #[error("the signature does not verify with key `{kid}` of user pool {pool}")]
    BadSignature { pool: String, kid: String },
    #[error("claim `{0}` is missing or not of the type Cognito gives it")]
    BadClaim(&'static str),
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: f64, now: u64 },
    #[error("the token says it was issued at {iat}, in the future (now {now})")]
    IssuedInFuture { iat: f64, now: u64 },
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid { nbf: f64, now: u64 },
    #[error("token_use is `{found}` where the method needs an {expected} token")]
    WrongTokenUse {
        expected: &'static str,
        found: String,
    },
    #[error("aud `{aud}` is not an app client of user pool {pool}")]
    WrongAudience { pool: String, aud: String },
    #[error("the token's scopes `{found}` include none of {required:?}")]
    MissingScope {
        required: Vec<String>,
        found: String,
    },
}

impl Denied {
    /// The status API Gateway answers with.
    pub const STATUS: u16 = 401;
    /// The body API Gateway answers with, but for an expired token.
    pub const BODY: &'static str = r#"{"message":"Unauthorized"}"#;
    /// API Gateway's message for a refused token.
    pub const UNAUTHORIZED: &'static str = "Unauthorized";
    /// API Gateway's message for an expired token (recorded: aws-amplify/amplify-js#6060).
    pub const EXPIRED: &'static str = "The incoming token has expired";

    /// The message API Gateway answers with. Only expiry has its own: a wrong signature, issuer,
    /// audience or token use all get [`Denied::UNAUTHORIZED`] (what AWS says for a wrong `aud` or
    /// `iss` is not recorded; the generic message tells an attacker the least).
    pub fn message(&self) -> &'static str {
        match self {
            Denied::Expired { .. } => Self::EXPIRED,
            _ => Self::UNAUTHORIZED,
        }
    }
}

/// API Gateway's COGNITO_USER_POOLS authorizer: accepts a token only from one of its pools.
#[derive(Debug)]
pub struct Authorizer {
    pools: Vec<PoolKeys>,
    http: reqwest::Client,
    refetch_interval: Duration,
}

#[derive(Debug)]
struct PoolKeys {
    trust: TrustedPool,
    keys: Keys,
}

#[derive(Debug)]
enum Keys {
    Static(HashMap<String, Arc<DecodingKey>>),
    Remote {
        url: String,
        cache: Mutex<JwksCache>,
    },
}

#[derive(Debug, Default)]
struct JwksCache {
    keys: HashMap<String, Arc<DecodingKey>>,
    last_attempt: Option<Instant>,
    /// Why the last fetch failed; `None` after a success.
    last_error: Option<String>,
}

impl Authorizer {
    /// An authorizer over `pools`. Checks the configuration only; remote keys are fetched when the
    /// first token of their pool arrives.
    pub fn new(pools: impl IntoIterator<Item = TrustedPool>) -> Result<Self, AuthorizerError> {
        let mut entries: Vec<PoolKeys> = Vec::new();
        for trust in pools {
            if let Some(other) = entries.iter().find(|p| p.trust.issuer == trust.issuer) {
                return Err(AuthorizerError::DuplicateIssuer {
                    issuer: trust.issuer.clone(),
                    first: other.trust.pool.to_string(),
                    second: trust.pool.to_string(),
                });
            }
            let keys = match &trust.keys {
                KeySource::Local(issuer) => {
                    let jwks = parse_jwks(&issuer.jwks())
                        .expect("a local issuer's JWKS is well-formed by construction");
                    Keys::Static(jwks)
                }
                KeySource::Jwks(url) => {
                    let valid = reqwest::Url::parse(url)
                        .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
                    if !valid {
                        return Err(AuthorizerError::InvalidJwksUrl {
                            pool: trust.pool.to_string(),
                            url: url.clone(),
                        });
                    }
                    Keys::Remote {
                        url: url.clone(),
                        cache: Mutex::new(JwksCache::default()),
                    }
                }
            };
            entries.push(PoolKeys { trust, keys });
        }
        if entries.is_empty() {
            return Err(AuthorizerError::NoPools);
        }
        let http = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(AuthorizerError::HttpClient)?;
        Ok(Authorizer {
            pools: entries,
            http,
            refetch_interval: DEFAULT_JWKS_REFETCH_INTERVAL,
        })
    }

    /// Changes how often an unknown `kid` may trigger a JWKS refetch (default
    /// [`DEFAULT_JWKS_REFETCH_INTERVAL`]); for tests of key rotation.
    pub fn with_jwks_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// The pools this authorizer trusts.
    pub fn pools(&self) -> impl Iterator<Item = &TrustedPool> {
        self.pools.iter().map(|p| &p.trust)
    }

    /// Checks the `Authorization` header of a request to a method with this authorizer and the
    /// OAuth `scopes` the method lists. Without scopes the token must be an ID token (and for one
    /// of the pool's app clients, when the pool lists any); with scopes, an access token granting
    /// at least one of them. On success, the token's claims.
    pub async fn authorize(
        &self,
        authorization_header: Option<&str>,
        scopes: &[String],
    ) -> Result<Claims, Denied> {
        self.authorize_with(authorization_header, scopes, |_| true)
            .await
    }

    /// [`Authorizer::authorize`] for a method whose authorizer lists only `provider_arns` (its
    /// `ProviderARNs`): a token of any other configured pool is refused, as API Gateway does.
    pub async fn authorize_for(
        &self,
        authorization_header: Option<&str>,
        scopes: &[String],
        provider_arns: &[String],
    ) -> Result<Claims, Denied> {
        self.authorize_with(authorization_header, scopes, |pool| {
            provider_arns.iter().any(|arn| arn == pool.arn())
        })
        .await
    }

    async fn authorize_with(
        &self,
        authorization_header: Option<&str>,
        scopes: &[String],
        listed: impl Fn(&UserPool) -> bool,
    ) -> Result<Claims, Denied> {
        let header = authorization_header
            .filter(|h| !h.is_empty())
            .ok_or(Denied::MissingToken)?;
        let token = header.strip_prefix(BEARER_PREFIX).unwrap_or(header);

        let parts = split(token)?;
        let jose = decode_json(parts.header, "header")?;
        // The algorithm is settled before any key is looked up, so `none`, HMAC with a public key
        // as the secret and friends never get near a key.
        match jose.get("alg") {
            Some(Value::String(alg)) if alg == "RS256" => {}
            Some(Value::String(alg)) => return Err(Denied::Algorithm(alg.clone())),
            _ => return Err(Denied::Malformed("the header has no alg".to_owned())),
        }
        if jose.contains_key("crit") {
            // RFC 7515: unknown critical extensions must be refused; Cognito never sets any.
            return Err(Denied::Malformed(
                "the header lists critical extensions".to_owned(),
            ));
        }
        let Some(Value::String(kid)) = jose.get("kid") else {
            return Err(Denied::Malformed("the header has no kid".to_owned()));
        };
        let claims = decode_json(parts.payload, "payload")?;

        // The issuer picks the pool, and only that pool's keys may have signed the token.
        let Some(Value::String(iss)) = claims.get("iss") else {
            return Err(Denied::BadClaim("iss"));
        };
        let pool = self
            .pools
            .iter()
            .find(|p| p.trust.issuer == *iss && listed(&p.trust.pool))
            .ok_or_else(|| Denied::UnknownIssuer(iss.clone()))?;
        let key = self.key(pool, kid).await?;
        let verified =
            jsonwebtoken::crypto::verify(parts.signature, parts.signed, &key, Algorithm::RS256)
                .unwrap_or(false);
        if !verified {
            return Err(Denied::BadSignature {
                pool: pool.trust.pool.to_string(),
                kid: kid.clone(),
            });
        }

        check_times(&claims)?;
        check_use(&pool.trust.pool, &claims, scopes)?;
        Ok(claims)
    }

    async fn key(&self, pool: &PoolKeys, kid: &str) -> Result<Arc<DecodingKey>, Denied> {
        let unknown = || Denied::UnknownKey {
            pool: pool.trust.pool.to_string(),
            kid: kid.to_owned(),
        };
        let (url, cache) = match &pool.keys {
            Keys::Static(keys) => return keys.get(kid).cloned().ok_or_else(unknown),
            Keys::Remote { url, cache } => (url, cache),
        };
        // Held across the fetch: concurrent requests with an unknown kid wait for one fetch
        // instead of each making their own.
        let mut cache = cache.lock().await;
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        let due = match (cache.last_attempt, &cache.last_error) {
            (None, _) => true,
            (Some(at), Some(_)) => at.elapsed() >= JWKS_RETRY_AFTER_FAILURE,
            (Some(at), None) => at.elapsed() >= self.refetch_interval,
        };
        if due {
            cache.last_attempt = Some(Instant::now());
            match fetch_jwks(&self.http, url).await {
                Ok(keys) => {
                    tracing::debug!(%url, keys = keys.len(), "fetched JWKS");
                    cache.keys = keys;
                    cache.last_error = None;
                }
                Err(error) => {
                    tracing::warn!(%url, %error, "cannot fetch JWKS");
                    cache.last_error = Some(error);
                }
            }
        }
        if let Some(key) = cache.keys.get(kid) {
            return Ok(key.clone());
        }
        match &cache.last_error {
            Some(error) => Err(Denied::KeysUnavailable {
                pool: pool.trust.pool.to_string(),
                url: url.clone(),
                error: error.clone(),
            }),
            None => Err(unknown()),
        }
    }
}

/// The three parts of a compact JWS, plus the bytes the signature covers.
struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    signed: &'a [u8],
}

fn split(token: &str) -> Result<Parts<'_>, Denied> {
    let mut pieces = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(Denied::Malformed(
            "it does not have three dot-separated parts".to_owned(),
        ));
    };
    if header.is_empty() || payload.is_empty() {
        return Err(Denied::Malformed(
            "its header or payload is empty".to_owned(),
        ));
    }
    let signed = &token.as_bytes()[..header.len() + 1 + payload.len()];
    Ok(Parts {
        header,
        payload,
        signature,
        signed,
    })
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, Denied> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|error| Denied::Malformed(format!("its {what} is not base64url: {error}")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Denied::Malformed(format!(
            "its {what} is not a JSON object"
        ))),
        Err(error) => Err(Denied::Malformed(format!(
            "its {what} is not JSON: {error}"
        ))),
    }
}

fn check_times(claims: &Claims) -> Result<(), Denied> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let number = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or(Denied::BadClaim(name)),
    };
    let exp = number("exp")?.ok_or(Denied::BadClaim("exp"))?;
    if (now as f64) >= exp + EXP_LEEWAY.as_secs_f64() {
        return Err(Denied::Expired { exp, now });
    }
    let iat = number("iat")?.ok_or(Denied::BadClaim("iat"))?;
    if iat > now as f64 + IAT_MAX_AHEAD.as_secs_f64() {
        return Err(Denied::IssuedInFuture { iat, now });
    }
    // Cognito sets no nbf; honour one if a token has it.
    if let Some(nbf) = number("nbf")?
        && nbf > now as f64 + EXP_LEEWAY.as_secs_f64()
    {
        return Err(Denied::NotYetValid { nbf, now });
    }
    Ok(())
}

fn check_use(pool: &UserPool, claims: &Claims, scopes: &[String]) -> Result<(), Denied> {
    let token_use = match claims.get("token_use") {
        Some(Value::String(token_use)) => token_use.as_str(),
        _ => return Err(Denied::BadClaim("token_use")),
    };
    if scopes.is_empty() {
        if token_use != "id" {
            return Err(Denied::WrongTokenUse {
                expected: "id",
                found: token_use.to_owned(),
            });
        }
        if !pool.client_ids().is_empty() {
            // Cognito's `aud` is a single string; an array is not something it issues.
            let Some(Value::String(aud)) = claims.get("aud") else {
                return Err(Denied::BadClaim("aud"));
            };
            if !pool.client_ids().contains(aud) {
                return Err(Denied::WrongAudience {
                    pool: pool.to_string(),
                    aud: aud.clone(),
                });
            }
        }
    } else {
        if token_use != "access" {
            return Err(Denied::WrongTokenUse {
                expected: "access",
                found: token_use.to_owned(),
            });
        }
        let granted = match claims.get("scope") {
            Some(Value::String(granted)) => granted.as_str(),
            None => "",
            Some(_) => return Err(Denied::BadClaim("scope")),
        };
        if !granted
            .split_whitespace()
            .any(|s| scopes.iter().any(|wanted| wanted == s))
        {
            return Err(Denied::MissingScope {
                required: scopes.to_vec(),
                found: granted.to_owned(),
            });
        }
    }
    Ok(())
}

async fn fetch_jwks(
    http: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let response = http.get(url).send().await.map_err(|e| chain(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let document: Value = response.json().await.map_err(|e| chain(&e))?;
    parse_jwks(&document)
}

/// The RS256 signing keys of a JWKS document, by kid. Keys for other algorithms or uses are left
/// out: a token can only ever be checked with a key meant for RS256 signatures.
fn parse_jwks(document: &Value) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        return Err("the document has no `keys` array".to_owned());
    };
    let mut parsed = HashMap::new();
    for jwk in keys {
        let field = |name: &str| jwk.get(name).and_then(Value::as_str);
        let usable = field("kty") == Some("RSA")
            && field("alg").is_none_or(|alg| alg == "RS256")
            && field("use").is_none_or(|u| u == "sig");
        let (Some(kid), Some(n), Some(e)) = (field("kid"), field("n"), field("e")) else {
            continue;
        };
        if !usable {
            continue;
        }
        match DecodingKey::from_rsa_components(n, e) {
            Ok(key) => {
                parsed.insert(kid.to_owned(), Arc::new(key));
            }
            Err(error) => tracing::warn!(kid, %error, "skipping an unreadable JWKS key"),
        }
    }
    Ok(parsed)
}

/// An error with its causes, e.g. `error sending request: connection refused`.
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
