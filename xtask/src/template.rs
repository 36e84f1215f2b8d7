//! `cargo xtask template`: the CloudFormation template of a pattern and environment, rendered
//! from the route table and `deploy/envs/<env>.toml`, checked before it is shown or written.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::ValueEnum;
use stack::{Deployment, EnvConfig};

use crate::ui;
use crate::workspace::Workspace;

/// Packaging pattern of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeployPattern {
    /// One function serves every route
    Lith,
    /// One function per route group
    Fat,
}

impl DeployPattern {
    /// What to build for these patterns: one, or all functions.
    pub fn build_set(patterns: &[DeployPattern]) -> crate::build::Pattern {
        match patterns {
            [DeployPattern::Lith] => crate::build::Pattern::Lith,
            [DeployPattern::Fat] => crate::build::Pattern::Fat,
            _ => crate::build::Pattern::All,
        }
    }
}

impl From<DeployPattern> for stack::Pattern {
    fn from(pattern: DeployPattern) -> Self {
        match pattern {
            DeployPattern::Lith => stack::Pattern::Lith,
            DeployPattern::Fat => stack::Pattern::Fat,
        }
    }
}

/// Which deployment a command is about: a pattern of an environment.
#[derive(Debug, clap::Args)]
pub struct Which {
    #[arg(long, value_enum)]
    pub pattern: DeployPattern,
    /// Environment: reads deploy/envs/<env>.toml
    #[arg(long, default_value = "dev")]
    pub env: String,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    which: Which,
    /// Also write it to deploy/templates/<env>-<pattern>.json (where deploys and tests read it)
    #[arg(long)]
    write: bool,
}

/// A rendered, checked template and where it is kept.
pub struct Rendered {
    pub deployment: Deployment,
    pub text: String,
    pub file: PathBuf,
}

impl Rendered {
    /// Writes the template to its file if it changed; says whether it did.
    pub fn write(&self) -> Result<bool> {
        if std::fs::read_to_string(&self.file).is_ok_and(|current| current == self.text) {
            return Ok(false);
        }
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&self.file, &self.text)
            .with_context(|| format!("writing {}", self.file.display()))?;
        Ok(true)
    }
}

/// Renders the template of `pattern` for environment `env`.
pub fn render(workspace: &Workspace, env: &str, pattern: stack::Pattern) -> Result<Rendered> {
    let deploy_dir = workspace.root.join("deploy");
    let config = EnvConfig::load(&deploy_dir, env)?;
    let deployment = Deployment::new(pattern, env, config);
    let template = stack::render(&deployment)
        .with_context(|| format!("rendering the {} template for {env}", pattern.name()))?;
    Ok(Rendered {
        file: stack::template_file(&deploy_dir, env, pattern),
        text: stack::to_file_text(&template),
        deployment,
    })
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let rendered = render(workspace, &args.which.env, args.which.pattern.into())?;
    if args.write {
        let changed = rendered.write()?;
        let file = workspace.display(&rendered.file);
        // Progress goes to stderr so that stdout stays the template alone.
        eprintln!(
            "==> {} {file}",
            if changed { "wrote" } else { "unchanged:" }
        );
    } else {
        print!("{}", rendered.text);
    }
    if args.write {
        ui::next(&format!(
            "cargo xtask deploy --pattern {} --env {}",
            rendered.deployment.pattern.name(),
            args.which.env
        ));
    }
    Ok(())
}
