//! `devstack`: serves a rendered template locally, or mints a local Cognito token.
//! `cargo xtask deploy` and `cargo xtask token` run it; it can also be run by hand.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use devstack::cognito::{LocalIssuer, TokenRequest};
use devstack::local_stack::{KeyTrust, LocalStack, LocalStackConfig};
use stack::{ApiTemplate, EnvConfig};

/// The stack allocates many small objects per request on several threads; glibc's malloc showed
/// as a sixth of its CPU in profiles under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "devstack",
    about = "The catalog's local stack: API Gateway + WAF + Cognito + Lambda, without Docker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a rendered CloudFormation template on 127.0.0.1 until Ctrl-C
    Serve(ServeArgs),
    /// Print a local ID token of a configured user pool (alone, on stdout)
    Token(TokenArgs),
}

/// What a stack is made from.
#[derive(clap::Args)]
struct StackFiles {
    /// The rendered template (deploy/templates/<env>-<pattern>.json)
    #[arg(long)]
    template: PathBuf,
    /// The environment file it was rendered from (user pools, region)
    #[arg(long)]
    env_file: PathBuf,
    /// Where the packages are: <dir>/<package>/bootstrap.zip
    #[arg(long)]
    artifacts: PathBuf,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    files: StackFiles,
    /// State directory: IP sets, Cognito keys, logs, data
    #[arg(long)]
    state: PathBuf,
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Trust the real Cognito pools' public JWKS instead of local keys
    #[arg(long, conflicts_with = "jwks_url")]
    trust_cognito: bool,
    /// Trust this JWKS for one pool: <pool-name>=<url> (repeatable)
    #[arg(long, value_name = "POOL=URL")]
    jwks_url: Vec<String>,
    /// The account's concurrency: at most this many environments at once of a function the
    /// template reserves none for (AWS's default limit is 1,000)
    #[arg(long, default_value_t = devstack::local_stack::DEFAULT_ACCOUNT_CONCURRENCY)]
    account_concurrency: usize,
    /// Seconds an idle execution environment lives
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    /// Functions' STORE_URL [default: sqlite://<state>/<stage>.db]
    #[arg(long)]
    store_url: Option<String>,
    /// A variable for every function, after the template's and STORE_URL: NAME=VALUE
    /// (repeatable; e.g. AWS_ENDPOINT_URL for a DynamoDB store in moto)
    #[arg(long = "function-env", value_name = "NAME=VALUE")]
    function_env: Vec<String>,
}

#[derive(clap::Args)]
struct TokenArgs {
    #[arg(long)]
    env_file: PathBuf,
    #[arg(long)]
    state: PathBuf,
    #[arg(long)]
    user: String,
    /// Pool name from the environment file [default: the first]
    #[arg(long)]
    pool: Option<String>,
    /// cognito:groups entry (repeatable)
    #[arg(long)]
    group: Vec<String>,
    /// Lifetime in seconds
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
}

fn load_env(path: &PathBuf) -> Result<EnvConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(EnvConfig::parse(&text, &path.display().to_string())?)
}

impl StackFiles {
    fn load(&self) -> Result<(EnvConfig, ApiTemplate)> {
        Ok((load_env(&self.env_file)?, read_template(&self.template)?))
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let (env, template) = args.files.load()?;
    let trust = if args.trust_cognito {
        KeyTrust::Cognito
    } else if args.jwks_url.is_empty() {
        KeyTrust::Local
    } else {
        let mut urls = BTreeMap::new();
        for entry in &args.jwks_url {
            let Some((pool, url)) = entry.split_once('=') else {
                bail!("--jwks-url {entry:?}: write <pool-name>=<url>")
            };
            if !env.user_pools.iter().any(|p| p.name() == pool) {
                bail!(
                    "--jwks-url: no user pool named {pool:?} in {}",
                    args.files.env_file.display()
                );
            }
            urls.insert(pool.to_owned(), url.to_owned());
        }
        KeyTrust::Jwks(urls)
    };
    let state = std::path::absolute(&args.state)?;
    let mut function_env = BTreeMap::new();
    for entry in &args.function_env {
        let (name, value) = devstack::local_stack::parse_function_env(entry)
            .with_context(|| format!("--function-env {entry:?}: write NAME=VALUE"))?;
        function_env.insert(name, value);
    }
    let store_url = args.store_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            state.join(format!("{}.db", template.stage)).display()
        )
    });
    let stage = template.stage.clone();
    let functions: Vec<String> = template
        .functions
        .values()
        .map(|f| f.function_name.clone())
        .collect();
    let mut config = LocalStackConfig::new(
        template,
        env.user_pools.clone(),
        args.files.artifacts,
        state.clone(),
    );
    config.listen = SocketAddr::from(([127, 0, 0, 1], args.port));
    config.listen_on_both_loopbacks = true;
    config.trust = trust;
    config.region = env.region.clone();
    config.unreserved_concurrency = args.account_concurrency;
    config.idle_timeout = Duration::from_secs(args.idle_timeout_secs);
    config
        .function_env
        .insert("STORE_URL".into(), store_url.clone());
    config.function_env.extend(function_env);
    let store_url = config.function_env["STORE_URL"].clone();
    config.console = true;
    // The janitor's schedule, as the template gives it to EventBridge in AWS.
    config.janitor_period = stack::janitor_period(&template_json(&args.files.template)?);
    let janitor = config.janitor_period;
    let stack = LocalStack::start(config).await?;
    let base = stack.base_url();
    // A few functions fit the headline; the single pattern's fifteen get a line of their own.
    let lambda = if functions.len() <= 4 {
        functions.join(", ")
    } else {
        format!("{} functions", functions.len())
    };
    println!(
        "local stack listening: API Gateway (stage {stage}) + WAF + Cognito + Lambda ({lambda})"
    );
    if functions.len() > 4 {
        println!("  lambda  {}", functions.join(", "));
    }
    println!("  API     {base}/api/v0");
    if let Some(also) = stack.also_addr() {
        println!("          (also on {also}: `localhost` works whichever loopback it names)");
    }
    println!("  docs    {base}/docs");
    println!(
        "  token   TOKEN=$(cargo xtask token --user alice)     pools: {}",
        env.user_pools
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  write   curl -X POST {base}/api/v0/projects -H \"Authorization: $TOKEN\" -H 'content-type: application/json' -d '{{\"name\":\"Atlas\"}}'"
    );
    println!("  data    {store_url}");
    println!("  logs    {}", stack.logs_dir().display());
    if let Some(period) = janitor {
        println!(
            "  janitor flushes expired allow-list entries every {}s (janitor.log)",
            period.as_secs()
        );
    }
    let not_emulated = env.settings_not_emulated_locally();
    if !not_emulated.is_empty() {
        println!(
            "  note    {} sets what only AWS acts on, not emulated here: {}",
            args.files.env_file.display(),
            not_emulated.join("; ")
        );
    }
    println!("  stop    Ctrl-C");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("stopping: functions and gateway");
    stack.stop().await;
    Ok(())
}

fn read_template(path: &PathBuf) -> Result<ApiTemplate> {
    let json = template_json(path)?;
    ApiTemplate::read(&json).with_context(|| format!("reading {}", path.display()))
}

fn template_json(path: &PathBuf) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn token(args: TokenArgs) -> Result<()> {
    let env = load_env(&args.env_file)?;
    let pool = match &args.pool {
        None => env
            .user_pools
            .first()
            .context("the environment lists no user pool")?,
        Some(name) => env
            .user_pools
            .iter()
            .find(|p| p.name() == name)
            .with_context(|| {
                let names: Vec<&str> = env.user_pools.iter().map(|p| p.name()).collect();
                format!(
                    "no user pool named {name:?}; the environment has: {}",
                    names.join(", ")
                )
            })?,
    };
    let issuer = LocalIssuer::open(pool.clone(), &args.state)?;
    let mut request = TokenRequest::new(&args.user);
    request.groups = args.group;
    request.ttl = Duration::from_secs(args.ttl_secs);
    println!("{}", issuer.mint_id_token(request));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Token(args) => token(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
