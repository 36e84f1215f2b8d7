//! `cargo xtask coldstart --target aws`, the command itself, against a fake AWS (wiremock as
//! `AWS_ENDPOINT_URL`, Lambda modelled by the measurement's own test fake): a whole run over two
//! patterns, two architectures and two memory sizes that writes the JSON and SVG and leaves no
//! function behind; and the same run stopped half way by a real SIGINT (Ctrl-C), which still
//! deletes what it created.
//!
//! The command runs with `--no-build` on the packages `cargo xtask test` builds for both
//! architectures (`cargo xtask build --arch x86_64` and `--arch arm64` make them).

#[allow(dead_code)]
#[path = "../../crates/coldstart-aws/tests/fake_aws/mod.rs"]
mod fake_aws;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fake_aws::*;
use wiremock::MockServer;

/// The fake account, served from its own runtime (the command runs in another process).
fn account(runtime: &tokio::runtime::Runtime, behaviour: Behaviour) -> (MockServer, FakeLambda) {
    runtime.block_on(async {
        let server = MockServer::start().await;
        mount_account(&server).await;
        mount_stack(&server).await;
        let lambda = FakeLambda::mount(&server, behaviour).await;
        (server, lambda)
    })
}

/// `cargo xtask coldstart --target aws ...` against `server`, writing into `out`.
fn command(server: &MockServer, out: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args([
            "coldstart",
            "--target",
            "aws",
            "--env",
            "dev",
            "--patterns",
            "lith,fat",
            "--arch",
            "x86_64,arm64",
            "--memory",
            "128,512",
            "--samples",
            "1",
            "--no-build",
            "--out",
        ])
        .arg(out)
        .env("AWS_ENDPOINT_URL", server.uri())
        .env("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
        .env("AWS_SECRET_ACCESS_KEY", "fake-secret")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_whole_run_writes_the_json_and_svg_and_leaves_no_function_behind() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, lambda) = account(
        &runtime,
        Behaviour {
            polls_in_progress: 0,
            ..Behaviour::default()
        },
    );
    let out = tempfile::tempdir().unwrap();
    let output = command(&server, out.path()).output().unwrap();
    let said = text(&output);
    assert!(output.status.success(), "{said}");

    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.path().join("coldstart.json")).expect("coldstart.json"),
    )
    .unwrap();
    let patterns = json["patterns"].as_array().unwrap();
    assert_eq!(patterns.len(), 8, "2 patterns x 2 architectures x 2 sizes");
    for result in patterns {
        for group in result["groups"].as_array().unwrap() {
            assert_eq!(group["cold"].as_array().unwrap().len(), 1, "{group}");
        }
    }
    assert_eq!(json["functions"]["created"].as_array().unwrap().len(), 12);
    assert_eq!(json["functions"]["created"], json["functions"]["deleted"]);
    let svg = std::fs::read_to_string(out.path().join("coldstart.svg")).expect("coldstart.svg");
    assert!(svg.starts_with("<svg") && svg.contains("fat arm64 512 MB"));
    assert!(
        said.contains("created 12 temporary function(s), deleted 12"),
        "{said}"
    );
    assert!(said.contains("cost: 24 requests"), "{said}");
    assert!(lambda.left_behind().is_empty());
}

#[test]
fn ctrl_c_half_way_still_deletes_what_was_created() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, lambda) = account(
        &runtime,
        Behaviour {
            polls_in_progress: 0,
            // The 10th of 24 cold starts: the fifth function's (two memory sizes each).
            slow_invoke: Some((10, Duration::from_secs(5))),
            ..Behaviour::default()
        },
    );
    let out = tempfile::tempdir().unwrap();
    let child = command(&server, out.path()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while lambda.state.lock().unwrap().invocations.len() < 10 {
        assert!(
            Instant::now() < deadline,
            "the run never reached its 10th invoke"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // What a terminal's Ctrl-C sends.
    let signalled = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    let output = child.wait_with_output().unwrap();
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("interrupted (Ctrl-C)"), "{said}");
    assert!(
        said.contains("created 5 temporary function(s), deleted 5"),
        "{said}"
    );
    assert!(lambda.left_behind().is_empty());
    assert!(
        !out.path().join("coldstart.json").exists(),
        "no results from a stopped run"
    );
}
