//! `cargo xtask status --target aws`: what an environment's stack is now: status, pattern,
//! architecture, last update, URL, functions, IP sets and outputs, and its alarms' states.

use anyhow::{Result, bail};
use deployer::Deployer;
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
            "the local stack has no status to read: it runs in the foreground of \
             `cargo xtask deploy` until Ctrl-C, and keeps its state in .devstack/. Use --target aws"
        );
    }
    let config = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let stack_name = stack::stack_name(&args.env);
    let runtime = aws::runtime()?;
    let session = args.aws.connect(&runtime, &config)?;
    ui::step(format_args!(
        "reading stack {stack_name} in {}",
        session.destination()
    ));
    let deployer = Deployer::new(session);
    match aws::until_interrupted(&runtime, &args.env, deployer.status(&stack_name))? {
        Some(summary) => {
            aws::print_summary(&summary);
            if !summary.alarms.is_empty() {
                let states =
                    aws::until_interrupted(&runtime, &args.env, deployer.alarm_states(&summary))?;
                print_alarms(&states);
            }
            let pattern = summary.pattern.as_deref().unwrap_or("lith");
            ui::next(&format!(
                "cargo xtask deploy --pattern {pattern} --target aws --env {}",
                args.env
            ));
        }
        None => {
            ui::note(format_args!(
                "no stack {stack_name}: the {} environment is not deployed there",
                args.env
            ));
            ui::next(&format!(
                "cargo xtask deploy --pattern lith --target aws --env {}",
                args.env
            ));
        }
    }
    Ok(())
}

/// The alarms' states, those firing first, each with CloudWatch's reason.
fn print_alarms(states: &[deployer::AlarmState]) {
    let mut sorted: Vec<&deployer::AlarmState> = states.iter().collect();
    sorted.sort_by_key(|s| (s.state != "ALARM", s.state != "INSUFFICIENT_DATA"));
    let mut table = ui::Table::new(["alarm", "state", "since", "reason"]);
    for alarm in sorted {
        table.row([
            alarm.name.clone(),
            alarm.state.clone(),
            alarm.since.clone().unwrap_or_else(|| "-".into()),
            alarm.reason.clone(),
        ]);
    }
    println!();
    table.print();
    let firing = states.iter().filter(|s| s.state == "ALARM").count();
    if firing > 0 {
        ui::note(format_args!(
            "{firing} of {} alarms firing: see the dashboard (output Dashboard)",
            states.len()
        ));
    }
}
