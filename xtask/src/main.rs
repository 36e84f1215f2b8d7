//! `cargo xtask`: the project's automation, in plain Rust (one module per command, no shell scripts).

mod aws;
mod bench;
mod build;
mod coldstart;
mod deploy;
mod destroy;
mod fuzz;
mod ip;
mod load;
mod local_store;
mod moto;
mod serve;
mod status;
mod template;
mod test;
mod token;
mod tools;
mod ui;

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use packaging::Workspace;

/// Automation for the catalog API workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the local stack: gateway overhead per warm request (p50, p99), cold start per function
    Bench(bench::Args),
    /// Build the release Lambda binaries and package each as <target>/lambda/<function>/bootstrap.zip
    Build(build::Args),
    /// Compare cold starts between lith and fat against a hello-world floor: table, JSON, SVG
    Coldstart(coldstart::Args),
    /// Build a pattern and serve it on the local stack, or deploy it to AWS with --target aws
    Deploy(deploy::Args),
    /// Delete an environment's stack in AWS (the artifact bucket is kept)
    Destroy(destroy::Args),
    /// Fuzz the parsers and verifiers at the edge (cargo-fuzz, nightly): execs/s per target, crashes
    Fuzz(fuzz::Args),
    /// Manage the WAF IP allow-list: allow, revoke, list and flush addresses
    Ip(ip::Args),
    /// Load a pattern on a private local stack (or --url): requests/s, latencies, lost writes
    Load(load::Args),
    /// Run moto's AWS emulation (with this project's extensions) on 127.0.0.1, for the AWS path without an account
    Moto(moto::Args),
    /// Run the API as a plain HTTP server on 127.0.0.1 (no Lambda, no AWS)
    Serve(serve::Args),
    /// Show an environment's stack in AWS: status, pattern, architecture, URL, functions
    Status(status::Args),
    /// Print the CloudFormation template of a pattern (checked: protected routes need the authorizer)
    Template(template::Args),
    /// Print a local Cognito ID token (alone on stdout): TOKEN=$(cargo xtask token --user alice)
    Token(token::Args),
    /// Run every test of the workspace, after building the Lambda packages the end-to-end tests use
    Test(test::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let workspace =
        Workspace::discover().context("could not find the workspace's target directory");
    let result = workspace.and_then(|workspace| match cli.command {
        Command::Bench(args) => bench::run(&workspace, args),
        Command::Build(args) => build::run(&workspace, args),
        Command::Coldstart(args) => coldstart::run(&workspace, args),
        Command::Deploy(args) => deploy::run(&workspace, args),
        Command::Destroy(args) => destroy::run(&workspace, args),
        Command::Fuzz(args) => fuzz::run(&workspace, args),
        Command::Ip(args) => ip::run(&workspace, args),
        Command::Load(args) => load::run(&workspace, args),
        Command::Moto(args) => moto::run(&workspace, args),
        Command::Serve(args) => serve::run(&workspace, args),
        Command::Status(args) => status::run(&workspace, args),
        Command::Template(args) => template::run(&workspace, args),
        Command::Test(args) => test::run(&workspace, args),
        Command::Token(args) => token::run(&workspace, args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The message and its causes, without a backtrace: errors here say what to do.
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
