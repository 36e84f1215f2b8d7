//! `cargo xtask load`: reads and token-authenticated writes against a pattern on a private local
//! stack (or a running stack or server with `--url`), then a check that every acknowledged write
//! is listed; requests/s, latency percentiles, statuses, cold starts, peak environments, and a
//! JSON report in `target/load/`.

use anyhow::{Context, Result, bail};

use packaging::{Pattern, Workspace};
use stack::EnvConfig;

use crate::bench::{build_measurement, run_measure};
use crate::deploy::tool_command;
use crate::local_store::{LocalStore, StoreArgs, StoreKind};
use crate::template;
use crate::ui;

/// How hard and how long to load; flattened into the command's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// The pattern to deploy on the private stack; with --url, only the report's name
    #[arg(long, required_unless_present = "url")]
    pub pattern: Option<Pattern>,
    /// How long to send requests (at most 600)
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Connections at once, each with one request in flight (at most 256)
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Share of requests that create an item (with a token), in percent
    #[arg(long, default_value_t = 20)]
    pub write_percent: u8,
    /// Load a running stack or server instead: http://127.0.0.1:<port>[/<stage>] (loopback
    /// only). Writes are signed with the keys of .devstack/ and cold starts are read from
    /// .devstack/logs, as `cargo xtask deploy` leaves them.
    #[arg(long)]
    pub url: Option<String>,
    /// Stop after this many requests even before the time is up
    #[arg(long, default_value_t = 5_000_000)]
    pub max_requests: u64,
    #[arg(long, default_value = "dev")]
    pub env: String,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub options: LoadOptions,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let options = args.options;
    let name = options.pattern.map_or("url", |p| p.name());
    let env = EnvConfig::load(&workspace.deploy_dir(), &options.env)?;
    // Against a running stack or server only the load generator is needed.
    let built = match (&options.url, options.pattern) {
        (None, Some(pattern)) => build_measurement(workspace, &[pattern], &env)?,
        _ => build_measurement(workspace, &[], &env)?,
    };
    let out = workspace
        .target_dir
        .join("load")
        .join(format!("load-{name}.json"));
    let mut recorded = format!(
        "cargo xtask load{} --seconds {} --connections {} --write-percent {}",
        options
            .pattern
            .map(|p| format!(" --pattern {}", p.name()))
            .unwrap_or_default(),
        options.seconds,
        options.connections,
        options.write_percent
    );
    if options.url.is_some() && args.store.store != StoreKind::Sqlite {
        bail!("--store is for the private stack: a stack given by --url has its store already");
    }
    // Kept until the load is over: a moto this command started stops with it.
    let mut store = LocalStore::Sqlite;
    let mut command = tool_command(&built.measure, "load", workspace, &options.env);
    command.args(["--pattern", name]);
    match (&options.url, options.pattern) {
        (Some(url), _) => {
            recorded.push_str(&format!(" --url {url}"));
            let state = workspace.devstack_dir();
            command
                .args(["--url", url])
                .arg("--state")
                .arg(&state)
                .arg("--logs")
                .arg(state.join("logs"));
        }
        (None, Some(pattern)) => {
            let rendered = template::render(workspace, &options.env, pattern)?;
            rendered.write()?;
            let template: serde_json::Value =
                serde_json::from_str(&rendered.text).context("reading the rendered template")?;
            let prepared = args.store.prepare(
                workspace,
                &template,
                &env.region,
                &format!("catalog-{}-load", options.env),
            )?;
            recorded.push_str(&format!(" --store {}", prepared.name()));
            for variable in prepared.function_env() {
                command.args(["--function-env", &variable]);
            }
            store = prepared;
            command
                .arg("--template")
                .arg(&rendered.file)
                .arg("--artifacts")
                .arg(&built.packages);
        }
        (None, None) => bail!("give --pattern (a private stack) or --url (a running one)"),
    }
    command
        .args(["--seconds", &options.seconds.to_string()])
        .args(["--connections", &options.connections.to_string()])
        .args(["--write-percent", &options.write_percent.to_string()])
        .args(["--max-requests", &options.max_requests.to_string()])
        .arg("--out")
        .arg(&out)
        .args(["--command", &recorded]);
    ui::step(match &options.url {
        Some(url) => format!("loading {url}"),
        None => format!(
            "loading the {name} pattern on a private local stack (free port, own state, stopped afterwards)"
        ),
    });
    run_measure(command, "load")?;
    drop(store);
    Ok(())
}
