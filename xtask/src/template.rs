//! `cargo xtask template`: the CloudFormation template of a pattern and environment, rendered
//! from the route table and `deploy/envs/<env>.toml`, checked before it is shown or written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use packaging::Workspace;
use stack::{Deployment, EnvConfig, Pattern};

use crate::ui;

/// Which deployment a command is about: a pattern of an environment.
#[derive(Debug, clap::Args)]
pub struct Which {
    /// Packaging pattern: lith (one function) or fat (one function per route group)
    #[arg(long)]
    pub pattern: Pattern,
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
        write_if_changed(&self.file, &self.text)
    }
}

/// Writes `text` to `file` unless it already holds it; says whether it wrote.
fn write_if_changed(file: &Path, text: &str) -> Result<bool> {
    if std::fs::read_to_string(file).is_ok_and(|current| current == text) {
        return Ok(false);
    }
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
    Ok(true)
}

/// Renders the template of `pattern` for environment `env`.
pub fn render(workspace: &Workspace, env: &str, pattern: Pattern) -> Result<Rendered> {
    let deploy_dir = workspace.deploy_dir();
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
    let rendered = render(workspace, &args.which.env, args.which.pattern)?;
    if args.write {
        // The account-level logging role's template is written beside it, for review and lint.
        let logging = stack::logging_role_template_file(&workspace.deploy_dir());
        let logging_text = stack::to_file_text(&stack::logging_role_template());
        for (file, changed) in [
            (&rendered.file, rendered.write()?),
            (&logging, write_if_changed(&logging, &logging_text)?),
        ] {
            // Progress goes to stderr so that stdout stays the template alone.
            eprintln!(
                "==> {} {}",
                if changed { "wrote" } else { "unchanged:" },
                workspace.display(file)
            );
        }
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
