//! The route table: every route of the catalog API, declared once, as plain data.
//!
//! Routers, the OpenAPI document, the API Gateway resources and methods of each pattern (and so
//! the local gateway's routing) are all derived from [`ROUTES`]; nothing about routes is written
//! twice. This crate links
//! no HTTP stack so that deployment tooling can read the table without pulling in axum.

use catalog::Collection;

/// The stable prefix of every API route.
pub const API_PREFIX: &str = "/api/v0";

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// A route group: the unit a FAT deployment gives its own function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Projects,
    Technologies,
    Meta,
}

impl Group {
    pub const ALL: [Group; 3] = [Group::Projects, Group::Technologies, Group::Meta];

    /// The group's name, also the name of its function in the FAT pattern.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Projects => "projects",
            Group::Technologies => "technologies",
            Group::Meta => "meta",
        }
    }

    pub fn from_name(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|group| group.name() == name)
    }

    /// The collection a group serves, if it is a collection group.
    pub const fn collection(self) -> Option<Collection> {
        match self {
            Group::Projects => Some(Collection::Projects),
            Group::Technologies => Some(Collection::Technologies),
            Group::Meta => None,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone the WAF lets through.
    Public,
    /// Only callers presenting a Cognito ID token from a configured user pool.
    CognitoToken,
}

/// What a route does; the API maps each operation to exactly one handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// The same four operations serve every collection.
    Collection(Collection, CollectionOp),
    Meta(MetaOp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CollectionOp {
    List,
    Create,
    Get,
    Delete,
}

impl CollectionOp {
    pub const ALL: [CollectionOp; 4] = [
        CollectionOp::List,
        CollectionOp::Create,
        CollectionOp::Get,
        CollectionOp::Delete,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaOp {
    Welcome,
    Health,
    OpenApi,
    Docs,
    DocsAsset,
}

impl Operation {
    /// The operation's name in kebab case, its route's operation id with dashes: the package and
    /// function name of its single-purpose function (`catalog-<env>-list-projects`).
    pub const fn slug(self) -> &'static str {
        use CollectionOp::*;
        use catalog::Collection::{Projects, Technologies};
        match self {
            Operation::Meta(MetaOp::Welcome) => "welcome",
            Operation::Meta(MetaOp::Health) => "health",
            Operation::Meta(MetaOp::OpenApi) => "openapi",
            Operation::Meta(MetaOp::Docs) => "docs",
            Operation::Meta(MetaOp::DocsAsset) => "docs-asset",
            Operation::Collection(Projects, List) => "list-projects",
            Operation::Collection(Projects, Create) => "create-project",
            Operation::Collection(Projects, Get) => "get-project",
            Operation::Collection(Projects, Delete) => "delete-project",
            Operation::Collection(Technologies, List) => "list-technologies",
            Operation::Collection(Technologies, Create) => "create-technology",
            Operation::Collection(Technologies, Get) => "get-technology",
            Operation::Collection(Technologies, Delete) => "delete-technology",
        }
    }

    /// The route of an operation, or `None` for one the table has no route for.
    pub fn route(self) -> Option<&'static Route> {
        ROUTES.iter().find(|route| route.operation == self)
    }

    /// The group an operation belongs to: each collection is its own group, the rest is meta.
    pub const fn group(self) -> Group {
        match self {
            Operation::Collection(Collection::Projects, _) => Group::Projects,
            Operation::Collection(Collection::Technologies, _) => Group::Technologies,
            Operation::Meta(_) => Group::Meta,
        }
    }
}

/// One route: method and path (path parameters as `{name}`, the syntax axum 0.8, OpenAPI and API
/// Gateway share), what it does, and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub operation: Operation,
    pub access: Access,
    /// A short sentence for the OpenAPI document.
    pub summary: &'static str,
    /// Unique, stable name of the operation (OpenAPI operationId).
    pub operation_id: &'static str,
}

impl Route {
    pub const fn group(&self) -> Group {
        self.operation.group()
    }

    pub const fn is_protected(&self) -> bool {
        matches!(self.access, Access::CognitoToken)
    }

    /// Names of the path parameters, in order.
    pub fn path_parameters(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
    }
}

const fn route(
    method: Method,
    path: &'static str,
    operation: Operation,
    access: Access,
    operation_id: &'static str,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        operation,
        access,
        summary,
        operation_id,
    }
}

use Access::{CognitoToken, Public};
use Collection::{Projects, Technologies};
use CollectionOp::{Create, Delete as Remove, Get as Fetch, List};
use Method::{Delete, Get, Post};
use Operation::{Collection as C, Meta as M};

/// Every route of the API. Every POST and DELETE needs a Cognito token.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route(Get, "/api/v0", M(MetaOp::Welcome), Public, "welcome", "Welcome message and links"),
    route(Get, "/health", M(MetaOp::Health), Public, "health", "Liveness and store health"),
    route(Get, "/openapi.json", M(MetaOp::OpenApi), Public, "openapi", "This OpenAPI document"),
    route(Get, "/docs", M(MetaOp::Docs), Public, "docs", "Interactive API documentation (Swagger UI)"),
    route(Get, "/docs/{asset}", M(MetaOp::DocsAsset), Public, "docs_asset", "Static files of the documentation page"),
    route(Get, "/api/v0/projects", C(Projects, List), Public, "list_projects", "List projects"),
    route(Post, "/api/v0/projects", C(Projects, Create), CognitoToken, "create_project", "Create a project"),
    route(Get, "/api/v0/projects/{name}", C(Projects, Fetch), Public, "get_project", "Get a project by name"),
    route(Delete, "/api/v0/projects/{name}", C(Projects, Remove), CognitoToken, "delete_project", "Delete a project by name"),
    route(Get, "/api/v0/technologies", C(Technologies, List), Public, "list_technologies", "List technologies"),
    route(Post, "/api/v0/technologies", C(Technologies, Create), CognitoToken, "create_technology", "Create a technology"),
    route(Get, "/api/v0/technologies/{name}", C(Technologies, Fetch), Public, "get_technology", "Get a technology by name"),
    route(Delete, "/api/v0/technologies/{name}", C(Technologies, Remove), CognitoToken, "delete_technology", "Delete a technology by name"),
];

/// The routes of one group, in table order.
pub fn routes_of(group: Group) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |route| route.group() == group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_write_route_needs_a_token_and_every_read_is_public() {
        for route in ROUTES {
            let write = matches!(route.method, Method::Post | Method::Delete);
            assert_eq!(
                route.is_protected(),
                write,
                "{} {}",
                route.method.as_str(),
                route.path
            );
        }
    }

    #[test]
    fn method_and_path_pairs_and_operation_ids_are_unique() {
        let mut pairs = HashSet::new();
        let mut ids = HashSet::new();
        for route in ROUTES {
            assert!(
                pairs.insert((route.method, route.path)),
                "duplicate {} {}",
                route.method.as_str(),
                route.path
            );
            assert!(
                ids.insert(route.operation_id),
                "duplicate operation id {}",
                route.operation_id
            );
        }
    }

    #[test]
    fn collection_routes_live_under_their_collection_path() {
        for route in ROUTES {
            if let Some(collection) = route.group().collection() {
                let base = format!("{API_PREFIX}/{}", collection.name());
                assert!(
                    route.path == base || route.path.starts_with(&format!("{base}/")),
                    "{}",
                    route.path
                );
            }
        }
    }

    #[test]
    fn every_group_has_routes_and_path_parameters_are_parsed() {
        for group in Group::ALL {
            assert!(routes_of(group).next().is_some(), "{group:?} has no routes");
            assert_eq!(Group::from_name(group.name()), Some(group));
        }
        let get = ROUTES
            .iter()
            .find(|r| r.operation_id == "get_project")
            .unwrap();
        assert_eq!(get.path_parameters().collect::<Vec<_>>(), ["name"]);
    }

    #[test]
    fn an_operations_slug_is_its_operation_id_with_dashes() {
        for route in ROUTES {
            assert_eq!(route.operation.slug(), route.operation_id.replace('_', "-"));
            assert_eq!(route.operation.route(), Some(route));
        }
    }

    #[test]
    fn every_collection_has_the_four_operations() {
        for collection in Collection::ALL {
            for op in CollectionOp::ALL {
                let operation = Operation::Collection(collection, op);
                assert_eq!(
                    ROUTES.iter().filter(|r| r.operation == operation).count(),
                    1,
                    "{operation:?}"
                );
            }
        }
    }
}
