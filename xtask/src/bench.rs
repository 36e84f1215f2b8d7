//! `cargo xtask bench`: the local stack's own cost, measured on a private stack: the gateway's
//! overhead per warm request (p50, p99) and each function's cold start. Also the build that every
//! measurement command (bench, coldstart, load) starts with.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use packaging::{Pattern, Tool, Workspace};
use stack::EnvConfig;

use crate::build;
use crate::template;
use crate::ui;

/// The measurement binary (crates/measure), built as a tool: optimised, unwinding.
pub const MEASURE: Tool = ("measure", "measure");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Patterns to measure, comma-separated
    #[arg(
        long = "pattern",
        value_delimiter = ',',
        default_value = "lith,fat,single"
    )]
    patterns: Vec<Pattern>,
    #[arg(long, default_value = "dev")]
    env: String,
    /// Warm requests to time
    #[arg(long, default_value_t = 1000)]
    requests: usize,
}

/// What a measurement runs: the packages of this machine's build of `patterns`' functions (their
/// directory) and the `measure` binary.
pub struct Measurement {
    pub packages: PathBuf,
    pub measure: PathBuf,
}

/// Builds the functions of `patterns` for this machine (as the local stack runs them) and the
/// measurement binary.
pub fn build_measurement(
    workspace: &Workspace,
    patterns: &[Pattern],
    env: &EnvConfig,
) -> Result<Measurement> {
    let native = packaging::host_architecture()
        .context("the local stack runs functions natively, on x86_64 or arm64 machines only")?;
    if env.architecture != native {
        ui::note(format_args!(
            "the environment deploys {} functions; measured here is the {} build of the same code",
            env.architecture.as_str(),
            native.as_str()
        ));
    }
    if !patterns.is_empty() {
        build::build(workspace, &packaging::route_functions_of(patterns), native)?;
    }
    let tools = build::build_tools(workspace, &[MEASURE])?;
    let measure = tools
        .get(MEASURE.1)
        .cloned()
        .context("cargo built no measure binary")?;
    Ok(Measurement {
        packages: workspace.lambda_dir(native),
        measure,
    })
}

/// Runs a measurement command in the foreground; `what` names it in the error.
pub fn run_measure(mut command: Command, what: &str) -> Result<()> {
    ui::command(&command);
    let status = command
        .status()
        .with_context(|| format!("could not run the {what}"))?;
    if !status.success() {
        bail!("the {what} failed; see the message above");
    }
    Ok(())
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let env = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let built = build_measurement(workspace, &args.patterns, &env)?;
    for pattern in args.patterns {
        let rendered = template::render(workspace, &args.env, pattern)?;
        rendered.write()?;
        ui::step(format_args!(
            "benchmarking the local stack, {} pattern",
            rendered.deployment.pattern.name()
        ));
        let mut command =
            crate::deploy::tool_command(&built.measure, "bench", workspace, &args.env);
        command
            .arg("--template")
            .arg(&rendered.file)
            .arg("--artifacts")
            .arg(&built.packages)
            .args(["--requests", &args.requests.to_string()]);
        run_measure(command, "bench")?;
    }
    ui::next("cargo xtask deploy --pattern lith");
    Ok(())
}
