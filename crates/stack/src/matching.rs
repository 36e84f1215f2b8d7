//! API Gateway (REST) resource and method matching, as AWS does it.
//!
//! Matching is by resource and method together: of the resources whose path matches, the most
//! specific that has the method (or ANY) wins; a literal segment beats a `{param}` sibling, which
//! beats `{proxy+}`; a resource without the method falls through to the next candidate. When
//! nothing has the method the answer is 403 "Missing Authentication Token". `{proxy+}` matches one
//! or more segments and never `/`.
//!
//! The path is read as AWS reads it (recorded answers in tests/gateway_conformance.rs): slashes
//! before the stage do not count, empty segments do not count when matching (`/dev//hardcoded`
//! is `/hardcoded`, `/dev/proxy-value/` is `/proxy-value`), and parameter values keep the text as
//! sent, percent-encoding included (`test%2Balias`, `space%20value`). The local gateway and the
//! protection check both match through here, so a spelling reaches the same method in both.

use std::ops::Range;

use crate::template::{ApiMethod, ApiResource, ApiTemplate};

/// The methods `ANY` stands for: API Gateway's seven. Any other method matches no `ANY`.
pub const ANY_METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// What a request matched: the resource, the method that serves it, and the path parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayMatch<'a> {
    pub resource: &'a ApiResource,
    pub method: &'a ApiMethod,
    /// Parameter values as sent (still percent-encoded), in path order (`name`, or `proxy` for
    /// `{proxy+}`).
    pub path_parameters: Vec<(String, String)>,
}

/// API Gateway's answer when no resource has the method: 403 with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Missing Authentication Token")]
pub struct MatchError;

/// The part of a request path after the stage (`/` for the stage itself), or `None` when the path
/// is not under `stage`. Slashes before the stage do not count: `//dev/x` is `/x` under `dev`.
pub fn path_under_stage<'a>(path: &'a str, stage: &str) -> Option<&'a str> {
    match path.trim_start_matches('/').strip_prefix(stage)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        _ => None,
    }
}

/// A request path after the stage, as sent, split the way API Gateway matches it.
#[derive(Debug, Clone)]
pub struct RequestPath<'a> {
    sent: &'a str,
    /// The non-empty segments, as byte ranges of `sent`.
    segments: Vec<Range<usize>>,
}

impl<'a> RequestPath<'a> {
    pub fn new(sent: &'a str) -> Self {
        let mut segments = Vec::new();
        let mut start = 0;
        for (index, byte) in sent.bytes().enumerate().chain([(sent.len(), b'/')]) {
            if byte == b'/' {
                if index > start {
                    segments.push(start..index);
                }
                start = index + 1;
            }
        }
        RequestPath { sent, segments }
    }

    /// The event's `path`: the slashes it starts with collapsed into one, the rest as sent
    /// (doubled slashes inside, a trailing slash, percent-encoding).
    pub fn event_path(&self) -> String {
        format!("/{}", self.sent.trim_start_matches('/'))
    }

    /// Everything from the first segment to the last, as sent: what `{proxy+}` at the root takes;
    /// `None` for the root itself.
    pub fn proxy_value(&self) -> Option<&'a str> {
        (!self.segments.is_empty()).then(|| self.rest_from(0))
    }

    fn len(&self) -> usize {
        self.segments.len()
    }

    fn segment(&self, index: usize) -> Option<&'a str> {
        self.segments
            .get(index)
            .map(|range| &self.sent[range.clone()])
    }

    /// From segment `index` to the last, as sent: doubled slashes inside stay, trailing ones do
    /// not (`proxy-value//double-slash`, and `proxy-value` for `proxy-value/`).
    fn rest_from(&self, index: usize) -> &'a str {
        let last = self.segments.last().expect("rest_from needs a segment");
        &self.sent[self.segments[index].start..last.end]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Segment {
    Literal,
    Param,
    Greedy,
}

/// Path parameter names and their values as sent.
type Parameters = Vec<(String, String)>;

/// How `pattern` matches `path`, as the rank of each pattern segment, and the parameters.
fn match_resource(pattern: &str, path: &RequestPath<'_>) -> Option<(Vec<Segment>, Parameters)> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut ranks = Vec::with_capacity(parts.len());
    let mut parameters = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            // Greedy: the rest of the path, at least one segment, only as the last part.
            if index + 1 != parts.len() || index >= path.len() {
                return None;
            }
            ranks.push(Segment::Greedy);
            parameters.push((name.to_owned(), path.rest_from(index).to_owned()));
            return Some((ranks, parameters));
        }
        let segment = path.segment(index)?;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            ranks.push(Segment::Param);
            parameters.push((name.to_owned(), segment.to_owned()));
        } else if *part == segment {
            ranks.push(Segment::Literal);
        } else {
            return None;
        }
    }
    (parts.len() == path.len()).then_some((ranks, parameters))
}

impl ApiTemplate {
    /// Matches a request the way API Gateway does: `path` is the request path after the stage as
    /// sent (see [`path_under_stage`]), still percent-encoded.
    pub fn match_request(
        &self,
        http_method: &str,
        path: &str,
    ) -> Result<GatewayMatch<'_>, MatchError> {
        let path = RequestPath::new(path);
        let mut candidates: Vec<(Vec<Segment>, &ApiResource, Parameters)> = self
            .resources
            .iter()
            .filter_map(|resource| {
                let (ranks, parameters) = match_resource(&resource.path, &path)?;
                Some((ranks, resource, parameters))
            })
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(&b.0));
        let any_applies = ANY_METHODS
            .iter()
            .any(|m| m.eq_ignore_ascii_case(http_method));
        for (_, resource, path_parameters) in candidates {
            let method = resource
                .methods
                .iter()
                .find(|m| m.http_method.eq_ignore_ascii_case(http_method))
                .or_else(|| {
                    resource
                        .methods
                        .iter()
                        .find(|m| any_applies && m.http_method == "ANY")
                });
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
            gateway_responses: BTreeMap::new(),
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
    fn parameters_keep_the_encoding_they_were_sent_with() {
        let api = api(&[("/items/{name}", &["GET"]), ("/{proxy+}", &["ANY"])]);
        let matched = api.match_request("GET", "/items/my-id%2F100").unwrap();
        assert_eq!(
            matched.path_parameters,
            [("name".to_owned(), "my-id%2F100".to_owned())]
        );
        let proxy = api.match_request("GET", "/a/space%20value/b%2Fc").unwrap();
        assert_eq!(
            proxy.path_parameters,
            [("proxy".to_owned(), "a/space%20value/b%2Fc".to_owned())]
        );
    }

    #[test]
    fn empty_segments_do_not_fill_parameters() {
        let api = api(&[("/items/{name}", &["GET"]), ("/items/{proxy+}", &["ANY"])]);
        assert_eq!(api.match_request("GET", "/items/"), Err(MatchError));
        assert_eq!(api.match_request("GET", "/items//"), Err(MatchError));
    }

    #[test]
    fn doubled_and_trailing_slashes_do_not_count_when_matching() {
        let api = api(&[
            ("/{proxy+}", &["ANY"]),
            ("/hardcoded", &["ANY"]),
            ("/items/{name}", &["DELETE"]),
        ]);
        for path in ["//hardcoded", "/hardcoded/", "///hardcoded//"] {
            assert_eq!(
                served_by(&api, "GET", path).unwrap(),
                "ANY /hardcoded",
                "{path}"
            );
        }
        for path in ["//items/x", "/items//x", "/items/x/", "//items//x//"] {
            let matched = api.match_request("DELETE", path).unwrap();
            assert_eq!(matched.method.function, "DELETE /items/{name}", "{path}");
            assert_eq!(
                matched.path_parameters,
                [("name".to_owned(), "x".to_owned())]
            );
        }
    }

    #[test]
    fn proxy_keeps_inner_doubled_slashes_and_drops_the_outer_ones() {
        let api = api(&[("/{proxy+}", &["ANY"])]);
        let proxy = |path: &str| api.match_request("GET", path).unwrap().path_parameters;
        let value = |v: &str| vec![("proxy".to_owned(), v.to_owned())];
        assert_eq!(proxy("/proxy-value/"), value("proxy-value"));
        assert_eq!(proxy("//proxy-value"), value("proxy-value"));
        assert_eq!(
            proxy("/proxy-value//double-slash"),
            value("proxy-value//double-slash")
        );
    }

    #[test]
    fn the_event_path_collapses_only_leading_slashes() {
        assert_eq!(
            RequestPath::new("//proxy-value").event_path(),
            "/proxy-value"
        );
        assert_eq!(
            RequestPath::new("/proxy-value/").event_path(),
            "/proxy-value/"
        );
        assert_eq!(RequestPath::new("/a//b").event_path(), "/a//b");
        assert_eq!(RequestPath::new("/").event_path(), "/");
        assert_eq!(RequestPath::new("/").proxy_value(), None);
        assert_eq!(RequestPath::new("//a/b/").proxy_value(), Some("a/b"));
    }

    #[test]
    fn the_stage_is_the_first_segment_whatever_slashes_come_before_it() {
        assert_eq!(path_under_stage("/dev/x", "dev"), Some("/x"));
        assert_eq!(path_under_stage("//dev/x", "dev"), Some("/x"));
        assert_eq!(path_under_stage("/dev//x", "dev"), Some("//x"));
        assert_eq!(path_under_stage("/dev", "dev"), Some("/"));
        assert_eq!(path_under_stage("/dev/", "dev"), Some("/"));
        for other in ["/devx/x", "/DEV/x", "/prod/x", "/", "/x/dev"] {
            assert_eq!(path_under_stage(other, "dev"), None, "{other}");
        }
    }

    #[test]
    fn any_stands_for_seven_methods_only() {
        let api = api(&[("/{proxy+}", &["ANY"])]);
        for method in ANY_METHODS {
            assert!(api.match_request(method, "/x").is_ok(), "{method}");
        }
        for method in ["TRACE", "CONNECT", "PROPFIND"] {
            assert_eq!(api.match_request(method, "/x"), Err(MatchError), "{method}");
        }
        let explicit = self::api(&[("/{proxy+}", &["ANY", "PROPFIND"])]);
        assert_eq!(
            served_by(&explicit, "PROPFIND", "/x").unwrap(),
            "PROPFIND /{proxy+}"
        );
    }
}
