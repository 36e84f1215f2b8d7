//! API Gateway (REST) resource and method matching, as AWS does it.
//!
//! Matching is by resource and method together: of the resources whose path matches, the most
//! specific that has the method (or ANY) wins; a literal segment beats a `{param}` sibling, which
//! beats `{proxy+}`; a resource without the method falls through to the next candidate. When
//! nothing has the method the answer is 403 "Missing Authentication Token". `{proxy+}` matches one
//! or more segments and never `/`.

use crate::template::{ApiMethod, ApiResource, ApiTemplate};

/// What a request matched: the resource, the method that serves it, and the path parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayMatch<'a> {
    pub resource: &'a ApiResource,
    pub method: &'a ApiMethod,
    /// Parameter values, percent-decoded, in path order (`name`, or `proxy` for `{proxy+}`).
    pub path_parameters: Vec<(String, String)>,
}

/// API Gateway's answer when no resource has the method: 403 with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Missing Authentication Token")]
pub struct MatchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal,
    Param,
    Greedy,
}

/// Path parameter names and their decoded values.
type Parameters = Vec<(String, String)>;

/// How `pattern` matches `segments`, as the rank of each pattern segment, and the parameters.
fn match_resource(pattern: &str, segments: &[&str]) -> Option<(Vec<Segment>, Parameters)> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut ranks = Vec::with_capacity(parts.len());
    let mut parameters = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            // Greedy: the rest of the path, at least one non-empty segment, only as the last part.
            let rest = &segments[index.min(segments.len())..];
            if index + 1 != parts.len() || rest.is_empty() || rest.iter().all(|s| s.is_empty()) {
                return None;
            }
            ranks.push(Segment::Greedy);
            parameters.push((name.to_owned(), decode(&rest.join("/"))));
            return Some((ranks, parameters));
        }
        let segment = segments.get(index)?;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            ranks.push(Segment::Param);
            parameters.push((name.to_owned(), decode(segment)));
        } else if part == segment {
            ranks.push(Segment::Literal);
        } else {
            return None;
        }
    }
    (parts.len() == segments.len()).then_some((ranks, parameters))
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

impl ApiTemplate {
    /// Matches a request path (without the stage) and method the way API Gateway does.
    pub fn match_request(
        &self,
        http_method: &str,
        path: &str,
    ) -> Result<GatewayMatch<'_>, MatchError> {
        let segments: Vec<&str> = match path.strip_prefix('/') {
            Some("") | None => Vec::new(),
            Some(rest) => rest.split('/').collect(),
        };
        let mut candidates: Vec<(Vec<Segment>, &ApiResource, Parameters)> = self
            .resources
            .iter()
            .filter_map(|resource| {
                let (ranks, parameters) = match_resource(&resource.path, &segments)?;
                Some((ranks, resource, parameters))
            })
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, resource, path_parameters) in candidates {
            let method = resource
                .methods
                .iter()
                .find(|m| m.http_method.eq_ignore_ascii_case(http_method))
                .or_else(|| resource.methods.iter().find(|m| m.http_method == "ANY"));
            if let Some(method) = method {
                return Ok(GatewayMatch {
                    resource,
                    method,
                    path_parameters,
                });
            }
        }
        Err(MatchError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Authorization;
    use std::collections::BTreeMap;

    fn api(resources: &[(&str, &[&str])]) -> ApiTemplate {
        ApiTemplate {
            stage: "dev".into(),
            access_log_format: None,
            resources: resources
                .iter()
                .map(|(path, methods)| ApiResource {
                    path: (*path).into(),
                    methods: methods
                        .iter()
                        .map(|m| ApiMethod {
                            http_method: (*m).into(),
                            authorization: Authorization::None,
                            function: format!("{m} {path}"),
                        })
                        .collect(),
                })
                .collect(),
            functions: BTreeMap::new(),
            waf: None,
        }
    }

    fn served_by(api: &ApiTemplate, method: &str, path: &str) -> Option<String> {
        api.match_request(method, path)
            .ok()
            .map(|m| m.method.function.clone())
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let api = api(&[
            ("/", &[]),
            ("/{proxy+}", &["ANY"]),
            ("/items", &["GET"]),
            ("/items/{name}", &["GET"]),
            ("/items/special", &["GET"]),
        ]);
        assert_eq!(
            served_by(&api, "GET", "/items/special").unwrap(),
            "GET /items/special"
        );
        assert_eq!(
            served_by(&api, "GET", "/items/other").unwrap(),
            "GET /items/{name}"
        );
        assert_eq!(
            served_by(&api, "GET", "/items/a/b").unwrap(),
            "ANY /{proxy+}"
        );
    }

    #[test]
    fn a_resource_without_the_method_falls_through() {
        let api = api(&[("/{proxy+}", &["ANY"]), ("/items/{name}", &["DELETE"])]);
        assert_eq!(served_by(&api, "GET", "/items/x").unwrap(), "ANY /{proxy+}");
        assert_eq!(
            served_by(&api, "DELETE", "/items/x").unwrap(),
            "DELETE /items/{name}"
        );
    }

    #[test]
    fn nothing_with_the_method_is_missing_authentication_token() {
        let api = api(&[("/", &[]), ("/items", &["GET"])]);
        assert_eq!(api.match_request("POST", "/items"), Err(MatchError));
        assert_eq!(api.match_request("GET", "/elsewhere"), Err(MatchError));
    }

    #[test]
    fn proxy_does_not_match_the_root() {
        let api = api(&[("/", &[]), ("/{proxy+}", &["ANY"])]);
        assert_eq!(api.match_request("GET", "/"), Err(MatchError));
        let with_root = self::api(&[("/", &["ANY"]), ("/{proxy+}", &["ANY"])]);
        assert_eq!(served_by(&with_root, "GET", "/").unwrap(), "ANY /");
    }

    #[test]
    fn parameters_are_decoded() {
        let api = api(&[("/items/{name}", &["GET"]), ("/{proxy+}", &["ANY"])]);
        let matched = api.match_request("GET", "/items/C%23%20lang").unwrap();
        assert_eq!(
            matched.path_parameters,
            [("name".to_owned(), "C# lang".to_owned())]
        );
        let proxy = api.match_request("GET", "/a/b%2Fc").unwrap();
        assert_eq!(
            proxy.path_parameters,
            [("proxy".to_owned(), "a/b/c".to_owned())]
        );
    }

    #[test]
    fn empty_segments_do_not_fill_parameters() {
        let api = api(&[("/items/{name}", &["GET"]), ("/items/{proxy+}", &["ANY"])]);
        assert_eq!(api.match_request("GET", "/items/"), Err(MatchError));
    }
}
