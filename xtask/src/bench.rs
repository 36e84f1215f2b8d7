//! `cargo xtask bench`: the local stack's own cost, measured on a private stack: the gateway's
//! overhead per warm request (p50, p99) and each function's cold start.

use anyhow::{Context, Result, bail};

use crate::build;
use crate::deploy::{DEVSTACK, devstack_command};
use crate::template::{self, DeployPattern};
use crate::ui;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pattern: Vec<DeployPattern>,
    #[arg(long, default_value = "dev")]
    env: String,
    /// Warm requests to time
    #[arg(long, default_value_t = 1000)]
    requests: usize,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let patterns = if args.pattern.is_empty() {
        vec![DeployPattern::Lith, DeployPattern::Fat]
    } else {
        args.pattern
    };
    let build_pattern = DeployPattern::build_set(&patterns);
    let (_, tools) = build::build_with_tools(workspace, build_pattern, &[DEVSTACK])?;
    let devstack = tools
        .get(DEVSTACK.1)
        .context("cargo built no devstack binary")?;
    for pattern in patterns {
        let rendered = template::render(workspace, &args.env, pattern.into())?;
        rendered.write()?;
        ui::step(format_args!(
            "benchmarking the local stack, {} pattern",
            rendered.deployment.pattern.name()
        ));
        let mut command = devstack_command(devstack, "bench", workspace, &args.env);
        command
            .arg("--template")
            .arg(&rendered.file)
            .arg("--artifacts")
            .arg(workspace.lambda_dir())
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
