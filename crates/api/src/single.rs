//! One router per route, for the single-purpose functions (`--pattern single`). Each constructor
//! names its handler directly, so a binary that calls one links that handler and no other
//! route's; the route's method and path still come from the table.

use axum::Router;
use axum::routing::on;
use catalog::Collection::{Projects, Technologies};
use routes::CollectionOp::{Create, Delete, Get, List};
use routes::MetaOp;
use routes::Operation::{Collection as C, Meta as M};

use crate::router::one_route;
use crate::state::AppState;
use crate::{collections, meta};

pub fn welcome(state: AppState) -> Router {
    one_route(M(MetaOp::Welcome), |m| on(m, meta::welcome), state)
}

pub fn health(state: AppState) -> Router {
    one_route(M(MetaOp::Health), |m| on(m, meta::health), state)
}

pub fn openapi(state: AppState) -> Router {
    one_route(M(MetaOp::OpenApi), |m| on(m, meta::openapi), state)
}

pub fn docs(state: AppState) -> Router {
    one_route(M(MetaOp::Docs), |m| on(m, meta::docs), state)
}

pub fn docs_asset(state: AppState) -> Router {
    one_route(M(MetaOp::DocsAsset), |m| on(m, meta::docs_asset), state)
}

pub fn list_projects(state: AppState) -> Router {
    one_route(
        C(Projects, List),
        |m| collections::list_route(Projects, m),
        state,
    )
}

pub fn create_project(state: AppState) -> Router {
    one_route(
        C(Projects, Create),
        |m| collections::create_route(Projects, m),
        state,
    )
}

pub fn get_project(state: AppState) -> Router {
    one_route(
        C(Projects, Get),
        |m| collections::get_route(Projects, m),
        state,
    )
}

pub fn delete_project(state: AppState) -> Router {
    one_route(
        C(Projects, Delete),
        |m| collections::delete_route(Projects, m),
        state,
    )
}

pub fn list_technologies(state: AppState) -> Router {
    one_route(
        C(Technologies, List),
        |m| collections::list_route(Technologies, m),
        state,
    )
}

pub fn create_technology(state: AppState) -> Router {
    one_route(
        C(Technologies, Create),
        |m| collections::create_route(Technologies, m),
        state,
    )
}

pub fn get_technology(state: AppState) -> Router {
    one_route(
        C(Technologies, Get),
        |m| collections::get_route(Technologies, m),
        state,
    )
}

pub fn delete_technology(state: AppState) -> Router {
    one_route(
        C(Technologies, Delete),
        |m| collections::delete_route(Technologies, m),
        state,
    )
}
