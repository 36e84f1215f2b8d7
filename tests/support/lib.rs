//! Helpers for end-to-end tests: find the packaged functions (`cargo xtask build`) and call them
//! with API Gateway REST events through the real Lambda Runtime API, or run the whole local stack
//! over HTTP ([`local_stack`]); start moto's Cognito emulation for tokens the stack did not mint
//! ([`moto`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devstack::proxy::{ProxyRequest, ProxyResponse};
use devstack::{ExecutionEnvironment, FunctionConfig, InvokeError, LogLine, LogSink};

pub mod local_stack;
pub mod moto;
pub mod raw;

/// The stage every test deploys to.
pub const STAGE: &str = "dev";

/// The build's target directory: `CARGO_TARGET_DIR`, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Where `cargo xtask build` puts the packages, one directory per architecture:
/// `CATALOG_LAMBDA_DIR`, else `<workspace>/target/lambda`.
pub fn packages_dir() -> PathBuf {
    std::env::var_os("CATALOG_LAMBDA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("lambda"))
}

/// The packages this machine can run: `<packages>/<this machine's architecture>`.
pub fn lambda_dir() -> PathBuf {
    let native = packaging::host_architecture().expect("the tests run on x86_64 or arm64");
    packages_dir().join(native.as_str())
}

/// The deployment package of `function`; fails the test with the command that makes it.
pub fn package(function: &str) -> PathBuf {
    let zip = lambda_dir().join(function).join("bootstrap.zip");
    assert!(
        zip.is_file(),
        "{} is missing: run `cargo xtask build` first (`cargo xtask test` does)",
        zip.display()
    );
    zip
}

/// One execution environment of a packaged function, with its log lines kept for assertions.
pub struct Function {
    pub environment: ExecutionEnvironment,
    pub logs: Arc<Mutex<Vec<LogLine>>>,
}

impl Function {
    /// Cold-starts `function` with the given environment variables, unpacked under `work_dir`.
    pub async fn start(function: &str, env: &[(&str, &str)], work_dir: &Path) -> Function {
        let mut config = FunctionConfig::new(function, package(function));
        config.timeout = Duration::from_secs(10);
        config.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let environment =
            ExecutionEnvironment::start(config, work_dir, LogSink::collect(Arc::clone(&logs)))
                .await
                .unwrap_or_else(|e| panic!("starting {function}: {e}"));
        Function { environment, logs }
    }

    /// Sends one API Gateway event and returns the function's proxy response.
    pub async fn send(&mut self, request: ProxyRequest) -> ProxyResponse {
        match self.try_send(request).await {
            Ok(response) => response,
            Err(error) => panic!("invocation failed: {error}\nlogs:\n{}", self.log_text()),
        }
    }

    pub async fn try_send(&mut self, request: ProxyRequest) -> Result<ProxyResponse, InvokeError> {
        let invocation = self.environment.invoke(request.to_event()).await?;
        Ok(
            ProxyResponse::from_payload(&invocation.response)
                .expect("a well-formed proxy response"),
        )
    }

    /// Every line logged so far, one per line.
    pub fn log_text(&self) -> String {
        let logs = self.logs.lock().unwrap();
        logs.iter()
            .map(|line| line.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits (briefly) for a log line containing `text`: the function's output travels through
    /// pipes and may land just after the invocation returns.
    pub async fn wait_for_log(&self, text: &str) -> String {
        for _ in 0..100 {
            let logs = self.log_text();
            if logs.contains(text) {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no log line contains {text:?}; logs:\n{}", self.log_text())
    }

    /// Kills the process, as Lambda does when it reclaims an environment.
    pub async fn stop(self) {
        self.environment
            .shutdown()
            .await
            .expect("stopping the function");
    }
}

/// A request through the catch-all resource at the test stage.
pub fn request(method: &str, path: &str) -> ProxyRequest {
    ProxyRequest::new(method, STAGE, path)
}

/// Claims as a Cognito User Pools authorizer passes them (every value a string).
pub fn claims(username: &str) -> serde_json::Map<String, serde_json::Value> {
    let serde_json::Value::Object(map) = serde_json::json!({
        "sub": format!("{username}-sub"),
        "cognito:username": username,
        "email": format!("{username}@example.com"),
        "token_use": "id",
        "iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_example",
    }) else {
        unreachable!("a JSON object literal")
    };
    map
}

/// `sqlite://` URL of a database file in `dir`.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("catalog.db").display())
}

/// Runs each scenario `async fn <name>(pattern: stack::Pattern)` once per packaging pattern, as
/// the tests `<name>::lith`, `<name>::fat` and `<name>::single`.
#[macro_export]
macro_rules! all_patterns {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn lith() {
                super::$scenario(stack::Pattern::Lith).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fat() {
                super::$scenario(stack::Pattern::Fat).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single() {
                super::$scenario(stack::Pattern::Single).await;
            }
        }
    )*};
}
