//! `cargo xtask build`: release Lambda binaries for an architecture, each packaged as
//! `<target>/lambda/<architecture>/<function>/bootstrap.zip` (the `packaging` crate does the work).

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use packaging::{Architecture, Artifact, Function, Pattern, Tool, Workspace};
use stack::EnvConfig;

use crate::{tools, ui};

/// The local stack's binary, built beside the functions (in its own cargo run).
pub const DEVSTACK: Tool = ("devstack", "devstack");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The patterns whose functions to build, comma-separated: lith, fat, single
    #[arg(
        long = "pattern",
        value_delimiter = ',',
        default_value = "lith,fat,single"
    )]
    patterns: Vec<Pattern>,
    /// Lambda architecture: x86_64 or arm64 [default: the environment's `architecture`]
    #[arg(long)]
    arch: Option<Architecture>,
    /// Environment whose architecture to build for: reads deploy/envs/<env>.toml
    #[arg(long, default_value = "dev")]
    env: String,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let architecture = match args.arch {
        Some(architecture) => architecture,
        None => EnvConfig::load(&workspace.deploy_dir(), &args.env)?.architecture,
    };
    let artifacts = build(
        workspace,
        &packaging::functions_of(&args.patterns),
        architecture,
    )?;
    print_artifacts(workspace, &artifacts);
    ui::next(&format!(
        "cargo xtask deploy --pattern {}   (or: cargo xtask test)",
        args.patterns
            .first()
            .copied()
            .unwrap_or(Pattern::Lith)
            .name()
    ));
    Ok(())
}

/// Builds and packages `functions` for `architecture`, first installing what a cross build
/// needs (cargo-lambda, the Rust target) when it is not this machine's.
pub fn build(
    workspace: &Workspace,
    functions: &[Function],
    architecture: Architecture,
) -> Result<Vec<Artifact>> {
    let build_tools = tools::cross_build_tools(workspace, architecture)?;
    let names: Vec<&str> = functions.iter().map(|function| function.name()).collect();
    let how = if packaging::needs_cross_build(architecture) {
        "cross-compiled with cargo-lambda"
    } else {
        "native"
    };
    ui::step(format_args!(
        "building release binaries for {} ({how}): {}",
        architecture.as_str(),
        names.join(", ")
    ));
    let artifacts = packaging::build(
        workspace,
        functions,
        architecture,
        &build_tools,
        &ui::command,
    )?;
    ui::step(format_args!(
        "packaged bootstrap.zip files in {}",
        workspace.display(&workspace.lambda_dir(architecture))
    ));
    Ok(artifacts)
}

/// What the local stack runs: this machine's build of the functions that serve `patterns`' routes
/// (the janitor runs inside the local stack), and the `devstack` binary. An environment for
/// another architecture is still run locally with the native build, and this says so.
pub fn build_for_local_stack(
    workspace: &Workspace,
    patterns: &[Pattern],
    env: &EnvConfig,
) -> Result<(Vec<Artifact>, PathBuf)> {
    let native = packaging::host_architecture()
        .context("the local stack runs functions natively, on x86_64 or arm64 machines only")?;
    if env.architecture != native {
        ui::note(format_args!(
            "the environment deploys {} functions; the local stack runs the {} build of the same code",
            env.architecture.as_str(),
            native.as_str()
        ));
    }
    let artifacts = build(workspace, &packaging::route_functions_of(patterns), native)?;
    let tools = build_tools(workspace, &[DEVSTACK])?;
    let devstack = tools
        .get(DEVSTACK.1)
        .cloned()
        .context("cargo built no devstack binary")?;
    Ok((artifacts, devstack))
}

/// Release-builds tools (see [`Tool`]) for this machine.
pub fn build_tools(workspace: &Workspace, tools: &[Tool]) -> Result<HashMap<String, PathBuf>> {
    let names: Vec<&str> = tools.iter().map(|(_, bin)| *bin).collect();
    ui::step(format_args!(
        "building release binaries ({})",
        names.join(", ")
    ));
    Ok(packaging::build_tools(workspace, tools, &ui::command)?)
}

/// Prints the artifacts as a table: function, architecture, sizes, package path.
pub fn print_artifacts(workspace: &Workspace, artifacts: &[Artifact]) {
    let mut table = ui::Table::new(["function", "arch", "binary", "zip", "package"]);
    for artifact in artifacts {
        table.row([
            artifact.function.name().to_string(),
            artifact.architecture.as_str().to_string(),
            ui::bytes(artifact.binary_size),
            ui::bytes(artifact.zip_size),
            workspace.display(&artifact.zip),
        ]);
    }
    println!();
    table.print();
    ui::note("(each package's unzipped `bootstrap` sits next to it)");
}
