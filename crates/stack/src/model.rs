//! The deployment model: which functions exist and which API Gateway methods reach them, derived
//! from the route table for each packaging pattern.

use std::collections::BTreeSet;

use routes::{API_PREFIX, Access, Group, ROUTES, Route};

use crate::env::EnvConfig;

/// How the API's code is packaged into functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// One function serves every route.
    Lith,
    /// One function per route group.
    Fat,
    /// One single-purpose function per route, and the meta group's function for the paths no
    /// route declares (so they still get the API's JSON 404).
    Single,
}

impl Pattern {
    pub const ALL: [Pattern; 3] = [Pattern::Lith, Pattern::Fat, Pattern::Single];

    pub fn name(self) -> &'static str {
        match self {
            Pattern::Lith => "lith",
            Pattern::Fat => "fat",
            Pattern::Single => "single",
        }
    }

    /// The function (its package name, `target/lambda/<name>`) that serves `route`.
    pub fn function_for(self, route: &Route) -> &'static str {
        match self {
            Pattern::Lith => "lith",
            Pattern::Fat => route.group().name(),
            Pattern::Single => route.operation.slug(),
        }
    }

    /// The function that answers paths and methods no route declares: the API's JSON 404 and 405.
    pub fn catch_all_function(self) -> &'static str {
        match self {
            Pattern::Lith => "lith",
            Pattern::Fat | Pattern::Single => Group::Meta.name(),
        }
    }

    /// The function a catch-all resource below a collection's prefix sends to (fat and single:
    /// the lith's one function knows every path). For fat, the group's function; for single,
    /// the function of the first route declared at the deepest path containing `path`, whose
    /// router answers another method there with 405 and a path below it with 404, as the
    /// group's function would.
    pub fn catch_all_function_under(self, group: Group, path: &str) -> &'static str {
        let owner = || {
            ROUTES
                .iter()
                .filter(|route| route.group() == group)
                .filter(|route| path == route.path || path.starts_with(&format!("{}/", route.path)))
                .fold(None::<&Route>, |deepest, route| match deepest {
                    Some(found) if found.path.len() >= route.path.len() => Some(found),
                    _ => Some(route),
                })
        };
        match self {
            Pattern::Single => owner().map_or(self.catch_all_function(), |r| self.function_for(r)),
            Pattern::Fat => group.name(),
            Pattern::Lith => self.catch_all_function(),
        }
    }

    /// Every function of the pattern that serves routes, in a stable order.
    pub fn functions(self) -> Vec<&'static str> {
        match self {
            Pattern::Lith => vec!["lith"],
            Pattern::Fat => Group::ALL.iter().map(|group| group.name()).collect(),
            Pattern::Single => {
                let mut functions: Vec<&'static str> =
                    ROUTES.iter().map(|route| route.operation.slug()).collect();
                functions.push(self.catch_all_function());
                functions
            }
        }
    }

    /// Every package a deployment of the pattern needs: its functions, then the janitor.
    pub fn packages(self) -> Vec<&'static str> {
        let mut packages = self.functions();
        packages.push(JANITOR);
        packages
    }
}

/// The package of the allow-list janitor, a scheduled function every deployment has.
pub const JANITOR: &str = "janitor";

impl std::str::FromStr for Pattern {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lith" => Ok(Pattern::Lith),
            "fat" => Ok(Pattern::Fat),
            "single" => Ok(Pattern::Single),
            other => Err(format!(
                "unknown pattern {other:?}: use lith, fat or single"
            )),
        }
    }
}

/// One Lambda function of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The package it runs: `target/lambda/<package>/bootstrap.zip`.
    pub package: &'static str,
    /// The deployed function's name, `catalog-<env>-<package>`.
    pub function_name: String,
    /// The route groups whose code it runs.
    pub groups: Vec<Group>,
    /// The routes API Gateway sends to it by their own method (not through a catch-all), in
    /// table order: what its permissions are derived from.
    pub routes: Vec<&'static Route>,
}

/// Who may call a method, as API Gateway enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MethodAuth {
    None,
    /// The Cognito User Pools authorizer (every configured pool), ID tokens.
    Cognito,
}

/// An API Gateway method: an HTTP method (or ANY) on a resource path, proxied to one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodSpec {
    /// The resource path, in API Gateway's syntax (`/api/v0/projects/{name}`, `/{proxy+}`).
    pub path: String,
    /// `GET`, `POST`, `DELETE`, `OPTIONS` (preflights) or `ANY`.
    pub http_method: &'static str,
    /// The package of the function it proxies to.
    pub function: &'static str,
    pub auth: MethodAuth,
}

/// Everything one environment's deployment of one pattern consists of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub pattern: Pattern,
    pub env_name: String,
    pub config: EnvConfig,
    /// The functions that serve routes.
    pub functions: Vec<FunctionSpec>,
    pub methods: Vec<MethodSpec>,
    /// The allow-list janitor, run on the environment's `janitor_schedule`.
    pub janitor: FunctionSpec,
}

impl Deployment {
    /// Derives the deployment from the route table.
    ///
    /// Every route of the table gets an explicit method on its own resource, with the authorizer
    /// when the table says so; catch-all `ANY` methods send everything else to the function that
    /// owns it (for fat: each collection's prefix to its function, the rest to meta). So a
    /// protected route never depends on falling through to a catch-all.
    pub fn new(pattern: Pattern, env_name: &str, config: EnvConfig) -> Deployment {
        let functions = pattern
            .functions()
            .into_iter()
            .map(|package| {
                let routes: Vec<&'static Route> = ROUTES
                    .iter()
                    .filter(|route| pattern.function_for(route) == package)
                    .collect();
                let catches_all = package == pattern.catch_all_function();
                FunctionSpec {
                    package,
                    function_name: format!("catalog-{env_name}-{package}"),
                    groups: Group::ALL
                        .into_iter()
                        .filter(|group| {
                            routes.iter().any(|route| route.group() == *group)
                                || (catches_all && *group == Group::Meta)
                        })
                        .collect(),
                    routes,
                }
            })
            .collect();

        let declared: BTreeSet<&str> = ROUTES.iter().map(|route| route.path).collect();
        let any = |path: String, function| MethodSpec {
            path,
            http_method: "ANY",
            function,
            auth: MethodAuth::None,
        };
        let fallback = pattern.catch_all_function();
        let mut methods: Vec<MethodSpec> = catch_all_paths("/", &declared)
            .into_iter()
            .map(|path| any(path, fallback))
            .collect();
        if pattern != Pattern::Lith {
            for group in Group::ALL {
                if let Some(collection) = group.collection() {
                    let prefix = format!("{API_PREFIX}/{}", collection.name());
                    methods.extend(catch_all_paths(&prefix, &declared).into_iter().map(|path| {
                        let function = pattern.catch_all_function_under(group, &path);
                        any(path, function)
                    }));
                }
            }
        }
        for route in ROUTES {
            methods.push(MethodSpec {
                path: route.path.to_owned(),
                http_method: route.method.as_str(),
                function: pattern.function_for(route),
                auth: match route.access {
                    Access::Public => MethodAuth::None,
                    Access::CognitoToken => MethodAuth::Cognito,
                },
            });
        }
        // A browser asks before a cross-origin call that sends a token or JSON (a preflight:
        // OPTIONS, never with a token). Without a method for it API Gateway answers 403 Missing
        // Authentication Token and the browser gives up, so each route's resource sends it,
        // open as preflights must be, to the function whose CORS rule answers it.
        let mut preflighted = BTreeSet::new();
        for route in ROUTES {
            if preflighted.insert(route.path) {
                methods.push(MethodSpec {
                    path: route.path.to_owned(),
                    http_method: "OPTIONS",
                    function: pattern.function_for(route),
                    auth: MethodAuth::None,
                });
            }
        }
        Deployment {
            pattern,
            janitor: FunctionSpec {
                package: JANITOR,
                function_name: format!("catalog-{env_name}-{JANITOR}"),
                groups: Vec::new(),
                routes: Vec::new(),
            },
            env_name: env_name.to_owned(),
            config,
            functions,
            methods,
        }
    }

    /// Every function of the deployment: those that serve routes, then the janitor.
    pub fn all_functions(&self) -> impl Iterator<Item = &FunctionSpec> {
        self.functions.iter().chain(std::iter::once(&self.janitor))
    }

    /// Every resource path the methods need, parents included, root excluded, parents first.
    pub fn resource_paths(&self) -> Vec<String> {
        let mut paths = BTreeSet::new();
        for method in &self.methods {
            let segments: Vec<&str> = method.path.split('/').filter(|s| !s.is_empty()).collect();
            for end in 1..=segments.len() {
                paths.insert(format!("/{}", segments[..end].join("/")));
            }
        }
        let mut paths: Vec<String> = paths.into_iter().collect();
        paths.sort_by_key(|p| (p.matches('/').count(), p.clone()));
        paths
    }

    /// The CloudFormation stack this deployment lives in (see [`stack_name`]).
    pub fn stack_name(&self) -> String {
        stack_name(&self.env_name)
    }

    /// Names of the WAF IP sets (IPv4, IPv6) of the environment.
    pub fn ip_set_names(&self) -> Result<waf::IpSetNames, waf::NameError> {
        waf::IpSetNames::for_env(&self.env_name)
    }
}

/// The CloudFormation stack of an environment: one per environment, whatever the pattern, so
/// switching pattern updates it in place.
pub fn stack_name(env: &str) -> String {
    format!("catalog-{env}")
}

/// The resources that, each with an `ANY` method, send every path at or below `prefix` to one
/// function, in a tree API Gateway accepts.
///
/// API Gateway allows one variable child per resource (a `{name}` and a `{proxy+}` side by side
/// are refused) and no child below a greedy `{proxy+}`. So where the route table already puts a
/// variable child under a resource, the catch-all goes through that child (`{name}` gets `ANY`,
/// and `{name}/{proxy+}` catches what is deeper); only where there is none does `{proxy+}` hang
/// off the resource itself. Literal children need nothing: a path that matches one of them but
/// not its method falls through to these resources, as API Gateway's matching does.
pub fn catch_all_paths(prefix: &str, declared: &BTreeSet<&str>) -> Vec<String> {
    let mut paths = vec![prefix.to_owned()];
    let mut node = prefix.trim_end_matches('/').to_owned();
    loop {
        let children = format!("{node}/");
        let variable = declared
            .iter()
            .filter_map(|path| path.strip_prefix(&children))
            .filter_map(|rest| rest.split('/').next())
            .find(|segment| segment.starts_with('{'));
        match variable {
            Some(segment) if !segment.ends_with("+}") => {
                node = format!("{children}{segment}");
                paths.push(node.clone());
            }
            Some(greedy) => {
                paths.push(format!("{children}{greedy}"));
                return paths;
            }
            None => {
                paths.push(format!("{children}{{proxy+}}"));
                return paths;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(pattern: Pattern) -> Deployment {
        let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        Deployment::new(pattern, "dev", EnvConfig::load(&deploy, "dev").unwrap())
    }

    #[test]
    fn fat_has_one_function_per_group_and_lith_one_for_all() {
        let fat = dev(Pattern::Fat);
        let names: Vec<_> = fat
            .functions
            .iter()
            .map(|f| f.function_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "catalog-dev-projects",
                "catalog-dev-technologies",
                "catalog-dev-meta"
            ]
        );
        let lith = dev(Pattern::Lith);
        assert_eq!(lith.functions.len(), 1);
        assert_eq!(lith.functions[0].groups, Group::ALL);
    }

    #[test]
    fn every_route_has_an_explicit_method_with_the_tables_access() {
        for pattern in Pattern::ALL {
            let deployment = dev(pattern);
            for route in ROUTES {
                let method = deployment
                    .methods
                    .iter()
                    .find(|m| m.path == route.path && m.http_method == route.method.as_str())
                    .unwrap_or_else(|| panic!("{} {}", route.method.as_str(), route.path));
                assert_eq!(method.auth == MethodAuth::Cognito, route.is_protected());
                assert_eq!(method.function, pattern.function_for(route));
            }
        }
    }

    #[test]
    fn every_route_resource_takes_preflights_without_a_token_at_its_own_function() {
        for pattern in Pattern::ALL {
            let deployment = dev(pattern);
            for route in ROUTES {
                let preflights: Vec<&MethodSpec> = deployment
                    .methods
                    .iter()
                    .filter(|m| m.path == route.path && m.http_method == "OPTIONS")
                    .collect();
                assert_eq!(preflights.len(), 1, "OPTIONS {}", route.path);
                assert_eq!(preflights[0].auth, MethodAuth::None);
                assert_eq!(
                    preflights[0].function,
                    ROUTES
                        .iter()
                        .find(|first| first.path == route.path)
                        .map(|first| pattern.function_for(first))
                        .unwrap()
                );
            }
        }
    }

    #[test]
    fn single_has_one_function_per_route_and_meta_catches_the_rest() {
        let single = dev(Pattern::Single);
        assert_eq!(single.functions.len(), ROUTES.len() + 1);
        for (function, route) in single.functions.iter().zip(ROUTES) {
            assert_eq!(function.routes, [route]);
            assert_eq!(function.groups, [route.group()]);
            assert_eq!(
                function.function_name,
                format!("catalog-dev-{}", route.operation.slug())
            );
        }
        let meta = single.functions.last().unwrap();
        assert_eq!(
            (meta.package, meta.groups.as_slice()),
            ("meta", &[Group::Meta][..])
        );
        assert!(
            meta.routes.is_empty(),
            "reached only through the catch-alls"
        );
        let any: Vec<(&str, &str)> = single
            .methods
            .iter()
            .filter(|m| m.http_method == "ANY")
            .map(|m| (m.path.as_str(), m.function))
            .collect();
        assert_eq!(
            any[..5],
            [
                ("/", "meta"),
                ("/{proxy+}", "meta"),
                ("/api/v0/projects", "list-projects"),
                ("/api/v0/projects/{name}", "get-project"),
                ("/api/v0/projects/{name}/{proxy+}", "get-project"),
            ]
        );
    }

    #[test]
    fn catch_alls_go_through_the_variable_child_the_table_declares() {
        let declared: BTreeSet<&str> =
            ["/a", "/a/{id}", "/a/{id}/b", "/c/{rest+}", "/d/lit"].into();
        assert_eq!(catch_all_paths("/", &declared), ["/", "/{proxy+}"]);
        assert_eq!(
            catch_all_paths("/a", &declared),
            ["/a", "/a/{id}", "/a/{id}/{proxy+}"]
        );
        assert_eq!(catch_all_paths("/c", &declared), ["/c", "/c/{rest+}"]);
        assert_eq!(catch_all_paths("/d", &declared), ["/d", "/d/{proxy+}"]);
    }

    #[test]
    fn fat_collections_catch_all_through_their_item_resource() {
        let fat = dev(Pattern::Fat);
        let any_on = |path: &str| {
            fat.methods
                .iter()
                .find(|m| m.path == path && m.http_method == "ANY")
                .map(|m| m.function)
        };
        assert_eq!(any_on("/api/v0/projects/{name}"), Some("projects"));
        assert_eq!(any_on("/api/v0/projects/{name}/{proxy+}"), Some("projects"));
        assert_eq!(any_on("/api/v0/projects/{proxy+}"), None);
        assert_eq!(any_on("/{proxy+}"), Some("meta"));
    }

    #[test]
    fn resource_paths_list_parents_first() {
        let paths = dev(Pattern::Lith).resource_paths();
        let position = |p: &str| paths.iter().position(|x| x == p).unwrap();
        assert!(position("/api") < position("/api/v0"));
        assert!(position("/api/v0/projects") < position("/api/v0/projects/{name}"));
        assert!(paths.contains(&"/{proxy+}".to_owned()));
    }
}
