//! The local stack: a rendered CloudFormation template served as API Gateway + WAF + Cognito +
//! Lambda would serve it, without Docker ([`local_stack::LocalStack`]). Functions run as real
//! `bootstrap` processes fed through the Lambda Runtime API, with real cold starts and REPORT lines.
//!
//! devstack never links the API crates: what a function does locally it does for the same
//! reasons in AWS.

pub mod access_log;
pub mod bench;
pub mod cognito;
pub mod coldstart;
pub mod connection;
pub mod environment;
pub mod gateway;
pub mod local_stack;
pub mod log;
pub mod pool;
pub mod proxy;
pub mod report;
pub mod runtime_api;

pub use environment::{
    DEFAULT_INIT_TIMEOUT, EnvironmentError, ExecutionEnvironment, FunctionConfig, Invocation,
    InvokeError,
};
pub use log::{LogLine, LogSink, LogStream};
pub use report::{Report, ReportParseError};
pub use runtime_api::{ErrorReport, MAX_PAYLOAD_BYTES};
