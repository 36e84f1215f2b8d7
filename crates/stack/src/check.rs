//! The check every rendered template passes: each route of the table reaches the function that
//! owns its group, and each route the table marks protected is reachable by its method only
//! through the Cognito authorizer.
//!
//! It runs on the template as read back, with API Gateway's own matching, so a method the
//! template forgot (the proof of concept protected DELETE on the collection while deletion
//! happened on the item path, through a public `{proxy+}`) is caught before any deploy. Each
//! route is tried as written and in the spellings API Gateway reads as the same path (doubled
//! slashes, a trailing slash): a protected route must need the authorizer in every one of them.

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

/// `path` and the spellings API Gateway matches as the same resource: a doubled slash at the
/// start or between any two segments, and a trailing slash.
pub fn spellings(path: &str) -> Vec<String> {
    let mut spelled = vec![path.to_owned(), format!("/{path}"), format!("{path}/")];
    for (index, _) in path.match_indices('/').skip(1) {
        spelled.push(format!("{}/{}", &path[..index], &path[index..]));
    }
    spelled
}

/// Checks every route of the table, in every spelling, against the template; empty when all is
/// well. A route reports the first spelling that goes wrong.
pub fn check_routes(api: &ApiTemplate) -> Vec<Violation> {
    let mut violations = Vec::new();
    for route in ROUTES {
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
            for spelled in spellings(&path) {
                let found = check_request(api, route, &spelled);
                let wrong = !found.is_empty();
                violations.extend(found);
                if wrong {
                    break;
                }
            }
            if !route.path.contains('{') {
                break;
            }
        }
    }
    violations.dedup();
    violations
}

/// What is wrong with how `route`'s method reaches the template at `path`.
fn check_request(api: &ApiTemplate, route: &routes::Route, path: &str) -> Vec<Violation> {
    let method = route.method.as_str();
    let path = path.to_owned();
    let Ok(matched) = api.match_request(method, &path) else {
        return vec![Violation::Unreachable { method, path }];
    };
    let mut violations = Vec::new();
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
    violations
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use routes::ROUTES;

    use super::*;
    use crate::{Deployment, EnvConfig, Pattern};

    fn dev_template(pattern: Pattern) -> ApiTemplate {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let deployment = Deployment::new(pattern, "dev", EnvConfig::load(&deploy, "dev").unwrap());
        ApiTemplate::read(&crate::render(&deployment).unwrap()).unwrap()
    }

    #[test]
    fn spellings_double_each_slash_and_add_a_trailing_one() {
        assert_eq!(
            spellings("/api/v0/projects/x"),
            [
                "/api/v0/projects/x",
                "//api/v0/projects/x",
                "/api/v0/projects/x/",
                "/api//v0/projects/x",
                "/api/v0//projects/x",
                "/api/v0/projects//x",
            ]
        );
    }

    /// `DELETE /dev//api/v0/projects/x` reaches the protected DELETE in AWS (slashes are collapsed
    /// before matching); the check judges every such spelling with the gateway's own matching.
    #[test]
    fn every_spelling_of_a_protected_route_needs_the_authorizer() {
        for pattern in Pattern::ALL {
            let api = dev_template(pattern);
            for route in ROUTES.iter().filter(|r| r.is_protected()) {
                let path = route.path.replace("{name}", "x");
                for spelled in spellings(&path) {
                    let matched = api
                        .match_request(route.method.as_str(), &spelled)
                        .unwrap_or_else(|_| panic!("{pattern:?}: {spelled} reaches nothing"));
                    assert!(
                        matches!(
                            matched.method.authorization,
                            Authorization::CognitoUserPools { .. }
                        ),
                        "{pattern:?}: {} {spelled} reaches {} {} without the authorizer",
                        route.method.as_str(),
                        matched.resource.path,
                        matched.method.http_method
                    );
                }
            }
            assert_eq!(check_routes(&api), [], "{pattern:?}");
        }
    }

    #[test]
    fn a_protected_route_reachable_in_one_spelling_is_reported() {
        let mut api = dev_template(Pattern::Lith);
        // The proof of concept's template: deletion only reachable through the public catch-all.
        api.resources
            .retain(|r| !r.path.starts_with("/api/v0/projects/"));
        let violations = check_routes(&api);
        assert!(
            violations.iter().any(|v| matches!(
                v,
                Violation::Unprotected { method: "DELETE", path, .. } if path == "/api/v0/projects/sample"
            )),
            "{violations:?}"
        );
    }
}
