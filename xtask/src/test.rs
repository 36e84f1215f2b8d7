//! `cargo xtask test`: every test of the workspace, with what the tests need built or installed.
//!
//! The end-to-end tests in `tests/` run the packaged `bootstrap.zip` files, so the Lambda packages
//! are built first, for both architectures (the native ones run, both have their ELF headers
//! checked); the tests find them through `CATALOG_LAMBDA_DIR` (`<target>/lambda`, holding
//! `<architecture>/<function>/bootstrap.zip`).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use packaging::{Architecture, Pattern, Workspace};

use crate::build;
use crate::tools::{self, TestRunner, python};
use crate::ui;

/// Python tools the tests use, installed into `<root>/.venv` (whose `bin` then leads PATH).
/// moto's server emulates AWS (Cognito's RS256 tokens and JWKS, CloudFormation, S3, ...);
/// cfn-lint checks the templates; cargo-lambda cross-builds the other architecture.
const PYTHON_REQUIREMENTS: &[&str] = &[python::MOTO, python::CFN_LINT, python::CARGO_LAMBDA];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Extra arguments for the test runner, e.g. a test name filter or `--no-fail-fast`
    #[arg(last = true)]
    runner_args: Vec<String>,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    ui::step("[1/3] checking test tools");
    let (runner, version) = tools::test_runner(workspace);
    match version {
        Some(version) => ui::note(format_args!("test runner: {version}")),
        None => ui::note(
            "cargo-nextest not found, falling back to `cargo test` \
             (for faster, isolated runs: cargo install cargo-nextest --locked)",
        ),
    }
    let venv = tools::python_tools(workspace, PYTHON_REQUIREMENTS)?;
    if let Some(venv) = &venv {
        ui::note(format_args!(
            "python tools: {}",
            workspace.display(&venv.bin_dir())
        ));
    }
    let chromium = tools::chromium()?;
    ui::note(format_args!("browser: {}", chromium.display()));

    ui::step("[2/3] building the Lambda packages of both architectures for the end-to-end tests");
    let mut artifacts = Vec::new();
    for architecture in Architecture::ALL {
        let functions = packaging::functions_of(&Pattern::ALL);
        artifacts.extend(build::build(workspace, &functions, architecture)?);
    }
    build::print_artifacts(workspace, &artifacts);

    let mut cargo = workspace.cargo();
    match runner {
        TestRunner::Nextest => cargo.args(["nextest", "run", "--workspace", "--all-targets"]),
        TestRunner::CargoTest => cargo.args(["test", "--workspace", "--all-targets"]),
    };
    cargo
        .args(&args.runner_args)
        .env("CATALOG_LAMBDA_DIR", workspace.packages_dir())
        .env("CHROMIUM", &chromium);
    if let Some(venv) = &venv {
        cargo.env("PATH", venv.path_env()?);
    }
    ui::step(format_args!(
        "[3/3] running the workspace tests with {}",
        runner_name(runner)
    ));
    ui::command(&cargo);
    run_tests(cargo, runner, &workspace.packages_dir())?;

    ui::step("all tests passed");
    ui::next("cargo xtask deploy --pattern lith");
    Ok(())
}

fn runner_name(runner: TestRunner) -> &'static str {
    match runner {
        TestRunner::Nextest => "cargo-nextest",
        TestRunner::CargoTest => "cargo test",
    }
}

fn run_tests(mut cargo: Command, runner: TestRunner, lambda_dir: &Path) -> Result<()> {
    let status = cargo
        .status()
        .context("could not start `cargo` for the tests; is the Rust toolchain on PATH?")?;
    if status.success() {
        return Ok(());
    }
    let rerun = match runner {
        TestRunner::Nextest => "cargo nextest run -p <crate> <test name>",
        TestRunner::CargoTest => "cargo test -p <crate> <test name>",
    };
    let what = failure(runner, status.code());
    bail!(
        "{what} ({status}); see the output above. Re-run one crate or test with \
         `CATALOG_LAMBDA_DIR={} {rerun}`, or everything with `cargo xtask test`",
        lambda_dir.display()
    )
}

/// What a failed run means, from the runner's exit code (nextest's codes are documented).
fn failure(runner: TestRunner, code: Option<i32>) -> &'static str {
    match (runner, code) {
        (TestRunner::Nextest, Some(100)) => "tests failed",
        (TestRunner::Nextest, Some(101)) => "the tests did not compile",
        (TestRunner::Nextest, Some(4)) => "no tests were run (check the filter)",
        (TestRunner::Nextest, _) => "cargo-nextest failed",
        (TestRunner::CargoTest, _) => "tests failed or did not compile",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_say_what_went_wrong() {
        assert_eq!(failure(TestRunner::Nextest, Some(100)), "tests failed");
        assert_eq!(
            failure(TestRunner::Nextest, Some(101)),
            "the tests did not compile"
        );
        assert_eq!(
            failure(TestRunner::CargoTest, Some(101)),
            "tests failed or did not compile"
        );
    }
}
