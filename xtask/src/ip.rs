//! `cargo xtask ip allow|revoke|list|flush`: the WAF IP allow-list of an environment.
//!
//! Every subcommand talks only to a [`waf::AllowListBackend`]; `--target` picks the backend (the
//! local stack's files, or AWS WAF through `waf-aws`), and that choice (in [`backend`]) is the
//! only code here that differs between targets.

use std::fmt;
use std::time::Duration;

use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use deployer::Deployer;
use packaging::Workspace;
use stack::EnvConfig;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use waf::{AllowListBackend, Allowed, Cidr, Entry, IpSetNames, LocalBackend, Revoked};
use waf_aws::{AwsBackend, IpSetRef};

use crate::aws::{self, AwsArgs};
use crate::ui;

/// The TTL `allow` uses when none is given: a working day, so forgotten entries go away.
const DEFAULT_TTL: &str = "12h";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IpCommand,
    /// Environment whose allow-list to use; its IP sets are catalog-<ENV>-allow-v4 and -v6
    #[arg(long, global = true, default_value = "dev")]
    env: String,
    /// Where the allow-list lives
    #[arg(long, global = true, value_enum, default_value_t = Target::Local)]
    target: Target,
    /// With --target aws: an IPv4 IP set made outside the stack (name or ARN) instead of the
    /// deployed stack's
    #[arg(long, global = true, value_name = "NAME|ARN", requires = "ipv6_set")]
    ipv4_set: Option<String>,
    /// With --target aws: the IPv6 IP set to use with --ipv4-set
    #[arg(long, global = true, value_name = "NAME|ARN", requires = "ipv4_set")]
    ipv6_set: Option<String>,
    /// With --ipv4-set/--ipv6-set: the DynamoDB table that keeps their entries' expiries, notes
    /// and authors (without one, nothing but the addresses is kept)
    #[arg(long, global = true, value_name = "TABLE", requires = "ipv4_set")]
    table: Option<String>,
    #[command(flatten)]
    aws: AwsArgs,
}

/// Where the allow-list lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// The local stack's WAF: JSON files in .devstack/waf, which its gateway reads on every request
    Local,
    /// The deployed stack's IP sets in AWS WAF, with their entries' table
    Aws,
}

#[derive(Debug, clap::Subcommand)]
enum IpCommand {
    /// Let addresses or ranges through the WAF, for a while (--ttl) or for good (--ttl never)
    Allow {
        /// Addresses (203.0.113.7, 2001:db8::7) or ranges (203.0.113.0/24, 2001:db8::/32)
        #[arg(required_unless_present = "me", value_name = "CIDR")]
        cidrs: Vec<Cidr>,
        /// Also allow this machine's public address, as the echo service sees it
        #[arg(long)]
        me: bool,
        /// The service that tells --me the public address: it answers GET with the address alone
        #[arg(
            long,
            value_name = "URL",
            default_value = "https://checkip.amazonaws.com"
        )]
        echo_url: String,
        /// How long they stay allowed: 30m, 12h, 7d or never; allowing again restarts the clock
        #[arg(long, default_value = DEFAULT_TTL, value_parser = parse_ttl)]
        ttl: Ttl,
        /// Who or what they are for, shown by `list`
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
    },
    /// Remove addresses or ranges, written as they were allowed
    Revoke {
        #[arg(required = true, value_name = "CIDR")]
        cidrs: Vec<Cidr>,
    },
    /// Show each allowed CIDR, who added it and when, when it expires, its note; and the
    /// addresses added outside this tool (unmanaged)
    List,
    /// Remove the entries that have expired (unmanaged addresses stay)
    Flush {
        /// Also remove every unmanaged address (added outside this tool)
        #[arg(long, conflicts_with = "all")]
        unmanaged: bool,
        /// Remove everything: every entry, expired or not, and every unmanaged address
        #[arg(long)]
        all: bool,
    },
}

pub fn run(workspace: &Workspace, mut args: Args) -> Result<()> {
    let runtime = aws::runtime()?;
    let backend = backend(workspace, &args, &runtime)?;
    if let IpCommand::Allow {
        cidrs,
        me: true,
        echo_url,
        ..
    } = &mut args.command
    {
        let mine = runtime.block_on(public_address(echo_url))?;
        ui::step(format_args!(
            "your public address, as {echo_url} sees it: {mine}"
        ));
        cidrs.push(mine);
    }
    let now = OffsetDateTime::now_utc();
    let next = runtime.block_on(execute(backend.as_ref(), &args.env, args.command, now))?;
    let mut next = next_command(&args.env, args.target, &next);
    // Sets named on the command line are named again in the next command.
    for (flag, value) in [
        ("--ipv4-set", &args.ipv4_set),
        ("--ipv6-set", &args.ipv6_set),
        ("--table", &args.table),
    ] {
        if let Some(value) = value {
            next.push_str(&format!(" {flag} {value}"));
        }
    }
    ui::next(&next);
    Ok(())
}

/// This machine's public address, as `echo_url` sees it (a checkip-style service that answers
/// with the address alone), as a single-address CIDR (an IPv4-mapped IPv6 answer as IPv4).
async fn public_address(echo_url: &str) -> Result<Cidr> {
    let fail = |why: String| {
        anyhow::anyhow!(
            "could not learn your public address from {echo_url}: {why}; give it yourself \
             (cargo xtask ip allow 203.0.113.7 ...), or another service with --echo-url"
        )
    };
    let response = reqwest::Client::new()
        .get(echo_url)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("it answered {}", response.status())));
    }
    let body = response.text().await.map_err(|e| fail(e.to_string()))?;
    let ip: IpAddr = body
        .trim()
        .parse()
        .map_err(|_| fail(format!("its answer {:?} is not an IP address", body.trim())))?;
    Ok(Cidr::host(ip))
}

/// On a stack's first start (no allow-list yet), lets the caller's loopback addresses in for the
/// default TTL, so the API answers at once; returns what it allowed.
pub fn allow_loopback_on_first_start(workspace: &Workspace, env: &str) -> Result<Vec<Cidr>> {
    let names = IpSetNames::for_env(env)?;
    let state = workspace.devstack_dir();
    let exists = [names.v4(), names.v6()]
        .iter()
        .any(|name| waf::local::set_path(&state, name).exists());
    if exists {
        return Ok(Vec::new());
    }
    let loopback: Vec<Cidr> = ["127.0.0.1", "::1"]
        .iter()
        .map(|ip| ip.parse())
        .collect::<Result<_, _>>()?;
    let ttl = parse_ttl(DEFAULT_TTL).map_err(anyhow::Error::msg)?;
    let backend = LocalBackend::new(state, names);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let note = Some("loopback, allowed on first start");
    runtime.block_on(backend.allow(&loopback, ttl.duration(), note, OffsetDateTime::now_utc()))?;
    Ok(loopback)
}

/// The only target-specific code: which backend holds the allow-list.
fn backend(
    workspace: &Workspace,
    args: &Args,
    runtime: &tokio::runtime::Runtime,
) -> Result<Box<dyn AllowListBackend>> {
    if args.target == Target::Local {
        if args.ipv4_set.is_some() {
            bail!("--ipv4-set, --ipv6-set and --table name IP sets in AWS: add --target aws");
        }
        // `.devstack`, where the local stack reads the same files through `waf::LocalAllowList`.
        let names = IpSetNames::for_env(&args.env)?;
        return Ok(Box::new(LocalBackend::new(workspace.devstack_dir(), names)));
    }
    let config = EnvConfig::load(&workspace.deploy_dir(), &args.env)?;
    let session = args.aws.connect(runtime, &config)?;
    runtime.block_on(async {
        let caller = session.caller().await?;
        let wafv2 = waf_aws::WafClient::new(&session.config);
        let (v4, v6, table) = match (&args.ipv4_set, &args.ipv6_set) {
            (Some(v4), Some(v6)) => (
                IpSetRef::find(&wafv2, v4).await?,
                IpSetRef::find(&wafv2, v6).await?,
                args.table.clone(),
            ),
            _ => deployed_sets(&session, &args.env).await?,
        };
        let backend = AwsBackend::new(&session, v4, v6, table)?.with_caller(caller.arn);
        if !backend.keeps_entries() {
            ui::note(
                "these IP sets have no entries table (--table): AWS WAF keeps only addresses, so \
                 expiries, notes and authors are not kept; entries stay until revoked, and every \
                 address lists as unmanaged",
            );
        }
        Ok(Box::new(backend) as Box<dyn AllowListBackend>)
    })
}

/// The IP sets and entries' table of the environment's deployed stack, from its outputs.
async fn deployed_sets(
    session: &aws_session::Session,
    env: &str,
) -> Result<(IpSetRef, IpSetRef, Option<String>)> {
    let stack_name = stack::stack_name(env);
    let summary = Deployer::new(session.clone())
        .status(&stack_name)
        .await?
        .with_context(|| {
            format!(
                "there is no stack {stack_name} in {}: deploy it first (cargo xtask deploy \
                 --target aws --env {env}), or name IP sets made elsewhere with --ipv4-set and \
                 --ipv6-set",
                session.destination()
            )
        })?;
    let output = |key: &str| {
        summary
            .outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .with_context(|| {
                format!(
                    "stack {stack_name} has no output {key}: it was deployed by an older version; \
                     deploy it again (cargo xtask deploy --target aws --env {env})"
                )
            })
    };
    let set = |key: &str| -> Result<IpSetRef> {
        let arn = output(key)?;
        IpSetRef::from_arn(&arn)
            .with_context(|| format!("output {key} {arn:?} is not an IP set ARN"))
    };
    Ok((
        set("IpSetV4Arn")?,
        set("IpSetV6Arn")?,
        Some(output("AllowListTable")?),
    ))
}

/// Runs one subcommand and returns the `cargo xtask ip` subcommand to suggest next.
async fn execute(
    backend: &dyn AllowListBackend,
    env: &str,
    command: IpCommand,
    now: OffsetDateTime,
) -> Result<String> {
    let place = format!("the {env} allow-list ({})", backend.location());
    match command {
        IpCommand::Allow {
            cidrs, ttl, note, ..
        } => {
            ui::step(format_args!("allowing {} in {place}", count(cidrs.len())));
            let allowed = backend
                .allow(&cidrs, ttl.duration(), note.as_deref(), now)
                .await?;
            for allowed in &allowed {
                if backend.keeps_entries() {
                    ui::note(allowed_line(allowed, ttl, now));
                } else {
                    ui::note(format_args!(
                        "allowed {} (no expiry or note kept: the sets have no entries table)",
                        allowed.entry.cidr
                    ));
                }
            }
            Ok("list".into())
        }
        IpCommand::Revoke { cidrs } => {
            ui::step(format_args!("revoking {} in {place}", count(cidrs.len())));
            let revoked = backend.revoke(&cidrs).await?;
            for revoked in &revoked {
                ui::note(match revoked {
                    Revoked::Removed(entry) => format!("revoked {}", entry.cidr),
                    Revoked::RemovedUnmanaged(cidr) => {
                        format!("revoked {cidr} (it had been added outside this tool)")
                    }
                    Revoked::NotFound(cidr) => {
                        format!("{cidr} was not in the allow-list: nothing to revoke")
                    }
                });
            }
            // Revoking a single address leaves it allowed if a wider range still covers it.
            let list = backend.list().await?;
            for cidr in &cidrs {
                for wider in list.active(now).filter(|e| covers(e.cidr, *cidr)) {
                    ui::note(format_args!(
                        "{cidr} is still allowed by {}; revoke that to block it",
                        wider.cidr
                    ));
                }
            }
            Ok("list".into())
        }
        IpCommand::List => {
            let list = backend.list().await?;
            let expired = list.expired(now).count();
            let unmanaged = list.unmanaged().count();
            ui::step(format_args!(
                "{place}: {}{}{}",
                count_entries(list.len()),
                if expired > 0 {
                    format!(", {expired} expired")
                } else {
                    String::new()
                },
                if unmanaged > 0 {
                    format!(", {unmanaged} unmanaged (added outside this tool)")
                } else {
                    String::new()
                }
            ));
            if list.is_empty() && unmanaged == 0 {
                ui::note("empty: the WAF blocks every request");
                return Ok("allow 127.0.0.1".into());
            }
            let mut table =
                ui::Table::new(["cidr", "version", "added by", "added at", "expires", "note"]);
            for entry in list.entries() {
                table.row([
                    entry.cidr.to_string(),
                    entry.cidr.version().to_string(),
                    entry.added_by.clone().unwrap_or_else(|| "-".into()),
                    absolute(entry.added_at),
                    expires_cell(entry, now),
                    entry.note.clone().unwrap_or_default(),
                ]);
            }
            for cidr in list.unmanaged() {
                table.row([
                    cidr.to_string(),
                    cidr.version().to_string(),
                    "unmanaged".into(),
                    "-".into(),
                    "never (no entry: added outside this tool)".into(),
                    String::new(),
                ]);
            }
            table.print();
            Ok(if expired > 0 { "flush" } else { "allow <CIDR>" }.into())
        }
        IpCommand::Flush { unmanaged, all } => {
            ui::step(format_args!(
                "removing {} from {place}",
                match (unmanaged, all) {
                    (_, true) => "every entry and every unmanaged address",
                    (true, _) => "expired entries and unmanaged addresses",
                    _ => "expired entries",
                }
            ));
            let flushed = backend.flush_expired(now).await?;
            for entry in &flushed {
                ui::note(format_args!(
                    "removed {} ({})",
                    entry.cidr,
                    expires_cell(entry, now)
                ));
            }
            if all {
                let everything: Vec<Cidr> =
                    backend.list().await?.entries().map(|e| e.cidr).collect();
                for revoked in backend.revoke(&everything).await? {
                    if let Revoked::Removed(entry) = revoked {
                        ui::note(format_args!("removed {}", entry.cidr));
                    }
                }
            }
            if unmanaged || all {
                for cidr in backend.flush_unmanaged().await? {
                    ui::note(format_args!("removed {cidr} (unmanaged)"));
                }
            } else {
                let kept = backend.list().await?.unmanaged().count();
                if kept > 0 {
                    ui::note(format_args!(
                        "kept {kept} unmanaged address{} (added outside this tool; --unmanaged \
                         removes them)",
                        if kept == 1 { "" } else { "es" }
                    ));
                }
            }
            if flushed.is_empty() && !unmanaged && !all {
                ui::note("nothing had expired");
            }
            Ok("list".into())
        }
    }
}

/// Whether `wider` is a different, wider range that contains all of `cidr`.
fn covers(wider: Cidr, cidr: Cidr) -> bool {
    wider != cidr && wider.prefix_len() <= cidr.prefix_len() && wider.contains(cidr.network())
}

/// `cargo xtask ip <subcommand>`, with the options that differ from the defaults.
fn next_command(env: &str, target: Target, subcommand: &str) -> String {
    let mut command = format!("cargo xtask ip {subcommand}");
    if env != "dev" {
        command.push_str(&format!(" --env {env}"));
    }
    if target != Target::Local {
        let value = clap::ValueEnum::to_possible_value(&target).expect("no target is hidden");
        command.push_str(&format!(" --target {}", value.get_name()));
    }
    command
}

fn count(n: usize) -> String {
    format!("{n} CIDR{}", if n == 1 { "" } else { "s" })
}

fn count_entries(n: usize) -> String {
    format!("{n} entr{}", if n == 1 { "y" } else { "ies" })
}

/// `allowed 127.0.0.2/32 until 2026-11-28 14:00 UTC (12h)`, or `refreshed ...` with what it was.
fn allowed_line(allowed: &Allowed, ttl: Ttl, now: OffsetDateTime) -> String {
    let entry = &allowed.entry;
    let verb = if allowed.is_refresh() {
        "refreshed"
    } else {
        "allowed"
    };
    let mut line = match entry.expires_at {
        Some(expires_at) => format!(
            "{verb} {} until {} ({ttl})",
            entry.cidr,
            absolute(expires_at)
        ),
        None => format!("{verb} {} with no expiry", entry.cidr),
    };
    if let Some(previous) = &allowed.previous {
        line.push_str(&match previous.expires_at {
            Some(at) if at <= now => format!("; it had expired at {}", absolute(at)),
            Some(at) => format!("; it was until {}", absolute(at)),
            None => "; it had no expiry".into(),
        });
    }
    if let Some(note) = &entry.note {
        line.push_str(&format!(" [{note}]"));
    }
    line
}

/// `2026-11-28 14:00 UTC (in 11h 59m)`, `expired 2026-11-28 01:00 UTC (1h ago)` or `never`.
fn expires_cell(entry: &Entry, now: OffsetDateTime) -> String {
    match entry.expires_at {
        None => "never".into(),
        Some(at) if at <= now => format!("expired {} ({} ago)", absolute(at), span(now - at)),
        Some(at) => format!("{} (in {})", absolute(at), span(at - now)),
    }
}

/// `2026-11-28 14:00 UTC`.
fn absolute(at: OffsetDateTime) -> String {
    at.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .expect("a UTC date in years 0 to 9999 always formats")
}

/// A span for people, in its two largest units: `2d 3h`, `11h 59m`, `5m`, `40s`.
fn span(span: time::Duration) -> String {
    let seconds = span.whole_seconds().unsigned_abs();
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// How long `allow` lets a CIDR in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ttl {
    Never,
    For(Duration),
}

impl Ttl {
    pub(crate) fn duration(self) -> Option<Duration> {
        match self {
            Ttl::Never => None,
            Ttl::For(duration) => Some(duration),
        }
    }
}

impl fmt::Display for Ttl {
    /// As it would be written: `never`, `30m`, `12h`, `7d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ttl::For(duration) = self else {
            return f.write_str("never");
        };
        let seconds = duration.as_secs();
        match seconds {
            s if s % 86_400 == 0 => write!(f, "{}d", s / 86_400),
            s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

/// `never`, or a whole number of minutes, hours or days: `30m`, `12h`, `7d`.
pub(crate) fn parse_ttl(text: &str) -> Result<Ttl, String> {
    let bad = |why: &str| {
        format!(
            "`{text}` is not a TTL: {why}; write a whole number of minutes, hours or days \
             (30m, 12h, 7d), or `never` for no expiry"
        )
    };
    if text.eq_ignore_ascii_case("never") {
        return Ok(Ttl::Never);
    }
    let Some(unit) = text.chars().last() else {
        return Err(bad("it is empty"));
    };
    let unit_seconds: u64 = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad("it does not end in m, h or d")),
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("it does not start with a whole number"));
    }
    let number: u64 = digits.parse().map_err(|_| bad("it is far too long"))?;
    if number == 0 {
        return Err(bad("it is zero, which would expire at once"));
    }
    let seconds = number
        .checked_mul(unit_seconds)
        .ok_or_else(|| bad("it is far too long"))?;
    Ok(Ttl::For(Duration::from_secs(seconds)))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-28 02:00 UTC);

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        let argv = ["cargo xtask", "ip"].iter().chain(args);
        crate::Cli::try_parse_from(argv).map(|cli| match cli.command {
            crate::Command::Ip(args) => args,
            other => panic!("parsed as {other:?}"),
        })
    }

    #[test]
    fn ttls_read_like_people_write_them() {
        assert_eq!(parse_ttl("30m"), Ok(Ttl::For(Duration::from_secs(1800))));
        assert_eq!(parse_ttl("12h"), Ok(Ttl::For(Duration::from_secs(43_200))));
        assert_eq!(parse_ttl("7d"), Ok(Ttl::For(Duration::from_secs(604_800))));
        assert_eq!(parse_ttl("never"), Ok(Ttl::Never));
        assert_eq!(parse_ttl("Never"), Ok(Ttl::Never));
        for (ttl, shown) in [
            ("30m", "30m"),
            ("12h", "12h"),
            ("90m", "90m"),
            ("48h", "2d"),
        ] {
            assert_eq!(parse_ttl(ttl).unwrap().to_string(), shown);
        }
        assert_eq!(Ttl::Never.to_string(), "never");
    }

    #[test]
    fn bad_ttls_say_what_to_write() {
        assert_eq!(
            parse_ttl("12").unwrap_err(),
            "`12` is not a TTL: it does not end in m, h or d; write a whole number of minutes, \
             hours or days (30m, 12h, 7d), or `never` for no expiry"
        );
        for (ttl, why) in [
            ("", "it is empty"),
            ("h", "it does not start with a whole number"),
            ("1.5h", "it does not start with a whole number"),
            ("-1h", "it does not start with a whole number"),
            ("12 h", "it does not start with a whole number"),
            ("0m", "it is zero"),
            ("30s", "it does not end in m, h or d"),
            ("1w", "it does not end in m, h or d"),
            ("99999999999999999999d", "far too long"),
            ("999999999999999999d", "far too long"),
            ("forever", "it does not end in m, h or d"),
        ] {
            let message = parse_ttl(ttl).unwrap_err();
            assert!(message.contains(why), "{ttl}: {message}");
        }
    }

    #[test]
    fn the_command_line_parses() {
        let args = parse(&["allow", "127.0.0.2", "10.0.0.0/8", "--note", "laptop"]).unwrap();
        assert_eq!(args.env, "dev");
        assert_eq!(args.target, Target::Local);
        let IpCommand::Allow {
            cidrs, ttl, note, ..
        } = args.command
        else {
            panic!("not allow")
        };
        assert_eq!(cidrs, [cidr("127.0.0.2"), cidr("10.0.0.0/8")]);
        assert_eq!(
            ttl,
            Ttl::For(Duration::from_secs(12 * 3600)),
            "12h by default"
        );
        assert_eq!(note.as_deref(), Some("laptop"));

        let args = parse(&["--env", "prod", "list", "--target", "local"]).unwrap();
        assert_eq!(args.env, "prod");
        assert!(matches!(args.command, IpCommand::List));
        let args = parse(&["allow", "::1", "--ttl", "never"]).unwrap();
        assert!(matches!(
            args.command,
            IpCommand::Allow {
                ttl: Ttl::Never,
                ..
            }
        ));

        let error = parse(&["allow", "10.0.0.1/24"]).unwrap_err().to_string();
        assert!(
            error.contains("write 10.0.0.0/24 for the whole range"),
            "{error}"
        );
        let error = parse(&["allow", "1.2.3.4", "--ttl", "12"])
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not end in m, h or d"), "{error}");
        assert!(parse(&["allow"]).is_err(), "a CIDR is required");
        assert!(parse(&["revoke"]).is_err(), "a CIDR is required");
        let error = parse(&["list", "--target", "gcp"]).unwrap_err().to_string();
        assert!(error.contains("possible values: local, aws"), "{error}");
        assert!(
            parse(&["list", "--target", "aws", "--ipv4-set", "a"]).is_err(),
            "both sets"
        );
        let args = parse(&["allow", "--me", "--target", "aws"]).unwrap();
        assert!(matches!(args.command, IpCommand::Allow { me: true, .. }));
    }

    #[test]
    fn times_read_like_people_write_them() {
        assert_eq!(
            absolute(datetime!(2026-11-28 14:00:59 UTC)),
            "2026-11-28 14:00 UTC"
        );
        assert_eq!(
            absolute(datetime!(2026-11-28 15:00 +1)),
            "2026-11-28 14:00 UTC"
        );
        for (seconds, shown) in [
            (40, "40s"),
            (300, "5m"),
            (3600, "1h"),
            (43_140, "11h 59m"),
            (86_400, "1d"),
            (86_400 + 3 * 3600 + 60, "1d 3h"),
        ] {
            assert_eq!(span(time::Duration::seconds(seconds)), shown);
        }
    }

    #[test]
    fn lines_say_what_changed() {
        let entry = Entry {
            cidr: cidr("127.0.0.2"),
            added_at: NOW,
            expires_at: Some(datetime!(2026-11-28 14:00 UTC)),
            note: None,
            added_by: None,
        };
        let ttl = parse_ttl("12h").unwrap();
        let added = Allowed {
            entry: entry.clone(),
            previous: None,
        };
        assert_eq!(
            allowed_line(&added, ttl, NOW),
            "allowed 127.0.0.2/32 until 2026-11-28 14:00 UTC (12h)"
        );
        let refreshed = Allowed {
            entry: Entry {
                note: Some("laptop".into()),
                ..entry.clone()
            },
            previous: Some(Entry {
                expires_at: Some(datetime!(2026-11-28 01:00 UTC)),
                ..entry.clone()
            }),
        };
        assert_eq!(
            allowed_line(&refreshed, ttl, NOW),
            "refreshed 127.0.0.2/32 until 2026-11-28 14:00 UTC (12h); it had expired at \
             2026-11-28 01:00 UTC [laptop]"
        );
        let forever = Allowed {
            entry: Entry {
                expires_at: None,
                ..entry.clone()
            },
            previous: None,
        };
        assert_eq!(
            allowed_line(&forever, Ttl::Never, NOW),
            "allowed 127.0.0.2/32 with no expiry"
        );

        assert_eq!(
            expires_cell(&entry, NOW + time::Duration::minutes(1)),
            "2026-11-28 14:00 UTC (in 11h 59m)"
        );
        assert_eq!(
            expires_cell(&entry, datetime!(2026-11-28 15:00 UTC)),
            "expired 2026-11-28 14:00 UTC (1h ago)"
        );
        assert_eq!(expires_cell(&forever.entry, NOW), "never");
    }

    #[test]
    fn next_commands_keep_the_environment() {
        assert_eq!(
            next_command("dev", Target::Local, "list"),
            "cargo xtask ip list"
        );
        assert_eq!(
            next_command("prod", Target::Local, "flush"),
            "cargo xtask ip flush --env prod"
        );
        assert!(covers(cidr("10.0.0.0/8"), cidr("10.1.2.3")));
        assert!(!covers(cidr("10.1.2.3"), cidr("10.1.2.3")));
        assert!(!covers(cidr("10.1.2.3"), cidr("10.0.0.0/8")));
    }

    #[tokio::test]
    async fn me_is_the_address_the_echo_service_sees() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};
        let echo = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("203.0.113.9\n"))
            .up_to_n_times(1)
            .mount(&echo)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("::ffff:198.51.100.4"))
            .up_to_n_times(1)
            .mount(&echo)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>busy</html>"))
            .mount(&echo)
            .await;
        assert_eq!(
            public_address(&echo.uri()).await.unwrap(),
            cidr("203.0.113.9")
        );
        // An IPv4 client seen through a dual-stack socket is written as IPv4.
        assert_eq!(
            public_address(&echo.uri()).await.unwrap(),
            cidr("198.51.100.4")
        );
        let error = public_address(&echo.uri()).await.unwrap_err().to_string();
        assert!(
            error.contains("is not an IP address") && error.contains("--echo-url"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn every_subcommand_works_on_local_files() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path(), IpSetNames::for_env("dev").unwrap());
        let run = |args: &[&str], now| {
            let command = parse(args).unwrap().command;
            execute(&backend, "dev", command, now)
        };
        assert_eq!(run(&["list"], NOW).await.unwrap(), "allow 127.0.0.1");
        let allow = ["allow", "127.0.0.2", "::1", "--ttl", "1h"];
        assert_eq!(run(&allow, NOW).await.unwrap(), "list");
        run(&["allow", "10.0.0.0/8", "--ttl", "never"], NOW)
            .await
            .unwrap();
        assert_eq!(backend.list().await.unwrap().len(), 3);

        let later = NOW + time::Duration::hours(2);
        assert_eq!(run(&["list"], later).await.unwrap(), "flush");
        run(&["flush"], later).await.unwrap();
        assert_eq!(run(&["list"], later).await.unwrap(), "allow <CIDR>");
        run(&["revoke", "10.0.0.0/8", "1.2.3.4"], later)
            .await
            .unwrap();
        assert!(backend.list().await.unwrap().is_empty());
        assert!(dir.path().join("waf/catalog-dev-allow-v4.json").is_file());
    }
}
