//! Measuring the API and its local stack, from outside, as a client would: the gateway's own cost
//! per request ([`bench`]), cold starts per pattern against a hello-world floor ([`coldstart`]),
//! and throughput under load with a check that no acknowledged write is lost ([`load`]).
//!
//! Measurements start private local stacks (devstack) on free ports with their own state, and
//! read what the functions say about themselves from their platform reports
//! ([`platform_report`]). Statistics, tables and the chart are derived from raw samples, which
//! are kept in the JSON files the commands write.

pub mod bench;
pub mod chart;
pub mod coldstart;
pub mod load;
pub mod machine;
pub mod private_stack;
pub mod stats;

pub use private_stack::MeasureError;
