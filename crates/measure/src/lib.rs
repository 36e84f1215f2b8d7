//! Measuring the API and its local stack, from outside, as a client would: the gateway's own cost
//! per request ([`bench`]), cold starts per pattern against a hello-world floor ([`coldstart`]),
//! and throughput under load with a check that no acknowledged write is lost ([`load`]).
//!
//! Measurements start private local stacks (devstack) on free ports with their own state, and
//! read what the functions say about themselves from their platform reports
//! ([`platform_report`]). Statistics, tables and the chart are derived from raw samples, which
//! are kept in the JSON files the commands write.
//!
//! Without the default feature `local`, only what does not run a local stack is built (results,
//! statistics, tables, the chart, the load generator): what the AWS measurement
//! (crates/coldstart-aws) shares, without the emulator.

#[cfg(feature = "local")]
pub mod bench;
pub mod chart;
pub mod coldstart;
pub mod load;
pub mod machine;
#[cfg(feature = "local")]
pub mod private_stack;
pub mod stats;

#[cfg(feature = "local")]
pub use private_stack::MeasureError;
