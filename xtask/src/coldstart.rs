//! `cargo xtask coldstart`: cold starts compared between the lith, FAT and single-purpose
//! patterns on the local stack, against a floor (a hello-world lambda_http function built in the
//! same profile), with a table, a JSON file of every raw sample (and the machine) and an SVG
//! chart.
//!
//! With `--target aws`, the same comparison in AWS Lambda, across architectures and memory sizes
//! too: the packages are built for each architecture and handed to `coldstart-aws`, which makes
//! temporary functions beside the environment's stack and deletes them at the end (Ctrl-C
//! included).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use packaging::{Architecture, Pattern, Tool, Workspace};
use stack::EnvConfig;

use crate::aws::{self, AwsArgs};
use crate::bench::{build_measurement, run_measure};
use crate::build;
use crate::deploy::{Target, tool_command};
use crate::local_store::{StoreArgs, StoreKind};
use crate::template;
use crate::ui;

/// The floor's package and binary (crates/coldstart-floor).
pub const FLOOR: Tool = ("coldstart-floor", "coldstart-floor");

/// What a cold-start run measures; flattened into the command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ColdstartOptions {
    /// Patterns to compare, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "lith,fat,single")]
    pub patterns: Vec<Pattern>,
    /// Forced cold starts per pattern and row: route group, or route with --per-route (and of the
    /// floor)
    #[arg(long, default_value_t = 10)]
    pub samples: usize,
    /// Warm requests per pattern and row, after the cold starts
    #[arg(long, default_value_t = 100)]
    pub burst: usize,
    /// Locally: one row per route of the table (13) instead of one per route group, writes
    /// included (with a token of the environment's first pool)
    #[arg(long)]
    pub per_route: bool,
    #[arg(long, default_value = "dev")]
    pub env: String,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: ColdstartOptions,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to measure: private local stacks, or AWS Lambda beside the environment's stack
    #[arg(long, value_enum, default_value_t = Target::Local)]
    pub target: Target,
    /// With --target aws: the architectures to compare, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "x86_64,arm64")]
    pub arch: Vec<Architecture>,
    /// With --target aws: the memory sizes (MB) to compare, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "128,512,1024")]
    pub memory: Vec<u32>,
    /// With --target aws: AWS profile (from ~/.aws/config) [default: AWS_PROFILE, else the default chain]
    #[arg(long)]
    pub profile: Option<String>,
    /// With --target aws: AWS region [default: the environment file's `region`]
    #[arg(long)]
    pub region: Option<String>,
    /// With --target aws: measure the packages `cargo xtask build --arch A` left in
    /// target/lambda/<A> instead of building them
    #[arg(long)]
    pub no_build: bool,
    /// Where to write coldstart.json, .svg and .txt [default: target/coldstart, or
    /// target/coldstart-aws with --target aws]
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    if args.target == Target::Aws {
        return in_aws(workspace, args);
    }
    if args.no_build {
        bail!("--no-build is for --target aws: the local measurement builds what it runs");
    }
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
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace.target_dir.join("coldstart"));
    let recorded = format!(
        "cargo xtask coldstart --patterns {} --samples {} --burst {} --env {} --store {}{}",
        options
            .patterns
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(","),
        options.samples,
        options.burst,
        options.env,
        store.name(),
        if options.per_route {
            " --per-route"
        } else {
            ""
        }
    );
    let mut command = tool_command(&built.measure, "coldstart", workspace, &options.env);
    if options.per_route {
        command.arg("--per-route");
    }
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

/// `--target aws`: credentials first (nothing is built without them), then the packages of every
/// architecture, then the measurement, with Ctrl-C wired to its interruption flag so that what it
/// created is deleted before the command ends.
fn in_aws(workspace: &Workspace, args: Args) -> Result<()> {
    let options = &args.options;
    if options.samples == 0 {
        bail!("--samples must be at least 1");
    }
    if options.per_route {
        bail!(
            "--per-route is for the local stack: in AWS each route group is measured through \
             its probe route (run `cargo xtask coldstart --per-route` for every route locally)"
        );
    }
    if args.store.store == StoreKind::Dynamodb {
        bail!(
            "--store is for the local stack: in AWS the functions use the stack's own data store \
             (its DynamoDB table)"
        );
    }
    let env = EnvConfig::load(&workspace.deploy_dir(), &options.env)?;
    let runtime = aws::runtime()?;
    let aws_args = AwsArgs {
        profile: args.profile.clone(),
        region: args.region.clone(),
        yes: true,
    };
    let session = aws_args.connect(&runtime, &env)?;
    ui::step(format_args!(
        "AWS credentials found; measuring in {}",
        session.destination()
    ));

    let functions = packaging::route_functions_of(&options.patterns);
    let mut packages = Vec::new();
    for &architecture in &args.arch {
        if !args.no_build {
            packages.extend(build::build(workspace, &functions, architecture)?);
            continue;
        }
        let dir = workspace.lambda_dir(architecture);
        for &function in &functions {
            let artifact =
                packaging::read_artifact(&dir, function, architecture).with_context(|| {
                    format!(
                        "--no-build: no {} package for {} in {}; build it with `cargo xtask \
                         build --arch {}`",
                        function.name(),
                        architecture.as_str(),
                        workspace.display(&dir),
                        architecture.as_str()
                    )
                })?;
            packages.push(artifact);
        }
        ui::step(format_args!(
            "the {} packages as built in {} (--no-build)",
            architecture.as_str(),
            workspace.display(&dir)
        ));
    }
    let list = |items: Vec<String>| items.join(",");
    let command = format!(
        "cargo xtask coldstart --target aws --env {} --patterns {} --arch {} --memory {} --samples {}",
        options.env,
        list(
            options
                .patterns
                .iter()
                .map(|p| p.name().to_owned())
                .collect()
        ),
        list(args.arch.iter().map(|a| a.as_str().to_owned()).collect()),
        list(args.memory.iter().map(u32::to_string).collect()),
        options.samples
    );
    let plan = coldstart_aws::Plan {
        env: options.env.clone(),
        config: env,
        patterns: options.patterns.clone(),
        architectures: args.arch.clone(),
        memory_mb: args.memory.clone(),
        samples: options.samples,
        packages,
        command,
    };
    let measurement = coldstart_aws::Measurement::new(session);
    ui::step(format_args!(
        "measuring in temporary functions catalog-{}-cs{}-* (deleted at the end, Ctrl-C included)",
        options.env,
        measurement.run_id()
    ));
    let interrupt = coldstart_aws::Interrupt::new();
    let mut progress = coldstart_aws::TerminalProgress::new();
    let outcome = runtime.block_on(async {
        let on_ctrl_c = interrupt.clone();
        let watcher = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_ctrl_c.interrupt();
            }
        });
        let outcome = measurement.run(&plan, &mut progress, &interrupt).await;
        watcher.abort();
        outcome
    });
    let run = match outcome {
        Ok(run) => run,
        Err(failed) => {
            ui::note(format_args!("used before it stopped: {}", failed.cost));
            return Err(failed.into());
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace.target_dir.join("coldstart-aws"));
    println!();
    print!("{}", run.table());
    println!();
    ui::note(format_args!("cost: {}", run.cost));
    ui::note(format_args!("functions: {}", run.functions.summary()));
    let written = run
        .write(&out)
        .with_context(|| format!("writing into {}", out.display()))?;
    println!();
    for (kind, path) in written {
        ui::note(format_args!("{kind:<6} {}", workspace.display(&path)));
    }
    ui::next(&format!(
        "open {}",
        workspace.display(&out.join("coldstart.svg"))
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn the_aws_run_takes_patterns_architectures_and_memory_sizes() {
        let Cli { args } = Cli::parse_from([
            "coldstart",
            "--target",
            "aws",
            "--env",
            "dev",
            "--patterns",
            "lith",
            "--arch",
            "arm64",
            "--memory",
            "256,2048",
            "--samples",
            "3",
        ]);
        assert_eq!(args.target, Target::Aws);
        assert_eq!(args.options.patterns, [Pattern::Lith]);
        assert_eq!(args.arch, [Architecture::Arm64]);
        assert_eq!(args.memory, [256, 2048]);
        assert_eq!(args.options.samples, 3);

        // The issues' defaults: all three patterns, both architectures, three memory sizes, 10
        // samples, on the local stack unless told otherwise.
        let Cli { args } = Cli::parse_from(["coldstart"]);
        assert_eq!(args.target, Target::Local);
        assert_eq!(args.options.patterns, Pattern::ALL);
        assert_eq!(args.arch, [Architecture::X86_64, Architecture::Arm64]);
        assert_eq!(args.memory, [128, 512, 1024]);
        assert_eq!(args.options.samples, 10);
    }
}
