//! `cargo xtask coldstart`: cold starts compared between the lith and FAT patterns on the local
//! stack, with a table, a JSON file of every raw sample (and the machine) and an SVG chart.

use anyhow::{Context, Result, bail};

use crate::build;
use crate::deploy::{DEVSTACK, devstack_command};
use crate::template::{self, DeployPattern};
use crate::ui;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Patterns to compare, comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lith,fat")]
    patterns: Vec<DeployPattern>,
    /// Forced cold starts per pattern and route group
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Warm requests per pattern and route group, after the cold starts
    #[arg(long, default_value_t = 100)]
    burst: usize,
    #[arg(long, default_value = "dev")]
    env: String,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let build_pattern = DeployPattern::build_set(&args.patterns);
    let (artifacts, tools) = build::build_with_tools(workspace, build_pattern, &[DEVSTACK])?;
    build::print_artifacts(workspace, &artifacts);
    let devstack = tools
        .get(DEVSTACK.1)
        .context("cargo built no devstack binary")?;

    let out = workspace.target_dir.join("coldstart");
    let recorded = format!(
        "cargo xtask coldstart --patterns {} --samples {} --burst {} --env {}",
        args.patterns
            .iter()
            .map(|p| stack::Pattern::from(*p).name())
            .collect::<Vec<_>>()
            .join(","),
        args.samples,
        args.burst,
        args.env
    );
    let mut command = devstack_command(devstack, "coldstart", workspace, &args.env);
    for pattern in &args.patterns {
        let rendered = template::render(workspace, &args.env, (*pattern).into())?;
        rendered.write()?;
        command.arg("--pattern").arg(format!(
            "{}={}",
            rendered.deployment.pattern.name(),
            rendered.file.display()
        ));
    }
    command
        .arg("--artifacts")
        .arg(workspace.lambda_dir())
        .args([
            "--samples",
            &args.samples.to_string(),
            "--burst",
            &args.burst.to_string(),
        ])
        .arg("--out")
        .arg(&out)
        .args(["--command", &recorded]);
    ui::step(
        "measuring cold starts on private local stacks (free ports, own state, stopped afterwards)",
    );
    ui::command(&command);
    if !command
        .status()
        .context("could not run the local stack's coldstart")?
        .success()
    {
        bail!("the cold-start measurement failed; see the message above");
    }
    ui::next(&format!(
        "open {}",
        workspace.display(&out.join("coldstart.svg"))
    ));
    Ok(())
}
