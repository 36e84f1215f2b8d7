//! `cargo xtask destroy --target aws`: deletes an environment's stack, following the deletion
//! event by event. The artifact bucket (and the account's API Gateway logging role) stay.

use anyhow::{Result, bail};
use deployer::{Deployer, Destroyed, TerminalProgress};
use packaging::Workspace;
use stack::EnvConfig;

use crate::aws::{self, DeployedEnv};
use crate::deploy::Target;
use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    which: DeployedEnv,
}

pub fn run(workspace: &Workspace, Args { which: args }: Args) -> Result<()> {
    if args.target == Target::Local {
        bail!(
            "the local stack is not deployed anywhere to destroy: stop it with Ctrl-C; its data, \
             IP sets and keys are in .devstack/ (delete that directory to start afresh)"
        );
    }
    args.aws.check_confirmation("destroy")?;
    let config = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let stack_name = stack::stack_name(&args.env);
    let runtime = aws::runtime()?;
    let session = args.aws.connect(&runtime, &config)?;
    let deployer = Deployer::new(session);
    let mut progress = TerminalProgress::new(args.aws.yes);
    let destroyed = aws::until_interrupted(
        &runtime,
        &args.env,
        deployer.destroy(&stack_name, &args.env, &mut progress),
    )?;
    match destroyed {
        Destroyed::Deleted {
            artifact_bucket,
            retained,
        } => {
            if !retained.is_empty() {
                ui::note(format_args!(
                    "kept by the template's DeletionPolicy: {}",
                    retained.join(", ")
                ));
            }
            ui::note(format_args!(
                "kept: the artifact bucket {artifact_bucket} (packages are content-addressed and \
                 reused by the next deploy; empty and delete it in S3 if you no longer need it)"
            ));
            ui::next(&format!(
                "cargo xtask deploy --pattern lith --target aws --env {}",
                args.env
            ));
        }
        Destroyed::NothingThere | Destroyed::Declined => {}
    }
    Ok(())
}
