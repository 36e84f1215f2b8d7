//! Deploys a rendered stack to AWS the way `sam deploy` and `cdk deploy` do, without either:
//! packages go to an artifact bucket under their content hash (uploaded only when absent), the
//! template becomes a CloudFormation change set that is shown and confirmed, and its execution is
//! followed event by event until the stack settles: with the URL and the next commands on
//! success, and on failure the failed resources with their reasons, then the rollback.
//!
//! Everything it says goes through [`Progress`], so the terminal display and the tests see the
//! same events.

mod alarms;
mod artifacts;
mod changeset;
mod error;
mod events;
mod logging_role;
mod operations;
mod progress;
mod summary;
mod tables;

pub use alarms::AlarmState;
pub use artifacts::{artifact_bucket_name, package_key};
pub use changeset::ResourceChange;
pub use error::DeployError;
pub use events::{Failure, StackEvent};
pub use logging_role::LOGGING_ROLE_STACK;
pub use operations::{DeployRequest, Deployed, Deployer, Destroyed, PackageLocation};
pub use progress::{Progress, TerminalProgress, change_table, event_line};
pub use summary::StackSummary;
pub use tables::{TableOutcome, create_table_like};

/// The stack tags that say what a stack carries (read back by `status`).
pub const PATTERN_TAG: &str = "catalog:pattern";
pub const ARCHITECTURE_TAG: &str = "catalog:architecture";
