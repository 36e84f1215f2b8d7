//! `cargo xtask ip allow|revoke|list|flush`: the WAF IP allow-list of an environment.
//!
//! Every subcommand talks only to a [`waf::AllowListBackend`]; `--target` picks the backend, and
//! that choice (in [`backend`]) is the only code here that differs between targets.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use waf::{AllowListBackend, Allowed, Cidr, Entry, IpSetNames, LocalBackend, Revoked};

use crate::ui;
use packaging::Workspace;

/// The TTL `allow` uses when none is given: a working day, so forgotten entries go away.
const DEFAULT_TTL: &str = "12h";

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: IpCommand,
    /// Environment whose allow-list to use; its IP sets are catalog-<ENV>-allow-v4 and -v6
    #[arg(long, global = true, default_value = "dev")]
    env: String,
    /// Where the allow-list lives (`aws`, the IP sets in AWS WAF, comes with the AWS deployment)
    #[arg(long, global = true, value_enum, default_value_t = Target::Local)]
    target: Target,
}

/// Where the allow-list lives. `aws` (the web ACL's IP sets in AWS WAF) comes with the AWS
/// deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Target {
    /// The local stack's WAF: JSON files in .devstack/waf, which its gateway reads on every request
    Local,
}

#[derive(Debug, clap::Subcommand)]
enum IpCommand {
    /// Let addresses or ranges through the WAF, for a while (--ttl) or for good (--ttl never)
    Allow {
        /// Addresses (203.0.113.7, 2001:db8::7) or ranges (203.0.113.0/24, 2001:db8::/32)
        #[arg(required = true, value_name = "CIDR")]
        cidrs: Vec<Cidr>,
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
    /// Show each allowed CIDR, its IP version, when it expires and its note
    List,
    /// Remove the entries that have expired
    Flush,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let names = IpSetNames::for_env(&args.env)?;
    let backend = backend(workspace, args.target, names);
    // The local backend never waits; the AWS SDK will need a real runtime, so it is one already.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let now = OffsetDateTime::now_utc();
    let next = runtime.block_on(execute(backend.as_ref(), &args.env, args.command, now))?;
    ui::next(&next_command(&args.env, args.target, &next));
    Ok(())
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
fn backend(workspace: &Workspace, target: Target, names: IpSetNames) -> Box<dyn AllowListBackend> {
    match target {
        // `.devstack`, where the local stack reads the same files through `waf::LocalAllowList`.
        Target::Local => Box::new(LocalBackend::new(workspace.devstack_dir(), names)),
    }
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
        IpCommand::Allow { cidrs, ttl, note } => {
            ui::step(format_args!("allowing {} in {place}", count(cidrs.len())));
            let allowed = backend
                .allow(&cidrs, ttl.duration(), note.as_deref(), now)
                .await?;
            for allowed in &allowed {
                ui::note(allowed_line(allowed, ttl, now));
            }
            Ok("list".into())
        }
        IpCommand::Revoke { cidrs } => {
            ui::step(format_args!("revoking {} in {place}", count(cidrs.len())));
            let revoked = backend.revoke(&cidrs).await?;
            for revoked in &revoked {
                ui::note(match revoked {
                    Revoked::Removed(entry) => format!("revoked {}", entry.cidr),
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
            ui::step(format_args!(
                "{place}: {}{}",
                count_entries(list.len()),
                if expired > 0 {
                    format!(", {expired} expired")
                } else {
                    String::new()
                }
            ));
            if list.is_empty() {
                ui::note("empty: the WAF blocks every request");
                return Ok("allow 127.0.0.1".into());
            }
            let mut table = ui::Table::new(["cidr", "version", "expires", "note"]);
            for entry in list.entries() {
                table.row([
                    entry.cidr.to_string(),
                    entry.cidr.version().to_string(),
                    expires_cell(entry, now),
                    entry.note.clone().unwrap_or_default(),
                ]);
            }
            table.print();
            Ok(if expired > 0 { "flush" } else { "allow <CIDR>" }.into())
        }
        IpCommand::Flush => {
            ui::step(format_args!("removing expired entries from {place}"));
            let flushed = backend.flush_expired(now).await?;
            if flushed.is_empty() {
                ui::note("nothing had expired");
            }
            for entry in &flushed {
                ui::note(format_args!(
                    "removed {} ({})",
                    entry.cidr,
                    expires_cell(entry, now)
                ));
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
        let IpCommand::Allow { cidrs, ttl, note } = args.command else {
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
        let error = parse(&["list", "--target", "aws"]).unwrap_err().to_string();
        assert!(error.contains("possible values: local"), "{error}");
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
