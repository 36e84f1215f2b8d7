//! Routers per route group, composed from the route table, with the layers every group shares.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::middleware;
use axum::routing::{MethodFilter, MethodRouter};
use catalog::Collection;

use crate::error::ApiError;
use crate::state::AppState;
use crate::{collections, context, cors, meta};

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The projects group alone: what the FAT `projects` function serves.
pub fn projects(state: AppState) -> Router {
    finish(collect(collections::routes(Collection::Projects)), state)
}

/// The technologies group alone.
pub fn technologies(state: AppState) -> Router {
    finish(
        collect(collections::routes(Collection::Technologies)),
        state,
    )
}

/// The meta group alone: welcome, health, OpenAPI and docs.
pub fn meta_group(state: AppState) -> Router {
    finish(collect(meta::routes()), state)
}

/// Every group: what the lith function and the plain server serve.
pub fn lith(state: AppState) -> Router {
    let all = collections::routes(Collection::Projects)
        .chain(collections::routes(Collection::Technologies))
        .chain(meta::routes());
    finish(collect(all), state)
}

/// One route alone, with the layers and fallbacks of every router (an unknown path still gets
/// the JSON 404): what a single-purpose function serves (see [`crate::single`]).
pub(crate) fn one_route(
    operation: routes::Operation,
    bind: impl FnOnce(MethodFilter) -> MethodRouter<AppState>,
    state: AppState,
) -> Router {
    let route = operation
        .route()
        .expect("every operation of crate::single has a route in the table");
    let router = Router::new().route(route.path, bind(method_filter(route.method)));
    finish(router, state)
}

pub(crate) fn method_filter(method: routes::Method) -> MethodFilter {
    match method {
        routes::Method::Get => MethodFilter::GET,
        routes::Method::Post => MethodFilter::POST,
        routes::Method::Delete => MethodFilter::DELETE,
    }
}

fn collect(
    bound: impl Iterator<Item = (&'static routes::Route, MethodRouter<AppState>)>,
) -> Router<AppState> {
    // axum merges method routers given for the same path.
    bound.fold(Router::new(), |router, (route, method_router)| {
        router.route(route.path, method_router)
    })
}

fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), cors::cors))
        .layer(middleware::from_fn(context::track_request))
        .with_state(state)
}

/// Unknown paths, including a trailing slash on a known one: a JSON 404, never a redirect (a
/// redirect built here would not know the stage prefix and would send clients off the API).
async fn no_route(request: Request) -> ApiError {
    ApiError::NoRoute {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::MethodNotAllowed {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
    }
}
