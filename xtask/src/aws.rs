//! What the commands that reach AWS share: `--profile`, `--region`, `--yes`, the checked session,
//! a runtime to run the deployer on, and the summary of a stack as people read it.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use aws_session::{Session, Settings};
use deployer::StackSummary;
use stack::EnvConfig;

use crate::deploy::Target;
use crate::ui;

/// A deployed environment, for the commands that read or change its stack (`status`, `destroy`).
#[derive(Debug, clap::Args)]
pub struct DeployedEnv {
    /// Where the stack is: aws (the local stack keeps no deployment: it runs in the foreground)
    #[arg(long, value_enum)]
    pub target: Target,
    /// Environment: reads deploy/envs/<env>.toml
    #[arg(long, default_value = "dev")]
    pub env: String,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// AWS profile (from ~/.aws/config) [default: AWS_PROFILE, else the default chain]
    #[arg(long)]
    pub profile: Option<String>,
    /// AWS region [default: the environment file's `region`]
    #[arg(long)]
    pub region: Option<String>,
    /// Go ahead without asking (needed when not on a terminal)
    #[arg(long)]
    pub yes: bool,
}

impl AwsArgs {
    /// Refuses, before anything is done, to wait for an answer nobody can give.
    pub fn check_confirmation(&self, command: &str) -> Result<()> {
        if !self.yes && !std::io::stdin().is_terminal() {
            bail!(
                "{command} asks for confirmation, and there is no terminal to answer it on: add \
                 --yes to go ahead without asking. Nothing was done"
            );
        }
        Ok(())
    }

    /// The session for an environment: credentials checked, region from `--region` or the
    /// environment file. No request is sent.
    pub fn connect(&self, runtime: &tokio::runtime::Runtime, env: &EnvConfig) -> Result<Session> {
        let settings = Settings {
            profile: self.profile.clone(),
            region: self.region.clone().unwrap_or_else(|| env.region.clone()),
        };
        Ok(runtime.block_on(aws_session::connect(&settings))?)
    }
}

/// A runtime for the AWS SDK (one thread: the commands wait on AWS, they do not compute).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs `work` until it ends or Ctrl-C. An operation CloudFormation runs goes on without us, so
/// an interrupted command says where to look instead of pretending it stopped it.
pub fn until_interrupted<T>(
    runtime: &tokio::runtime::Runtime,
    env: &str,
    work: impl Future<Output = Result<T, deployer::DeployError>>,
) -> Result<T> {
    runtime.block_on(async {
        tokio::select! {
            result = work => Ok(result?),
            _ = tokio::signal::ctrl_c() => bail!(
                "interrupted. Whatever CloudFormation had started goes on in AWS; \
                 `cargo xtask status --target aws --env {env}` shows where it stands"
            ),
        }
    })
}

/// The stack, as `status` and the end of `deploy` show it.
pub fn print_summary(summary: &StackSummary) {
    let mut table = ui::Table::new(["stack", &summary.name]);
    let mut status = summary.status.clone();
    if let Some(reason) = summary.status_reason.as_deref().filter(|r| !r.is_empty()) {
        status.push_str(&format!(" ({reason})"));
    }
    table.row(["status".into(), status]);
    table.row([
        "pattern".into(),
        summary.pattern.clone().unwrap_or_else(|| "-".into()),
    ]);
    table.row([
        "architecture".into(),
        summary.architecture.clone().unwrap_or_else(|| "-".into()),
    ]);
    table.row([
        "last update".into(),
        summary.last_updated.clone().unwrap_or_else(|| "-".into()),
    ]);
    table.row([
        "URL".into(),
        summary
            .url
            .as_deref()
            .map(|url| format!("{url}/api/v0"))
            .unwrap_or_else(|| "-".into()),
    ]);
    table.row(["functions".into(), summary.functions.join(", ")]);
    table.row(["IP sets".into(), summary.ip_sets.join(", ")]);
    for (key, value) in &summary.outputs {
        table.row([format!("output {key}"), value.clone()]);
    }
    println!();
    table.print();
}
