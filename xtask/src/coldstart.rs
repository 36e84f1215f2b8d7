//! `cargo xtask coldstart`: cold starts compared between the lith and FAT patterns on the local
//! stack, against a floor (a hello-world lambda_http function built in the same profile), with a
//! table, a JSON file of every raw sample (and the machine) and an SVG chart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use packaging::{Pattern, Tool, Workspace};
use stack::EnvConfig;

use crate::bench::{build_measurement, run_measure};
use crate::deploy::tool_command;
use crate::local_store::StoreArgs;
use crate::template;
use crate::ui;

/// The floor's package and binary (crates/coldstart-floor).
pub const FLOOR: Tool = ("coldstart-floor", "coldstart-floor");

/// What a cold-start run measures; flattened into the command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ColdstartOptions {
    /// Patterns to compare, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "lith,fat")]
    pub patterns: Vec<Pattern>,
    /// Forced cold starts per pattern and route group (and of the floor)
    #[arg(long, default_value_t = 10)]
    pub samples: usize,
    /// Warm requests per pattern and route group, after the cold starts
    #[arg(long, default_value_t = 100)]
    pub burst: usize,
    #[arg(long, default_value = "dev")]
    pub env: String,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: ColdstartOptions,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Builds the floor in the functions' release profile (a cargo run of its own, as each function
/// build is) and packages it as `<lambda dir>/coldstart-floor/bootstrap.zip`; returns that
/// directory.
fn build_floor(workspace: &Workspace, packages: &Path) -> Result<PathBuf> {
    ui::step("building the cold-start floor (hello-world lambda_http, release profile)");
    let built = packaging::build_release_bins(workspace, &[FLOOR], &ui::command)?;
    let executable = built.get(FLOOR.1).context("cargo built no floor binary")?;
    let contents =
        std::fs::read(executable).with_context(|| format!("reading {}", executable.display()))?;
    let dir = packages.join(FLOOR.1);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let bootstrap = dir.join("bootstrap");
    std::fs::copy(executable, &bootstrap)
        .with_context(|| format!("writing {}", bootstrap.display()))?;
    let zip = packaging::zip_bootstrap(&contents).context("zipping the floor")?;
    std::fs::write(dir.join("bootstrap.zip"), zip)
        .with_context(|| format!("writing {}", dir.join("bootstrap.zip").display()))?;
    Ok(dir)
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let options = args.options;
    if options.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let env = EnvConfig::load(&workspace.deploy_dir(), &options.env)?;
    let built = build_measurement(workspace, &options.patterns, &env)?;
    let floor = build_floor(workspace, &built.packages)?;

    let template: serde_json::Value =
        serde_json::from_str(&template::render(workspace, &options.env, options.patterns[0])?.text)
            .context("reading the rendered template")?;
    let store = args.store.prepare(
        workspace,
        &template,
        &env.region,
        &format!("catalog-{}-coldstart", options.env),
    )?;
    let out = workspace.target_dir.join("coldstart");
    let recorded = format!(
        "cargo xtask coldstart --patterns {} --samples {} --burst {} --env {} --store {}",
        options
            .patterns
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(","),
        options.samples,
        options.burst,
        options.env,
        store.name()
    );
    let mut command = tool_command(&built.measure, "coldstart", workspace, &options.env);
    for pattern in &options.patterns {
        let rendered = template::render(workspace, &options.env, *pattern)?;
        rendered.write()?;
        command.arg("--pattern").arg(format!(
            "{}={}",
            rendered.deployment.pattern.name(),
            rendered.file.display()
        ));
    }
    for variable in store.function_env() {
        command.args(["--function-env", &variable]);
    }
    command
        .arg("--artifacts")
        .arg(&built.packages)
        .arg("--floor")
        .arg(&floor)
        .args([
            "--samples",
            &options.samples.to_string(),
            "--burst",
            &options.burst.to_string(),
        ])
        .arg("--out")
        .arg(&out)
        .args(["--command", &recorded]);
    ui::step(
        "measuring cold starts on private local stacks (free ports, own state, stopped afterwards)",
    );
    run_measure(command, "cold-start measurement")?;
    ui::next(&format!(
        "open {}",
        workspace.display(&out.join("coldstart.svg"))
    ));
    Ok(())
}
