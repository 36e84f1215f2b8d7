//! The check every rendered template passes: each route of the table reaches the function that
//! owns its group, and each route the table marks protected is reachable by its method only
//! through the Cognito authorizer.
//!
//! It runs on the template as read back, with API Gateway's own matching, so a method the
//! template forgot (the proof of concept protected DELETE on the collection while deletion
//! happened on the item path, through a public `{proxy+}`) is caught before any deploy.

use routes::ROUTES;

use crate::template::{ApiTemplate, Authorization};

/// A route the template routes wrongly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "{method} {path} needs a Cognito token but reaches {resource} {served_by} without the authorizer"
    )]
    Unprotected {
        method: &'static str,
        path: String,
        resource: String,
        served_by: String,
    },
    #[error("{method} {path} reaches no method (API Gateway would answer 403)")]
    Unreachable { method: &'static str, path: String },
    #[error(
        "{method} {path} belongs to the {group} group but reaches function {function}, which does not serve it"
    )]
    WrongFunction {
        method: &'static str,
        path: String,
        group: &'static str,
        function: String,
    },
}

/// Sample values for path parameters: a plain one and ones that look like other routes.
const SAMPLES: [&str; 3] = ["sample", "projects", "v0"];

/// Checks every route of the table against the template; empty when all is well.
pub fn check_routes(api: &ApiTemplate) -> Vec<Violation> {
    let mut violations = Vec::new();
    for route in ROUTES {
        let method = route.method.as_str();
        for sample in SAMPLES {
            let path: String = route
                .path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        sample
                    } else {
                        segment
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let Ok(matched) = api.match_request(method, &path) else {
                violations.push(Violation::Unreachable { method, path });
                continue;
            };
            let function = api.function(matched.method);
            if !function.groups.iter().any(|g| g == route.group().name()) {
                violations.push(Violation::WrongFunction {
                    method,
                    path: path.clone(),
                    group: route.group().name(),
                    function: function.function_name.clone(),
                });
            }
            let authorized = matches!(&matched.method.authorization, Authorization::CognitoUserPools { provider_arns, .. } if !provider_arns.is_empty());
            if route.is_protected() && !authorized {
                violations.push(Violation::Unprotected {
                    method,
                    path,
                    resource: matched.resource.path.clone(),
                    served_by: matched.method.http_method.clone(),
                });
            }
            if !route.path.contains('{') {
                break;
            }
        }
    }
    violations.dedup();
    violations
}
