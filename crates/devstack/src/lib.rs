//! The local stack: a rendered CloudFormation template served as API Gateway + WAF + Cognito +
//! Lambda would serve it, without Docker ([`local_stack::LocalStack`]). Functions run as real
//! `bootstrap` processes fed through the Lambda Runtime API, with real cold starts and REPORT lines.
//!
//! devstack never links the API crates or the route table: what a function does locally it does
//! for the same reasons in AWS, and routes come from the rendered template. Measuring the stack
//! (bench, coldstart, load) is the `measure` crate's job.

pub mod access_log;
pub mod cognito;
pub mod connection;
pub mod environment;
pub mod gateway;
pub mod local_stack;
pub mod log;
pub mod platform_log;
pub mod pool;
pub mod proxy;
pub mod runtime_api;

pub use environment::{
    DEFAULT_INIT_TIMEOUT, EnvironmentError, ExecutionEnvironment, FunctionConfig, Invocation,
    InvokeError,
};
pub use log::{LogLine, LogRotation, LogSink, LogStream};
// The one parser of platform reports; re-exported because every invocation returns one.
pub use platform_report::{Report, ReportParseError, reports_in};
pub use runtime_api::{ErrorReport, MAX_PAYLOAD_BYTES};

/// A random (v4) UUID from the thread's fast generator. Request and trace ids are made several
/// times per request; from the OS generator each was a `getrandom` system call, which showed in
/// profiles of the stack under load. They identify, they protect nothing.
pub(crate) fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}
