//! Environments for the template tests: the committed dev environment with production settings
//! switched on, alone and in every combination.

use std::path::{Path, PathBuf};

use stack::{AlarmSettings, EnvConfig, LoggingRole, VpcSettings};

pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// The dev environment with VPC attachment, alarms and tracing on.
pub fn everything_on() -> EnvConfig {
    let mut config = EnvConfig::load(&deploy_dir(), "dev").unwrap();
    config.vpc = Some(VpcSettings {
        subnet_ids: vec![
            "subnet-0123456789abcdef0".into(),
            "subnet-0fedcba9876543210".into(),
        ],
        security_group_ids: vec!["sg-0123456789abcdef0".into()],
    });
    config.alarms = Some(AlarmSettings {
        email: "team@example.com".into(),
        p99_ms: 800,
        error_rate_percent: 2,
    });
    config.tracing = true;
    config
}

/// The dev environment with each combination of vpc, alarms, tracing and access logging off, with
/// a name saying which (`vpc+alarms`, `plain`, ...).
pub fn every_combination() -> Vec<(String, EnvConfig)> {
    let base = EnvConfig::load(&deploy_dir(), "dev").unwrap();
    let full = everything_on();
    (0..16u8)
        .map(|bits| {
            let mut config = base.clone();
            let mut names = Vec::new();
            if bits & 1 != 0 {
                config.vpc = full.vpc.clone();
                names.push("vpc");
            }
            if bits & 2 != 0 {
                config.alarms = full.alarms.clone();
                names.push("alarms");
            }
            if bits & 4 != 0 {
                config.tracing = true;
                names.push("tracing");
            }
            if bits & 8 != 0 {
                config.apigateway_logging_role = LoggingRole::Off;
                names.push("no-access-log");
            }
            let name = if names.is_empty() {
                "plain".to_owned()
            } else {
                names.join("+")
            };
            (name, config)
        })
        .collect()
}
