//! `cargo xtask coldstart`: cold starts compared between the lith and FAT patterns on the local
//! stack, with a table, a JSON file of every raw sample (and the machine) and an SVG chart.

use anyhow::{Context, Result, bail};

use packaging::{Pattern, Workspace};
use stack::EnvConfig;

use crate::build;
use crate::deploy::devstack_command;
use crate::template;
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Patterns to compare, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "lith,fat")]
    patterns: Vec<Pattern>,
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
    let env = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let (artifacts, devstack) = build::build_for_local_stack(workspace, &args.patterns, &env)?;
    build::print_artifacts(workspace, &artifacts);
    let packages = artifacts
        .first()
        .map(|artifact| workspace.lambda_dir(artifact.architecture))
        .context("nothing was built")?;

    let out = workspace.target_dir.join("coldstart");
    let recorded = format!(
        "cargo xtask coldstart --patterns {} --samples {} --burst {} --env {}",
        args.patterns
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(","),
        args.samples,
        args.burst,
        args.env
    );
    let mut command = devstack_command(&devstack, "coldstart", workspace, &args.env);
    for pattern in &args.patterns {
        let rendered = template::render(workspace, &args.env, *pattern)?;
        rendered.write()?;
        command.arg("--pattern").arg(format!(
            "{}={}",
            rendered.deployment.pattern.name(),
            rendered.file.display()
        ));
    }
    command
        .arg("--artifacts")
        .arg(&packages)
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
