//! `cargo xtask deploy`: builds a pattern, renders its template, and serves it on the local stack
//! (API Gateway + WAF + Cognito + Lambda, no Docker) in the foreground. `--target aws` comes with
//! the AWS deployment.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::{self, Tool};
use crate::template::{self, DeployPattern, Which};
use crate::workspace::Workspace;
use crate::{ip, ui};

/// The local stack's binary, built beside the functions.
pub const DEVSTACK: Tool = ("devstack", "devstack");

/// `devstack <subcommand> --env-file deploy/envs/<env>.toml`: every subcommand reads the
/// environment's user pools and region.
pub fn devstack_command(
    program: &Path,
    subcommand: &str,
    workspace: &Workspace,
    env: &str,
) -> Command {
    let mut command = Command::new(program);
    command.arg(subcommand).arg("--env-file").arg(
        workspace
            .root
            .join("deploy/envs")
            .join(format!("{env}.toml")),
    );
    command
}

/// Where a deployment goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The local stack on 127.0.0.1, state in .devstack/
    Local,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    which: Which,
    /// Where to deploy (`aws` comes with the AWS deployment)
    #[arg(long, value_enum, default_value_t = Target::Local)]
    target: Target,
    /// Local port of the stack
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Trust the real Cognito pools' public JWKS, so tokens of the existing services work locally
    #[arg(long)]
    trust_cognito: bool,
    /// Trust this JWKS for one pool instead of local keys: <pool-name>=<url> (repeatable)
    #[arg(long, value_name = "POOL=URL")]
    jwks_url: Vec<String>,
    /// Execution environments per function at once; beyond, requests get 429
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Seconds an idle execution environment lives before it is reclaimed
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let Target::Local = args.target;
    let rendered = template::render(workspace, &args.which.env, args.which.pattern.into())?;
    let changed = rendered.write()?;
    ui::step(format_args!(
        "template {} ({})",
        workspace.display(&rendered.file),
        if changed { "updated" } else { "unchanged" }
    ));

    let pattern = DeployPattern::build_set(&[args.which.pattern]);
    let (artifacts, tools) = build::build_with_tools(workspace, pattern, &[DEVSTACK])?;
    build::print_artifacts(workspace, &artifacts);
    let devstack = tools
        .get(DEVSTACK.1)
        .context("cargo built no devstack binary")?;

    let allowed = ip::allow_loopback_on_first_start(workspace, &args.which.env)?;
    if !allowed.is_empty() {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        ui::step(format_args!(
            "first start: the WAF allows your loopback addresses ({}) for 12h; manage with `cargo xtask ip`",
            list.join(", ")
        ));
    }

    let mut command = devstack_command(devstack, "serve", workspace, &args.which.env);
    command
        .arg("--template")
        .arg(&rendered.file)
        .arg("--artifacts")
        .arg(workspace.lambda_dir())
        .arg("--state")
        .arg(workspace.devstack_dir())
        .args(["--port", &args.port.to_string()])
        .args(["--concurrency", &args.concurrency.to_string()])
        .args(["--idle-timeout-secs", &args.idle_timeout_secs.to_string()]);
    if args.trust_cognito {
        command.arg("--trust-cognito");
    }
    for jwks in &args.jwks_url {
        command.args(["--jwks-url", jwks]);
    }
    ui::step(format_args!(
        "starting the local stack ({} pattern, {} environment)",
        rendered.deployment.pattern.name(),
        args.which.env
    ));
    ui::command(&command);
    println!();
    let status = command
        .status()
        .context("could not start the local stack")?;
    if !status.success() && status.code().is_some() {
        bail!("the local stack stopped with {status}; its messages are above");
    }
    Ok(())
}
