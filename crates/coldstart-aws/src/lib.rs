//! Cold starts in AWS Lambda, measured from the developer's machine (`cargo xtask coldstart
//! --target aws`): for each packaging pattern, architecture and memory size, temporary functions
//! made from the same packages the deploy uploads, each sample a forced cold start read from
//! Lambda's own platform report.
//!
//! - **The stack first.** The environment's deployed stack (either pattern) gives each route
//!   group's role and variables (so the first request reaches the real data store), the API's
//!   id for the events, and the names the temporary functions must not take.
//! - **Forcing a cold start** in AWS is changing the function's configuration (its memory size
//!   and a variable holding the sample's number) and waiting until Lambda says the update is
//!   Successful: the next Invoke then runs in a new execution environment. A sample counts as
//!   cold only if its report carries an Init Duration.
//! - **Reports** come from the Invoke's log tail (`LogType=Tail`), text or JSON
//!   (`platform-report` reads both), and from CloudWatch Logs when the 4 KB tail lacks them.
//! - **Nothing is left behind**: every function created is deleted at the end, when the run
//!   fails and when it is interrupted ([`Interrupt`]); what was created and deleted is reported.
//! - **Results** are `measure`'s (the same table, ratios, JSON and chart as the local command),
//!   with architecture and memory size as further dimensions, and what the run cost ([`cost`]).

pub mod cost;
mod error;
mod interrupt;
mod progress;
mod run;

pub use cost::{Cost, Usage};
pub use error::ColdstartError;
pub use interrupt::Interrupt;
pub use progress::{Progress, TerminalProgress};
pub use run::{AwsRun, Cleanup, Measurement, Plan, RUN_TAG, RunError, SAMPLE_VARIABLE, Timing};
