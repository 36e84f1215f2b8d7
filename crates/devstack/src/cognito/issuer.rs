//! A local stand-in for one user pool's token signing: an RSA-2048 key kept in the state
//! directory, its JWKS, and ID (and access) tokens with the claims Cognito puts in them.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use stack::UserPool;

/// Cognito signs with RSA-2048; so does the local issuer.
pub const KEY_BITS: usize = 2048;

/// Cognito's default ID and access token validity.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Where the key of `pool` lives under a state directory: `<state_dir>/cognito/<pool-id>.pem`.
pub fn key_file(state_dir: &Path, pool: &UserPool) -> PathBuf {
    state_dir
        .join("cognito")
        .join(format!("{}.pem", pool.pool_id()))
}

/// Who a token is for and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `cognito:username` (and `username` in access tokens).
    pub username: String,
    /// `cognito:groups`; left out of the token when empty, as Cognito does.
    pub groups: Vec<String>,
    /// From `iat` to `exp`.
    pub ttl: Duration,
    /// `email`; `<username>@example.com` when not given.
    pub email: Option<String>,
    /// `aud` (`client_id` in access tokens); the pool's first app client when not given.
    pub client_id: Option<String>,
    /// `iat` and `auth_time`; now when not given. Lets tests mint tokens that are already expired
    /// or claim to come from the future.
    pub issued_at: Option<SystemTime>,
}

impl TokenRequest {
    /// A one-hour token for `username`, in no group, with the default email and app client.
    pub fn new(username: impl Into<String>) -> Self {
        TokenRequest {
            username: username.into(),
            groups: Vec::new(),
            ttl: DEFAULT_TOKEN_TTL,
            email: None,
            client_id: None,
            issued_at: None,
        }
    }
}

/// Why a local issuer could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error(
        "cannot create the Cognito key directory {}: {source}; check that the state directory \
         is writable",
        path.display()
    )]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot read the Cognito signing key {}: {source}", path.display())]
    ReadKey { path: PathBuf, source: io::Error },
    #[error(
        "the Cognito signing key {} is not a PKCS#8 PEM RSA private key ({detail}); delete it and \
         a new key is made on the next start (tokens signed with the old key then stop verifying)",
        path.display()
    )]
    CorruptKey { path: PathBuf, detail: String },
    #[error(
        "the Cognito signing key {} is an RSA-{bits} key, weaker than Cognito's RSA-{KEY_BITS}; \
         delete it and a new key is made on the next start",
        path.display()
    )]
    WeakKey { path: PathBuf, bits: usize },
    #[error(
        "cannot write the Cognito signing key {}: {source}; check that the state directory is \
         writable",
        path.display()
    )]
    WriteKey { path: PathBuf, source: io::Error },
    #[error("cannot generate an RSA-{KEY_BITS} key: {0}")]
    Generate(rsa::Error),
}

/// One user pool's local token issuer. Cheap to clone: clones share the key.
#[derive(Clone)]
pub struct LocalIssuer {
    inner: Arc<Inner>,
}

struct Inner {
    pool: UserPool,
    key_path: PathBuf,
    kid: String,
    /// The public key's modulus and exponent, base64url, as the JWKS publishes them.
    n: String,
    e: String,
    signing_key: EncodingKey,
    default_client_id: String,
}

impl fmt::Debug for LocalIssuer {
    // By hand, so the private key never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIssuer")
            .field("pool", &self.inner.pool)
            .field("key_path", &self.inner.key_path)
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// The issuer of `pool`, with the key in [`key_file`]`(state_dir, pool)`: read when the file
    /// exists, otherwise generated and written there (mode 0600) so restarts keep the same key and
    /// tokens minted before a restart still verify.
    pub fn open(pool: UserPool, state_dir: impl AsRef<Path>) -> Result<Self, IssuerError> {
        let key_path = key_file(state_dir.as_ref(), &pool);
        let key = load_or_create_key(&key_path)?;
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let kid = thumbprint(&n, &e);
        // jsonwebtoken's RustCrypto backend signs from PKCS#1 DER.
        let der = key
            .to_pkcs1_der()
            .map_err(|error| IssuerError::CorruptKey {
                path: key_path.clone(),
                detail: error.to_string(),
            })?;
        let signing_key = EncodingKey::from_rsa_der(der.as_bytes());
        let default_client_id = pool
            .client_ids()
            .first()
            .cloned()
            .unwrap_or_else(|| derived_client_id(&pool));
        Ok(LocalIssuer {
            inner: Arc::new(Inner {
                pool,
                key_path,
                kid,
                n,
                e,
                signing_key,
                default_client_id,
            }),
        })
    }

    pub fn pool(&self) -> &UserPool {
        &self.inner.pool
    }

    /// The key file this issuer signs with.
    pub fn key_path(&self) -> &Path {
        &self.inner.key_path
    }

    /// The key id in token headers and the JWKS: the RFC 7638 thumbprint of the public key, so it
    /// stays the same for as long as the key file does.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The `aud` of tokens minted without a client id: the pool's first app client, or, for a pool
    /// listing none, a client id derived from the pool id (26 characters, like Cognito's).
    pub fn default_client_id(&self) -> &str {
        &self.inner.default_client_id
    }

    /// The `sub` Cognito would give `username` in this pool: a UUID derived from the pool id and
    /// the username, so a user keeps the same `sub` across tokens and restarts.
    pub fn subject(&self, username: &str) -> String {
        let digest = Sha256::new()
            .chain_update(b"cognito-sub\0")
            .chain_update(self.inner.pool.pool_id())
            .chain_update(b"\0")
            .chain_update(username)
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Shaped as a version-4 UUID, like the subs Cognito hands out.
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// The pool's public keys, as Cognito serves them at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({
            "keys": [{
                "kty": "RSA",
                "alg": "RS256",
                "use": "sig",
                "kid": self.inner.kid,
                "n": self.inner.n,
                "e": self.inner.e,
            }]
        })
    }

    /// An ID token with the header and claims Cognito gives one: `sub`, `cognito:username`,
    /// `cognito:groups` (when any), `email`, `email_verified`, `iss`, `aud`, `token_use: "id"`,
    /// `auth_time`, `iat`, `exp`, `event_id`, `origin_jti`, `jti`.
    pub fn mint_id_token(&self, request: TokenRequest) -> String {
        let (iat, exp) = times(&request);
        let mut claims = Map::new();
        claims.insert("sub".into(), self.subject(&request.username).into());
        if !request.groups.is_empty() {
            claims.insert("cognito:groups".into(), request.groups.clone().into());
        }
        let email = request
            .email
            .clone()
            .unwrap_or_else(|| format!("{}@example.com", request.username));
        claims.insert("email_verified".into(), true.into());
        claims.insert("iss".into(), self.inner.pool.issuer().into());
        claims.insert("cognito:username".into(), request.username.clone().into());
        claims.insert("origin_jti".into(), random_id().into());
        claims.insert("aud".into(), self.client_id(&request).into());
        claims.insert("event_id".into(), random_id().into());
        claims.insert("token_use".into(), "id".into());
        claims.insert("auth_time".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("jti".into(), random_id().into());
        claims.insert("email".into(), email.into());
        self.sign(&claims)
    }

    /// An access token as Cognito issues one for `scopes` (space-separated in `scope`): `sub`,
    /// `cognito:groups` (when any), `iss`, `client_id`, `origin_jti`, `event_id`,
    /// `token_use: "access"`, `scope`, `auth_time`, `exp`, `iat`, `jti`, `username`. It has no
    /// `aud` and no email, as Cognito's has none; `request.email` is ignored.
    pub fn mint_access_token(&self, request: TokenRequest, scopes: &[&str]) -> String {
        let (iat, exp) = times(&request);
        let mut claims = Map::new();
        claims.insert("sub".into(), self.subject(&request.username).into());
        if !request.groups.is_empty() {
            claims.insert("cognito:groups".into(), request.groups.clone().into());
        }
        claims.insert("iss".into(), self.inner.pool.issuer().into());
        claims.insert("client_id".into(), self.client_id(&request).into());
        claims.insert("origin_jti".into(), random_id().into());
        claims.insert("event_id".into(), random_id().into());
        claims.insert("token_use".into(), "access".into());
        claims.insert("scope".into(), scopes.join(" ").into());
        claims.insert("auth_time".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("iat".into(), iat.into());
        claims.insert("jti".into(), random_id().into());
        claims.insert("username".into(), request.username.clone().into());
        self.sign(&claims)
    }

    /// Signs any claims with this pool's key, header `{"kid", "alg": "RS256"}` as Cognito's. For
    /// tests that need a token Cognito would never issue (wrong `token_use`, a foreign `iss`...).
    pub fn sign(&self, claims: &Map<String, Value>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        // Cognito's header carries no `typ`.
        header.typ = None;
        header.kid = Some(self.inner.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.inner.signing_key)
            .expect("signing with the issuer's own RSA key cannot fail: it was encoded on open")
    }

    /// Signs `claims` under a JOSE header written exactly as given (RS256 with this pool's key,
    /// whatever the header says). For tests of forged headers: a missing or foreign `kid`, an
    /// embedded `jwk`, a `jku` pointing elsewhere, `crit`.
    pub fn sign_with_header(
        &self,
        header: &Map<String, Value>,
        claims: &Map<String, Value>,
    ) -> String {
        let encode = |part: &Map<String, Value>| {
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(part).expect("a JSON map serializes"))
        };
        let signed = format!("{}.{}", encode(header), encode(claims));
        let signature = jsonwebtoken::crypto::sign(
            signed.as_bytes(),
            &self.inner.signing_key,
            Algorithm::RS256,
        )
        .expect("signing with the issuer's own RSA key cannot fail: it was encoded on open");
        format!("{signed}.{signature}")
    }

    fn client_id(&self, request: &TokenRequest) -> String {
        request
            .client_id
            .clone()
            .unwrap_or_else(|| self.inner.default_client_id.clone())
    }
}

/// (`iat`, `exp`) in seconds since the epoch.
fn times(request: &TokenRequest) -> (u64, u64) {
    let issued_at = request.issued_at.unwrap_or_else(SystemTime::now);
    let iat = issued_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    (iat, iat.saturating_add(request.ttl.as_secs()))
}

fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// RFC 7638 JWK thumbprint of an RSA public key, base64url: stable, and the same for anyone who
/// computes it from the JWKS.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A stable 26-character app client id for a pool configured without one.
fn derived_client_id(pool: &UserPool) -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::new()
        .chain_update(b"cognito-client\0")
        .chain_update(pool.pool_id())
        .finalize();
    digest[..26]
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

fn load_or_create_key(path: &Path) -> Result<RsaPrivateKey, IssuerError> {
    match fs::read_to_string(path) {
        Ok(pem) => parse_key(path, &pem),
        Err(error) if error.kind() == io::ErrorKind::NotFound => create_key(path),
        Err(source) => Err(IssuerError::ReadKey {
            path: path.to_owned(),
            source,
        }),
    }
}

fn parse_key(path: &Path, pem: &str) -> Result<RsaPrivateKey, IssuerError> {
    let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|error| IssuerError::CorruptKey {
        path: path.to_owned(),
        detail: error.to_string(),
    })?;
    let bits = key.size() * 8;
    if bits < KEY_BITS {
        return Err(IssuerError::WeakKey {
            path: path.to_owned(),
            bits,
        });
    }
    warn_if_readable_by_others(path);
    Ok(key)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).map_or(0, |meta| meta.permissions().mode());
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            "the Cognito signing key is readable by other users; `chmod 600` it"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

/// Generates a key and publishes it at `path` atomically: written to a private temporary file,
/// then hard-linked into place, which fails if the file appeared meanwhile. So two processes
/// starting at once agree on one key (the loser reads the winner's), and nobody reads half a file.
fn create_key(path: &Path) -> Result<RsaPrivateKey, IssuerError> {
    let dir = path.parent().expect("key_file always has a directory");
    create_private_dir(dir).map_err(|source| IssuerError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;

    let key =
        RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).map_err(IssuerError::Generate)?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| IssuerError::Generate(error.into()))?;

    let write_error = |source| IssuerError::WriteKey {
        path: path.to_owned(),
        source,
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    let file_name = path
        .file_name()
        .expect("key_file always has a file name")
        .to_string_lossy();
    let temp = dir.join(format!(".{file_name}.{}.{nanos}.tmp", std::process::id()));
    let published =
        write_private_file(&temp, pem.as_bytes()).and_then(|()| fs::hard_link(&temp, path));
    let _ = fs::remove_file(&temp);
    match published {
        Ok(()) => Ok(key),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let pem = fs::read_to_string(path).map_err(|source| IssuerError::ReadKey {
                path: path.to_owned(),
                source,
            })?;
            parse_key(path, &pem)
        }
        Err(source) => Err(write_error(source)),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}
