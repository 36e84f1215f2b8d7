//! `measure`: the measurement commands `cargo xtask bench`, `coldstart` and `load` run, built in
//! the tools' profile so the client and the private stacks run at release speed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use devstack::pool::PoolStats;
use measure::coldstart::{self, ColdstartRun, FloorPlan, Plan};
use measure::load::{self, LoadConfig, LoadOutcome, Target};
use measure::machine::{Machine, now_rfc3339};
use measure::private_stack::{self, ScratchDir};
use measure::stats::percentile;
use platform_report::ReportTail;
use serde::Serialize;
use stack::{ApiTemplate, EnvConfig};

/// The stack and the load generator allocate many small objects per request on two threads;
/// glibc's malloc showed as a sixth of the process's CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "measure",
    about = "Measures the catalog API on private local stacks: bench, coldstart, load"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The gateway's overhead per warm request and each function's cold start
    Bench(BenchArgs),
    /// Cold starts compared between patterns, against a hello-world floor: tables, JSON, SVG
    Coldstart(ColdstartArgs),
    /// Reads and writes for a while, then a check that every acknowledged write is listed
    Load(LoadArgs),
}

/// What the private stacks' functions get besides the template's variables.
#[derive(clap::Args)]
struct FunctionEnv {
    /// A variable for every function: NAME=VALUE (repeatable; e.g. another STORE_URL)
    #[arg(long = "function-env", value_name = "NAME=VALUE")]
    function_env: Vec<String>,
}

impl FunctionEnv {
    fn parse(&self) -> Result<BTreeMap<String, String>> {
        self.function_env
            .iter()
            .map(|entry| {
                devstack::local_stack::parse_function_env(entry)
                    .with_context(|| format!("--function-env {entry:?}: write NAME=VALUE"))
            })
            .collect()
    }
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The rendered template (deploy/templates/<env>-<pattern>.json)
    #[arg(long)]
    template: PathBuf,
    #[arg(long)]
    env_file: PathBuf,
    /// Where the packages are: <dir>/<package>/bootstrap.zip
    #[arg(long)]
    artifacts: PathBuf,
    /// Warm requests to time
    #[arg(long, default_value_t = 1000)]
    requests: usize,
}

#[derive(clap::Args)]
struct ColdstartArgs {
    /// A pattern and its rendered template: lith=deploy/templates/dev-lith.json (repeatable)
    #[arg(long = "pattern", value_name = "NAME=TEMPLATE", required = true)]
    patterns: Vec<String>,
    #[arg(long)]
    env_file: PathBuf,
    #[arg(long)]
    artifacts: PathBuf,
    /// The floor's package directory (<dir>/bootstrap.zip): measured first, as the floor row
    #[arg(long)]
    floor: Option<PathBuf>,
    /// Forced cold starts per pattern and row (route group, or route with --per-route)
    #[arg(long, default_value_t = 10)]
    samples: usize,
    /// Warm requests after the cold starts, per row
    #[arg(long, default_value_t = 100)]
    burst: usize,
    /// One row per route of the table instead of one per route group (writes with a token)
    #[arg(long)]
    per_route: bool,
    /// Directory for coldstart.json, coldstart.svg and coldstart.txt
    #[arg(long)]
    out: PathBuf,
    /// The command line to record in the JSON file
    #[arg(long, default_value = "")]
    command: String,
    #[command(flatten)]
    function_env: FunctionEnv,
}

#[derive(clap::Args)]
struct LoadArgs {
    /// The pattern's name, for the report
    #[arg(long)]
    pattern: String,
    /// The rendered template, for a private stack (without --url)
    #[arg(long, required_unless_present = "url")]
    template: Option<PathBuf>,
    #[arg(long)]
    env_file: PathBuf,
    /// Where the packages are, for a private stack (without --url)
    #[arg(long, required_unless_present = "url")]
    artifacts: Option<PathBuf>,
    /// A running stack or server instead of a private stack: http://127.0.0.1:<port>[/<stage>]
    #[arg(long)]
    url: Option<String>,
    /// With --url: the stack's state directory, whose Cognito keys sign the writes' token
    #[arg(long)]
    state: Option<PathBuf>,
    /// With --url: the stack's logs directory, whose REPORT lines count cold starts
    #[arg(long)]
    logs: Option<PathBuf>,
    /// With --url: the token for writes, instead of one minted from --state
    #[arg(long)]
    token: Option<String>,
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 8)]
    connections: usize,
    #[arg(long, default_value_t = 20)]
    write_percent: u8,
    /// Stop after this many requests, even before the time is up
    #[arg(long, default_value_t = load::DEFAULT_MAX_REQUESTS)]
    max_requests: u64,
    /// The private stack's account concurrency (environments per function, unless the template
    /// reserves some)
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// The JSON report
    #[arg(long)]
    out: PathBuf,
    /// The command line to record in the report
    #[arg(long, default_value = "")]
    command: String,
    #[command(flatten)]
    function_env: FunctionEnv,
}

fn load_env(path: &Path) -> Result<EnvConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(EnvConfig::parse(&text, &path.display().to_string())?)
}

fn read_template(path: &Path) -> Result<ApiTemplate> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    ApiTemplate::read(&json).with_context(|| format!("reading {}", path.display()))
}

async fn bench(args: BenchArgs) -> Result<()> {
    let env = load_env(&args.env_file)?;
    let template = read_template(&args.template)?;
    let state = ScratchDir::new("bench");
    let result = measure::bench::run(
        template,
        env.user_pools.clone(),
        args.artifacts,
        state.path().to_owned(),
        args.requests,
    )
    .await?;
    let mut overheads = result.overheads_ms.clone();
    overheads.sort_by(f64::total_cmp);
    let mut latencies = result.latencies_ms.clone();
    latencies.sort_by(f64::total_cmp);
    println!(
        "gateway overhead per warm request ({} sequential requests; client latency minus the function's REPORT Duration):",
        args.requests
    );
    println!(
        "  overhead   p50 {:.3} ms   p99 {:.3} ms",
        percentile(&overheads, 0.5),
        percentile(&overheads, 0.99)
    );
    println!(
        "  latency    p50 {:.3} ms   p99 {:.3} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!("cold start per function (one sample each; `cargo xtask coldstart` takes many):");
    println!(
        "  {:<28} {:>15} {:>15}",
        "function", "Init Duration", "first request"
    );
    for (function, init, first) in &result.cold_starts {
        println!("  {function:<28} {:>12.2} ms {:>12.2} ms", init, first);
    }
    Ok(())
}

async fn coldstart(args: ColdstartArgs) -> Result<()> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let env = load_env(&args.env_file)?;
    let function_env = args.function_env.parse()?;
    let mut progress = |line: &str| eprintln!("    {line}");
    let floor = match &args.floor {
        None => None,
        Some(package_dir) => {
            eprintln!(
                "==> floor: {} cold starts and {} warm requests of a hello-world lambda_http function",
                args.samples, args.burst
            );
            let state = ScratchDir::new("coldstart-floor");
            let plan = FloorPlan {
                package_dir: package_dir.clone(),
                state_dir: state.path().to_owned(),
                samples: args.samples,
                burst: args.burst,
            };
            Some(coldstart::measure_floor(plan, &mut progress).await?)
        }
    };
    let mut patterns = Vec::new();
    for entry in &args.patterns {
        let Some((name, path)) = entry.split_once('=') else {
            bail!("--pattern {entry:?}: write <name>=<template file>")
        };
        let template = read_template(Path::new(path))?;
        let state = ScratchDir::new(&format!("coldstart-{name}"));
        eprintln!(
            "==> {name}: {} cold starts and {} warm requests per {}",
            args.samples,
            args.burst,
            if args.per_route {
                "route"
            } else {
                "route group"
            }
        );
        let plan = Plan {
            pattern: name.to_owned(),
            template,
            user_pools: env.user_pools.clone(),
            artifacts_dir: args.artifacts.clone(),
            state_dir: state.path().to_owned(),
            function_env: function_env.clone(),
            probes: coldstart::Probe::all(args.per_route),
            samples: args.samples,
            burst: args.burst,
        };
        patterns.push(coldstart::measure_pattern(plan, &mut progress).await?);
    }
    let run = ColdstartRun {
        machine: Machine::read(),
        command: args.command,
        finished_at: now_rfc3339(),
        samples: args.samples,
        burst: args.burst,
        aws_region: None,
        floor,
        patterns,
    };
    println!();
    print!("{}", coldstart::render_tables(&run));
    let written = coldstart::write_outputs(&run, &args.out)
        .with_context(|| format!("writing into {}", args.out.display()))?;
    println!();
    for (kind, path) in written {
        println!("  {kind:<6} {}", path.display());
    }
    Ok(())
}

/// The load report, as written to the JSON file.
#[derive(Serialize)]
struct LoadReport {
    machine: Machine,
    command: String,
    finished_at: String,
    pattern: String,
    /// `private` (a stack this command started) or the URL's stack.
    stack: String,
    /// REPORT lines with an Init Duration logged during the run; `None` without logs to read.
    cold_starts_seen: Option<u64>,
    /// Per function: the most execution environments alive at once (private stacks only).
    peak_environments: Option<BTreeMap<String, usize>>,
    outcome: LoadOutcome,
}

/// A short run id: the time's low digits, so names differ between runs.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:x}{:x}",
        (nanos / 1000) % 0xff_ffff,
        std::process::id() % 0xfff
    )
}

/// Follows every log file of a stack's logs directory from its current end.
fn follow_logs(dir: &Path) -> Result<Vec<ReportTail>> {
    let mut tails = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log") {
            tails.push(ReportTail::from_end(&path)?);
        }
    }
    Ok(tails)
}

/// Cold starts among the reports appended since the tails started, once the log writer has
/// caught up (no new report for a little while; bounded).
async fn cold_starts_in(tails: &mut [ReportTail]) -> Result<u64> {
    let mut cold = 0;
    let mut quiet = 0;
    for _ in 0..100 {
        let mut new = 0;
        for tail in tails.iter_mut() {
            let reports = private_stack::read_new(tail)?;
            new += reports.len();
            cold += reports.iter().filter(|r| r.is_cold()).count() as u64;
        }
        quiet = if new == 0 { quiet + 1 } else { 0 };
        if quiet >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(cold)
}

async fn load(args: LoadArgs) -> Result<bool> {
    let env = load_env(&args.env_file)?;
    let function_env = args.function_env.parse()?;
    let scratch = ScratchDir::new("load");
    let (stack, target, token_state) = match &args.url {
        Some(url) => (None, Target::parse(url)?, args.state.clone()),
        None => {
            let template = read_template(args.template.as_deref().context("--template")?)?;
            let artifacts = args.artifacts.clone().context("--artifacts")?;
            let stack = private_stack::start_private_stack_with(
                template,
                env.user_pools.clone(),
                artifacts,
                scratch.path().to_owned(),
                function_env,
                args.concurrency,
            )
            .await?;
            let target = Target::parse(&stack.base_url())?;
            (Some(stack), target, Some(scratch.path().to_owned()))
        }
    };
    let token = match (&args.token, &token_state) {
        _ if args.write_percent == 0 => None,
        (Some(token), _) => Some(token.clone()),
        (None, Some(state)) => Some(private_stack::mint_token(&env.user_pools, state, "load")?),
        (None, None) => {
            bail!("writes need a token: give --token or --state (or --write-percent 0)")
        }
    };
    let logs = match (&stack, &args.logs) {
        (Some(stack), _) => Some(stack.logs_dir().to_owned()),
        (None, logs) => logs.clone(),
    };
    let mut tails = match &logs {
        Some(dir) => Some(follow_logs(dir)?),
        None => None,
    };
    let config = LoadConfig {
        target: target.clone(),
        duration: Duration::from_secs(args.seconds),
        connections: args.connections,
        write_percent: args.write_percent,
        token,
        run_id: run_id(),
        max_requests: args.max_requests,
    };
    eprintln!(
        "==> {} for {} s over {} connections, {}% writes",
        target.url(),
        args.seconds,
        args.connections,
        args.write_percent
    );
    let outcome = load::run(config).await;
    let cold_starts_seen = match &mut tails {
        Some(tails) => Some(cold_starts_in(tails).await?),
        None => None,
    };
    let peak_environments = stack.as_ref().map(|stack| {
        stack
            .pools()
            .map(|pool| {
                let PoolStats { peak_alive, .. } = pool.stats();
                (pool.config().name.clone(), peak_alive)
            })
            .collect::<BTreeMap<_, _>>()
    });
    if let Some(stack) = stack {
        stack.stop().await;
    }
    let outcome = outcome?;
    let report = LoadReport {
        machine: Machine::read(),
        command: args.command,
        finished_at: now_rfc3339(),
        pattern: args.pattern,
        stack: match &args.url {
            Some(url) => url.clone(),
            None => "private".into(),
        },
        cold_starts_seen,
        peak_environments,
        outcome,
    };
    println!();
    print!("{}", load::render(&report.outcome));
    println!(
        "  cold starts seen {}",
        report.cold_starts_seen.map_or_else(
            || "- (no logs to read: give --logs)".into(),
            |c| c.to_string()
        )
    );
    if let Some(peaks) = &report.peak_environments {
        let peaks: Vec<String> = peaks.iter().map(|(f, p)| format!("{f} {p}")).collect();
        println!("  peak environments {}", peaks.join(", "));
    }
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!("  report {}", args.out.display());
    Ok(report.outcome.passed())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench(args).await.map(|()| true),
        Command::Coldstart(args) => coldstart(args).await.map(|()| true),
        Command::Load(args) => load(args).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: the load saw unexpected answers or lost writes; see above");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
