//! `cargo xtask bench`: the local stack's own cost, measured on a private stack: the gateway's
//! overhead per warm request (p50, p99) and each function's cold start.

use anyhow::{Context, Result, bail};

use packaging::{Pattern, Workspace};
use stack::EnvConfig;

use crate::build;
use crate::deploy::devstack_command;
use crate::template;
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Patterns to measure, comma-separated
    #[arg(long = "pattern", value_delimiter = ',', default_value = "lith,fat")]
    patterns: Vec<Pattern>,
    #[arg(long, default_value = "dev")]
    env: String,
    /// Warm requests to time
    #[arg(long, default_value_t = 1000)]
    requests: usize,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let env = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let (artifacts, devstack) = build::build_for_local_stack(workspace, &args.patterns, &env)?;
    let packages = artifacts
        .first()
        .map(|artifact| workspace.lambda_dir(artifact.architecture))
        .context("nothing was built")?;
    for pattern in args.patterns {
        let rendered = template::render(workspace, &args.env, pattern)?;
        rendered.write()?;
        ui::step(format_args!(
            "benchmarking the local stack, {} pattern",
            rendered.deployment.pattern.name()
        ));
        let mut command = devstack_command(&devstack, "bench", workspace, &args.env);
        command
            .arg("--template")
            .arg(&rendered.file)
            .arg("--artifacts")
            .arg(&packages)
            .args(["--requests", &args.requests.to_string()]);
        ui::command(&command);
        if !command
            .status()
            .context("could not run the local stack's bench")?
            .success()
        {
            bail!("the bench failed; see the message above");
        }
    }
    ui::next("cargo xtask deploy --pattern lith");
    Ok(())
}
