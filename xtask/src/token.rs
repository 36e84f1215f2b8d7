//! `cargo xtask token`: an ID token of a local Cognito user pool, alone on stdout, so that
//! `TOKEN=$(cargo xtask token --user alice)` works. Everything else goes to stderr.

use std::os::fd::AsFd;
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::build::DEVSTACK;
use crate::deploy::tool_command;
use crate::ip::{Ttl, parse_ttl};
use packaging::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The user's name (cognito:username)
    #[arg(long)]
    user: String,
    /// The user pool, by its name in deploy/envs/<env>.toml [default: the first listed]
    #[arg(long)]
    pool: Option<String>,
    /// A cognito:groups entry (repeatable)
    #[arg(long)]
    group: Vec<String>,
    /// Lifetime: 30m, 1h, 1d
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Ttl,
    #[arg(long, default_value = "dev")]
    env: String,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let Some(ttl) = args.ttl.duration() else {
        bail!("a token cannot live forever: give --ttl as 30m, 1h or 1d");
    };
    // The same packages as `deploy`'s build of the stack, so the binary it built is reused.
    let mut cargo = workspace.cargo();
    cargo.args([
        "build",
        "--profile",
        packaging::TOOL_PROFILE,
        "--quiet",
        "-p",
        DEVSTACK.0,
        "--bin",
        DEVSTACK.1,
    ]);
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stderr")?;
    let built = cargo
        .stdout(Stdio::from(stderr))
        .status()
        .context("could not run cargo")?;
    if !built.success() {
        bail!("building the local stack failed; the errors are above");
    }
    let program = packaging::tool_path(workspace, DEVSTACK.1);
    let mut command = tool_command(&program, "token", workspace, &args.env);
    command.arg("--state").arg(workspace.devstack_dir()).args([
        "--user",
        &args.user,
        "--ttl-secs",
        &ttl.as_secs().to_string(),
    ]);
    if let Some(pool) = &args.pool {
        command.args(["--pool", pool]);
    }
    for group in &args.group {
        command.args(["--group", group]);
    }
    let status = command
        .status()
        .context("could not run the local stack's token command")?;
    if !status.success() {
        bail!("no token was minted; see the message above");
    }
    Ok(())
}
