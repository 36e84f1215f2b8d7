//! The local stack's Lambda: runs a function's real `bootstrap` as a process, fed through the
//! Lambda Runtime API exactly as AWS Lambda feeds it, with real cold starts and REPORT lines.
//!
//! devstack never links the API crates: what a function does locally it does for the same
//! reasons in AWS. Later the API Gateway, WAF and Cognito emulation build on
//! [`ExecutionEnvironment`].

pub mod cognito;
pub mod environment;
pub mod log;
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
