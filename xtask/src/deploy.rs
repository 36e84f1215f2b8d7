//! `cargo xtask deploy`: builds a pattern, renders its template, and either serves it on the local
//! stack (API Gateway + WAF + Cognito + Lambda, no Docker) in the foreground, or, with
//! `--target aws`, deploys it to AWS through a CloudFormation change set (the `deployer` crate).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use deployer::{DeployRequest, Deployed, Deployer, TerminalProgress};
use packaging::{Architecture, Workspace};
use stack::{Deployment, EnvConfig};

use crate::aws::{self, AwsArgs};
use crate::build;
use crate::local_store::StoreArgs;
use crate::template::{self, Which};
use crate::{ip, ui};

/// `<program> <subcommand> --env-file deploy/envs/<env>.toml`: every subcommand of the local
/// stack (devstack) and of the measurements (measure) reads the environment's user pools and
/// region.
pub fn tool_command(program: &Path, subcommand: &str, workspace: &Workspace, env: &str) -> Command {
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
    /// AWS: the credentials and region of the standard chain (or --profile, --region)
    Aws,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    which: Which,
    /// Where to deploy
    #[arg(long, value_enum, default_value_t = Target::Local)]
    target: Target,
    /// Lambda architecture for AWS: x86_64 or arm64 [default: the environment's `architecture`]
    #[arg(long)]
    arch: Option<Architecture>,
    #[command(flatten)]
    aws: AwsArgs,
    /// Local port of the stack
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Trust the real Cognito pools' public JWKS, so tokens of the existing services work locally
    #[arg(long)]
    trust_cognito: bool,
    /// Trust this JWKS for one pool instead of local keys: <pool-name>=<url> (repeatable)
    #[arg(long, value_name = "POOL=URL")]
    jwks_url: Vec<String>,
    /// The account's concurrency: environments at once of a function the template reserves none
    /// for (`reserved_concurrency` in deploy/envs); beyond, API Gateway answers 500, as in AWS
    #[arg(long, default_value_t = 1000)]
    account_concurrency: usize,
    /// Seconds an idle execution environment lives before it is reclaimed
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    if args.target == Target::Aws {
        return to_aws(workspace, &args);
    }
    if args.arch.is_some() {
        bail!(
            "--arch is for --target aws: the local stack runs the build of this machine's \
             architecture"
        );
    }
    let rendered = template::render(workspace, &args.which.env, args.which.pattern)?;
    let changed = rendered.write()?;
    ui::step(format_args!(
        "template {} ({})",
        workspace.display(&rendered.file),
        if changed { "updated" } else { "unchanged" }
    ));

    let (artifacts, devstack) = build::build_for_local_stack(
        workspace,
        &[args.which.pattern],
        &rendered.deployment.config,
    )?;
    build::print_artifacts(workspace, &artifacts);
    let packages = artifacts
        .first()
        .map(|artifact| workspace.lambda_dir(artifact.architecture))
        .context("nothing was built")?;

    let allowed = ip::allow_loopback_on_first_start(workspace, &args.which.env)?;
    if !allowed.is_empty() {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        ui::step(format_args!(
            "first start: the WAF allows your loopback addresses ({}) for 12h; manage with `cargo xtask ip`",
            list.join(", ")
        ));
    }

    let template: serde_json::Value =
        serde_json::from_str(&rendered.text).context("reading the rendered template")?;
    // Kept until the stack stops: a moto started for it ends with it.
    let store = args.store.prepare(
        workspace,
        &template,
        &rendered.deployment.config.region,
        &format!("catalog-{}", args.which.env),
    )?;

    let mut command = tool_command(&devstack, "serve", workspace, &args.which.env);
    for variable in store.function_env() {
        command.args(["--function-env", &variable]);
    }
    command
        .arg("--template")
        .arg(&rendered.file)
        .arg("--artifacts")
        .arg(&packages)
        .arg("--state")
        .arg(workspace.devstack_dir())
        .args(["--port", &args.port.to_string()])
        .args([
            "--account-concurrency",
            &args.account_concurrency.to_string(),
        ])
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

/// `--target aws`: checks what can be checked without AWS (the confirmation, the credentials,
/// the tools a cross build needs), builds for the environment's architecture, then hands the
/// template and packages to the deployer.
fn to_aws(workspace: &Workspace, args: &Args) -> Result<()> {
    let env = &args.which.env;
    let pattern = args.which.pattern;
    args.aws.check_confirmation("deploy")?;
    let mut config = EnvConfig::load(&workspace.deploy_dir(), env)?;
    if let Some(architecture) = args.arch {
        config.architecture = architecture;
    }
    let runtime = aws::runtime()?;
    let session = args.aws.connect(&runtime, &config)?;
    ui::step(format_args!(
        "AWS credentials found; deploying to {}",
        session.destination()
    ));

    let artifacts = build::build(
        workspace,
        &packaging::functions_of(&[pattern]),
        config.architecture,
    )?;
    build::print_artifacts(workspace, &artifacts);
    let deployment = Deployment::new(pattern, env, config);
    let template = stack::render(&deployment)
        .with_context(|| format!("rendering the {} template for {env}", pattern.name()))?;

    let deployer = Deployer::new(session);
    let mut progress = TerminalProgress::new(args.aws.yes);
    let request = DeployRequest {
        deployment: &deployment,
        template: &template,
        artifacts: &artifacts,
    };
    let deployed = aws::until_interrupted(&runtime, env, deployer.deploy(&request, &mut progress))?;
    let summary = match deployed {
        Deployed::Changed(summary) | Deployed::NoChanges(summary) => summary,
        Deployed::Declined => return Ok(()),
    };
    aws::print_summary(&summary);
    print_next_steps(&deployment, summary.url.as_deref());
    Ok(())
}

/// What to do with a deployed API: reach it, let an address in, write with a token.
fn print_next_steps(deployment: &Deployment, url: Option<&str>) {
    let env = &deployment.env_name;
    println!();
    println!("next:");
    if let Some(url) = url {
        ui::note(format_args!("curl {url}/api/v0"));
    }
    ui::note(format_args!(
        "the WAF blocks every address until it is allowed: cargo xtask ip allow --me --target aws \
         --env {env}"
    ));
    if let Some(pool) = deployment.config.user_pools.first() {
        ui::note(format_args!(
            "writes need an ID token of a user of pool {} ({}) in the Authorization header",
            pool.name(),
            pool.pool_id()
        ));
    }
    ui::note(format_args!(
        "cargo xtask status --target aws --env {env}    cargo xtask destroy --target aws --env {env}"
    ));
}
