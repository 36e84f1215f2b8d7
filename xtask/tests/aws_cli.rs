//! `cargo xtask deploy --target aws` refuses early, before any request reaches AWS, when it could
//! only fail later: no credentials, no terminal to confirm on, a cross-build tool it cannot get.
//! A wiremock server stands in for every AWS endpoint and must receive nothing.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use wiremock::MockServer;

/// `xtask <args>` with no AWS settings but `env`, a home without ~/.aws, and every AWS endpoint
/// pointed at `aws`.
fn xtask(args: &[&str], env: &[(&str, &str)], aws: &MockServer, path: &str) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        // The target directory is given, so xtask does not ask cargo for it.
        .env("CARGO_TARGET_DIR", home.path().join("target"))
        .env("AWS_ENDPOINT_URL", aws.uri())
        .env("AWS_CONFIG_FILE", home.path().join("no-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.path().join("no-credentials"),
        )
        // Not on EC2: the instance metadata service is not asked (it would only time out).
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn assert_nothing_sent(aws: &MockServer) {
    let requests = aws.received_requests().await.unwrap_or_default();
    assert!(requests.is_empty(), "AWS was called: {requests:?}");
}

#[tokio::test]
async fn without_credentials_it_says_how_to_sign_in_and_sends_nothing() {
    let aws = MockServer::start().await;
    let output = xtask(
        &["deploy", "--pattern", "lith", "--target", "aws", "--yes"],
        &[],
        &aws,
        "/usr/bin:/bin",
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("no AWS credentials found")
            && message.contains("aws sso login")
            && message.contains("Nothing was sent"),
        "{message}"
    );
    assert_nothing_sent(&aws).await;
}

#[tokio::test]
async fn without_a_terminal_it_asks_for_yes_before_anything() {
    let aws = MockServer::start().await;
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    for args in [
        &["deploy", "--pattern", "fat", "--target", "aws"][..],
        &["destroy", "--target", "aws"][..],
    ] {
        let output = xtask(args, &credentials, &aws, "/usr/bin:/bin");
        assert!(!output.status.success());
        let message = stderr(&output);
        assert!(
            message.contains("add --yes") && message.contains("Nothing was done"),
            "{message}"
        );
    }
    assert_nothing_sent(&aws).await;
}

#[tokio::test]
async fn a_missing_cross_build_tool_stops_it_with_the_command_to_run() {
    // An arm64 build here needs cargo-lambda (in .venv) and rustup's aarch64 target. With
    // neither python3 nor rustup on PATH, one of them cannot be had: the command says which
    // command installs it, and AWS hears nothing.
    let aws = MockServer::start().await;
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let empty = tempfile::tempdir().unwrap();
    let no_tools = empty.path().to_str().unwrap();
    assert!(Path::new(no_tools).read_dir().unwrap().next().is_none());
    let output = xtask(
        &[
            "deploy",
            "--pattern",
            "lith",
            "--target",
            "aws",
            "--arch",
            "arm64",
            "--yes",
        ],
        &credentials,
        &aws,
        no_tools,
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(
        message.contains("rustup target add aarch64-unknown-linux-gnu")
            || message.contains("pip install cargo-lambda"),
        "{message}"
    );
    assert_nothing_sent(&aws).await;
}

#[tokio::test]
async fn a_bad_address_is_named_and_no_ip_set_is_touched() {
    let aws = MockServer::start().await;
    let credentials = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let output = xtask(
        &[
            "ip",
            "allow",
            "300.1.2.3",
            "--ttl",
            "1h",
            "--note",
            "demo",
            "--target",
            "aws",
            "--ipv4-set",
            "S4",
            "--ipv6-set",
            "S6",
        ],
        &credentials,
        &aws,
        "/usr/bin:/bin",
    );
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("300.1.2.3"), "{message}");
    assert_nothing_sent(&aws).await;
}
