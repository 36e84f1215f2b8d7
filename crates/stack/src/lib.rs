//! The deployment: one typed model, derived from the route table and an environment file, rendered
//! as one CloudFormation template per pattern, and read back from that template.
//!
//! Reading the template back ([`template::ApiTemplate`]) is what both the protection check and
//! the local stack use, so what is checked and what is served locally is the file AWS would get.

pub mod check;
pub mod env;
pub mod logging;
pub mod matching;
pub mod model;
pub mod monitoring;
pub mod render;
pub mod template;
pub mod user_pool;

pub use check::{Violation, check_routes};
pub use env::{AlarmSettings, EnvConfig, EnvError, LoggingRole, VpcSettings};
pub use logging::{FunctionLogging, LogFormat, LogLevel};
pub use matching::{GatewayMatch, MatchError};
pub use model::{Deployment, FunctionSpec, JANITOR, MethodAuth, MethodSpec, Pattern, stack_name};
pub use render::{
    CATALOG_TABLE, CORS_GATEWAY_RESPONSES, RenderError, function_id, logging_role_template,
    logging_role_template_file, render, template_file, to_file_text,
};
pub use template::{
    ApiTemplate, GatewayResponse, HeaderValueSource, TemplateError, janitor_period,
};
pub use user_pool::{PoolError, UserPool};
