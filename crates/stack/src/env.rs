//! Per-environment settings, read from `deploy/envs/<env>.toml`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::logging::LogLevel;
use crate::user_pool::UserPool;

/// The settings of one environment (dev, prod, ...).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    pub region: String,
    /// API Gateway stage name: the API answers under `/<stage>`.
    pub stage: String,
    pub architecture: Architecture,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    /// The functions' application log level (Lambda's `ApplicationLogLevel`, which Lambda passes
    /// to them as `AWS_LAMBDA_LOG_LEVEL`): `trace` to `fatal`, `info` when left out.
    #[serde(default = "default_log_level")]
    pub log_level: LogLevel,
    #[serde(default)]
    pub cors_credentialed_origins: Vec<String>,
    pub user_pools: Vec<UserPool>,
    /// How often the allow-list janitor runs, as an EventBridge rate: `rate(1 hour)`.
    #[serde(default = "default_janitor_schedule")]
    pub janitor_schedule: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Keep the catalog's table whatever happens to the stack: deletion protection on, and
    /// Retain when the stack is deleted or the table replaced (for prod).
    #[serde(default)]
    pub retain_catalog_table: bool,
    /// Concurrency reserved for each API function (Lambda's `ReservedConcurrentExecutions`):
    /// that many environments at once are guaranteed, and more are throttled. Absent, the
    /// functions share the account's unreserved concurrency (1,000 by default).
    #[serde(default)]
    pub reserved_concurrency: Option<u32>,
    /// Attach the API's functions to the team's network (private subnets, security groups).
    #[serde(default)]
    pub vpc: Option<VpcSettings>,
    /// Alarms to an e-mail address, and a dashboard.
    #[serde(default)]
    pub alarms: Option<AlarmSettings>,
    /// X-Ray active tracing on the functions and the stage.
    #[serde(default)]
    pub tracing: bool,
    /// API Gateway's account-level CloudWatch Logs role, which stage access logging needs.
    #[serde(default)]
    pub apigateway_logging_role: LoggingRole,
}

/// `vpc = { subnet_ids = [...], security_group_ids = [...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcSettings {
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// `alarms = { email = "...", p99_ms = 1000, error_rate_percent = 1 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmSettings {
    /// Who is told, through an SNS topic's e-mail subscription (confirmed from the first mail).
    pub email: String,
    /// The API's p99 latency over five minutes above which the latency alarm fires.
    #[serde(default = "default_p99_ms")]
    pub p99_ms: u32,
    /// The share of 5xx answers over five minutes, in percent, above which the error alarm fires.
    #[serde(default = "default_error_rate_percent")]
    pub error_rate_percent: u32,
}

fn default_log_level() -> LogLevel {
    LogLevel::Info
}

fn default_p99_ms() -> u32 {
    1000
}

fn default_error_rate_percent() -> u32 {
    1
}

/// What deploying does about API Gateway's account-level logging role (one per account and
/// region, shared by every API there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingRole {
    /// Make it (a stack of its own, kept on destroy) unless the account has one.
    Create,
    /// Use the one the account has; deploying stops, saying what to choose, when there is none.
    #[default]
    Existing,
    /// No stage access log, and so no need for the role; deploying warns.
    Off,
}

impl LoggingRole {
    pub fn as_str(self) -> &'static str {
        match self {
            LoggingRole::Create => "create",
            LoggingRole::Existing => "existing",
            LoggingRole::Off => "off",
        }
    }
}

impl EnvConfig {
    /// Whether the stage writes an access log (which needs the account's logging role).
    pub fn access_logging(&self) -> bool {
        self.apigateway_logging_role != LoggingRole::Off
    }

    /// The settings that only AWS acts on: the local stack says once that it does not emulate
    /// them.
    pub fn settings_not_emulated_locally(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.vpc.is_some() {
            names.push("vpc (functions run on this machine's network)");
        }
        if self.alarms.is_some() {
            names.push("alarms (no SNS topic, alarm or dashboard)");
        }
        if self.tracing {
            names.push("tracing (no X-Ray segments)");
        }
        names
    }
}

fn default_janitor_schedule() -> String {
    "rate(1 hour)".into()
}

/// The period of an EventBridge rate expression (`rate(5 minutes)`, `rate(1 hour)`,
/// `rate(2 days)`): a positive whole number, then a unit, singular for 1 and plural otherwise,
/// as EventBridge requires.
pub fn rate_period(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (number, unit) = inner.split_once(' ')?;
    let number: u64 = number.parse().ok().filter(|n| *n > 0)?;
    let seconds = match (unit, number == 1) {
        ("minute", true) | ("minutes", false) => 60,
        ("hour", true) | ("hours", false) => 3600,
        ("day", true) | ("days", false) => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(number.checked_mul(seconds)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "x86_64" => Ok(Architecture::X86_64),
            "arm64" => Ok(Architecture::Arm64),
            other => Err(format!(
                "unknown architecture {other:?}: use x86_64 or arm64, as Lambda names them"
            )),
        }
    }
}

impl Architecture {
    pub const ALL: [Architecture; 2] = [Architecture::X86_64, Architecture::Arm64];

    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("cannot read {path}: {source}; environments live in deploy/envs/<name>.toml")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid environment file: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
}

/// AWS limits that, broken, would only fail at deploy time; checked when the file is read.
const MEMORY_RANGE: std::ops::RangeInclusive<u32> = 128..=10_240;
const TIMEOUT_RANGE: std::ops::RangeInclusive<u32> = 1..=900;
/// Lambda refuses a reservation that leaves the account fewer than 100 unreserved executions;
/// with the default account limit of 1,000, that is at most 900.
const RESERVED_CONCURRENCY: std::ops::RangeInclusive<u32> = 1..=900;
/// CloudWatch Logs accepts only these retention periods.
const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

impl EnvConfig {
    /// Reads and checks `deploy/envs/<env>.toml` under `deploy_dir`.
    pub fn load(deploy_dir: &Path, env: &str) -> Result<EnvConfig, EnvError> {
        let path = deploy_dir.join("envs").join(format!("{env}.toml"));
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| EnvError::Read {
            path: shown.clone(),
            source,
        })?;
        EnvConfig::parse(&text, &shown)
    }

    /// Parses and checks an environment file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<EnvConfig, EnvError> {
        let config: EnvConfig = toml::from_str(text).map_err(|e| EnvError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|problem| EnvError::Invalid {
            path: path.to_owned(),
            problem,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let stage_ok = !self.stage.is_empty()
            && self.stage.len() <= 128
            && self
                .stage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !stage_ok {
            return Err(format!(
                "stage {:?} must be 1-128 letters, digits, '-' or '_'",
                self.stage
            ));
        }
        if !MEMORY_RANGE.contains(&self.memory_mb) {
            return Err(format!(
                "memory_mb {} must be within {MEMORY_RANGE:?}",
                self.memory_mb
            ));
        }
        if !TIMEOUT_RANGE.contains(&self.timeout_seconds) {
            return Err(format!(
                "timeout_seconds {} must be within {TIMEOUT_RANGE:?} (API Gateway itself gives up after 29 s)",
                self.timeout_seconds
            ));
        }
        if !RETENTION_DAYS.contains(&self.log_retention_days) {
            return Err(format!(
                "log_retention_days {} is not one CloudWatch accepts: {RETENTION_DAYS:?}",
                self.log_retention_days
            ));
        }
        if rate_period(&self.janitor_schedule).is_none() {
            return Err(format!(
                "janitor_schedule {:?} is not an EventBridge rate: write rate(1 hour), \
                 rate(30 minutes) or rate(1 day) (singular for 1, plural otherwise)",
                self.janitor_schedule
            ));
        }
        if let Some(reserved) = self.reserved_concurrency
            && !RESERVED_CONCURRENCY.contains(&reserved)
        {
            return Err(format!(
                "reserved_concurrency {reserved} must be within {RESERVED_CONCURRENCY:?}: 0 would \
                 throttle every request, and Lambda keeps 100 of an account's default 1,000 \
                 unreserved; leave it out to share the account's unreserved concurrency"
            ));
        }
        if let Some(vpc) = &self.vpc {
            check_ids("vpc.subnet_ids", "subnet-", &vpc.subnet_ids, 16)?;
            check_ids("vpc.security_group_ids", "sg-", &vpc.security_group_ids, 5)?;
        }
        if let Some(alarms) = &self.alarms {
            let (local, domain) = alarms.email.split_once('@').unwrap_or_default();
            if local.is_empty()
                || !domain.contains('.')
                || alarms.email.contains(char::is_whitespace)
            {
                return Err(format!(
                    "alarms.email {:?} is not an e-mail address: SNS sends the alarms there",
                    alarms.email
                ));
            }
            if !(1..=29_000).contains(&alarms.p99_ms) {
                return Err(format!(
                    "alarms.p99_ms {} must be within 1..=29000 (API Gateway gives up at 29 s)",
                    alarms.p99_ms
                ));
            }
            if !(1..=100).contains(&alarms.error_rate_percent) {
                return Err(format!(
                    "alarms.error_rate_percent {} must be within 1..=100",
                    alarms.error_rate_percent
                ));
            }
        }
        if self.user_pools.is_empty() {
            return Err(
                "list at least one [[user_pools]]: write routes need a Cognito authorizer".into(),
            );
        }
        for pool in &self.user_pools {
            if self
                .user_pools
                .iter()
                .filter(|p| p.name() == pool.name())
                .count()
                > 1
            {
                return Err(format!("user pool name {:?} is used twice", pool.name()));
            }
        }
        Ok(())
    }
}

/// Checks a list of EC2 ids: at least one, at most `max` (Lambda's limits), each `prefix` and
/// then lowercase hex, as EC2 writes them.
fn check_ids(setting: &str, prefix: &str, ids: &[String], max: usize) -> Result<(), String> {
    if ids.is_empty() || ids.len() > max {
        return Err(format!("{setting} must list 1 to {max} ids"));
    }
    for id in ids {
        let well_formed = id.strip_prefix(prefix).is_some_and(|hex| {
            !hex.is_empty()
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
        if !well_formed {
            return Err(format!(
                "{setting}: {id:?} is not an id like {prefix}0123456789abcdef0"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        region = "eu-west-1"
        stage = "dev"
        architecture = "arm64"
        memory_mb = 128
        timeout_seconds = 10
        log_retention_days = 14
        [[user_pools]]
        name = "portal"
        arn = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_Abc123"
    "#;

    #[test]
    fn the_committed_environments_are_valid() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        for env in ["dev", "prod"] {
            let config = EnvConfig::load(&deploy, env).unwrap();
            assert_eq!(config.stage, env);
            assert_eq!(config.user_pools.len(), 2);
        }
    }

    #[test]
    fn pool_arns_give_id_region_and_issuer() {
        let config = EnvConfig::parse(GOOD, "x.toml").unwrap();
        let pool = &config.user_pools[0];
        assert_eq!(pool.pool_id(), "eu-west-1_Abc123");
        assert_eq!(
            pool.issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc123"
        );
        assert_eq!(config.architecture, Architecture::Arm64);
    }

    #[test]
    fn janitor_schedules_are_eventbridge_rates() {
        assert_eq!(
            rate_period("rate(1 hour)"),
            Some(std::time::Duration::from_secs(3600))
        );
        assert_eq!(
            rate_period("rate(15 minutes)"),
            Some(std::time::Duration::from_secs(900))
        );
        assert_eq!(
            rate_period("rate(2 days)"),
            Some(std::time::Duration::from_secs(172_800))
        );
        for bad in [
            "rate(1 hours)",
            "rate(2 hour)",
            "rate(0 minutes)",
            "cron(0 * * * ? *)",
            "1h",
        ] {
            assert_eq!(rate_period(bad), None, "{bad}");
        }
        assert_eq!(
            EnvConfig::parse(GOOD, "x.toml").unwrap().janitor_schedule,
            "rate(1 hour)"
        );
    }

    #[test]
    fn the_local_stack_is_told_which_settings_only_aws_acts_on() {
        let plain = EnvConfig::parse(GOOD, "x.toml").unwrap();
        assert!(plain.settings_not_emulated_locally().is_empty());
        assert!(plain.access_logging());
        let production = EnvConfig::parse(
            &GOOD.replace(
                "[[user_pools]]",
                "tracing = true\napigateway_logging_role = \"off\"\n\
                 alarms = { email = \"ops@example.com\" }\n\
                 vpc = { subnet_ids = [\"subnet-0a1b\"], security_group_ids = [\"sg-0c2d\"] }\n\
                 [[user_pools]]",
            ),
            "x.toml",
        )
        .unwrap();
        let named: Vec<&str> = production
            .settings_not_emulated_locally()
            .iter()
            .map(|s| s.split(' ').next().unwrap())
            .collect();
        assert_eq!(named, ["vpc", "alarms", "tracing"]);
        assert!(!production.access_logging());
        assert_eq!(production.alarms.unwrap().p99_ms, 1000, "the default");
    }

    #[test]
    fn mistakes_are_named_with_the_file_and_the_fix() {
        let cases = [
            (
                GOOD.replace("stage = \"dev\"", "stage = \"my stage\""),
                "stage",
            ),
            (
                GOOD.replace("memory_mb = 128", "memory_mb = 64"),
                "memory_mb",
            ),
            (
                GOOD.replace("log_retention_days = 14", "log_retention_days = 10"),
                "log_retention_days",
            ),
            (
                GOOD.replace("userpool/eu-west-1_Abc123", "userpool/Abc123"),
                "arn:aws:cognito-idp:<region>",
            ),
            (
                GOOD.replace("architecture = \"arm64\"", "architecture = \"risc-v\""),
                "architecture",
            ),
            (format!("{GOOD}\nunknown_key = 1"), "unknown_key"),
            (
                GOOD.replace(
                    "memory_mb = 128",
                    "memory_mb = 128\nreserved_concurrency = 0",
                ),
                "reserved_concurrency 0",
            ),
            (
                GOOD.replace(
                    "memory_mb = 128",
                    "memory_mb = 128\nreserved_concurrency = 901",
                ),
                "reserved_concurrency 901",
            ),
            (
                GOOD.replace(
                    "memory_mb = 128",
                    "memory_mb = 128\nvpc = { subnet_ids = [\"subnet-12ab\"], security_group_ids = [\"default\"] }",
                ),
                "vpc.security_group_ids: \"default\"",
            ),
            (
                GOOD.replace(
                    "memory_mb = 128",
                    "memory_mb = 128\nvpc = { subnet_ids = [], security_group_ids = [\"sg-1\"] }",
                ),
                "vpc.subnet_ids must list",
            ),
            (
                GOOD.replace("memory_mb = 128", "memory_mb = 128\nalarms = { email = \"ops\" }"),
                "alarms.email",
            ),
            (
                GOOD.replace(
                    "memory_mb = 128",
                    "memory_mb = 128\nalarms = { email = \"ops@example.com\", p99_ms = 30000 }",
                ),
                "alarms.p99_ms",
            ),
            (
                GOOD.replace("memory_mb = 128", "memory_mb = 128\napigateway_logging_role = \"maybe\""),
                "apigateway_logging_role",
            ),
            (
                GOOD.replace(
                    "log_retention_days = 14",
                    "log_retention_days = 14\njanitor_schedule = \"rate(1 hours)\"",
                ),
                "janitor_schedule",
            ),
        ];
        for (text, expected) in cases {
            let error = EnvConfig::parse(&text, "deploy/envs/x.toml")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("deploy/envs/x.toml") && error.contains(expected),
                "{error}"
            );
        }
    }
}
