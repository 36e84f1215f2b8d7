//! Handlers of the collection groups (projects, technologies): one implementation for both.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use catalog::{Collection, Cursor, Item, ListQuery, MAX_PAGE_SIZE};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use routes::{CollectionOp, Operation, Route};
use serde::{Deserialize, Serialize};

use crate::body::ItemBody;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::router::method_filter;
use crate::state::AppState;

/// Characters a name keeps unescaped in a URL path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The collection's routes from the table, each bound to its handler and the table's method.
pub fn routes(
    collection: Collection,
) -> impl Iterator<Item = (&'static Route, MethodRouter<AppState>)> {
    routes::ROUTES
        .iter()
        .filter_map(move |route| match route.operation {
            Operation::Collection(c, op) if c == collection => {
                Some((route, bind(route, collection, op)))
            }
            _ => None,
        })
}

fn bind(route: &Route, collection: Collection, op: CollectionOp) -> MethodRouter<AppState> {
    let method = method_filter(route.method);
    match op {
        CollectionOp::List => list_route(collection, method),
        CollectionOp::Create => create_route(collection, method),
        CollectionOp::Get => get_route(collection, method),
        CollectionOp::Delete => delete_route(collection, method),
    }
}

// One constructor per operation, so that a router of one route (crate::single) names one handler.

pub(crate) fn list_route(collection: Collection, method: MethodFilter) -> MethodRouter<AppState> {
    on(
        method,
        move |state: State<AppState>, query: Result<Query<ListParams>, QueryRejection>| {
            list(collection, state, query)
        },
    )
}

pub(crate) fn create_route(collection: Collection, method: MethodFilter) -> MethodRouter<AppState> {
    on(
        method,
        move |state: State<AppState>, context: RequestContext, body: ItemBody| {
            create(collection, state, context, body)
        },
    )
}

pub(crate) fn get_route(collection: Collection, method: MethodFilter) -> MethodRouter<AppState> {
    on(
        method,
        move |state: State<AppState>, name: Result<Path<String>, PathRejection>| {
            get(collection, state, name)
        },
    )
}

pub(crate) fn delete_route(collection: Collection, method: MethodFilter) -> MethodRouter<AppState> {
    on(
        method,
        move |state: State<AppState>, name: Result<Path<String>, PathRejection>| {
            delete(collection, state, name)
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    name: Option<String>,
    limit: Option<String>,
    next_token: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ItemPage {
    items: Vec<Item>,
    /// Pass as `next_token` to get the next page; null on the last page.
    next_token: Option<String>,
}

fn parse_list_params(params: ListParams) -> Result<ListQuery, ApiError> {
    let mut query = ListQuery {
        name_contains: params.name.filter(|n| !n.is_empty()),
        ..ListQuery::default()
    };
    let mut errors = catalog::ValidationError::default();
    if let Some(limit) = params.limit {
        match limit.parse::<usize>() {
            Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => query.limit = limit,
            _ => errors.push(
                "limit",
                format!("must be a whole number from 1 to {MAX_PAGE_SIZE} (got {limit:?})"),
            ),
        }
    }
    // The token is the store's cursor, passed through unread: only the store can tell a good one
    // (a bad one comes back as RepositoryError::BadCursor, a 400).
    query.after = params
        .next_token
        .filter(|t| !t.is_empty())
        .map(Cursor::from_token);
    errors.into_result()?;
    Ok(query)
}

async fn list(
    collection: Collection,
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ItemPage>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))?;
    let query = parse_list_params(params)?;
    let page = state.repository.list(collection, &query).await?;
    Ok(Json(ItemPage {
        items: page.items,
        next_token: page.next.map(Cursor::into_token),
    }))
}

async fn create(
    collection: Collection,
    State(state): State<AppState>,
    context: RequestContext,
    body: ItemBody,
) -> Result<Response, ApiError> {
    if context.unidentified_caller {
        return Err(ApiError::UnidentifiedCaller);
    }
    let created_by = context.caller.map(|caller| caller.username);
    let item = state
        .repository
        .create(collection, body.into_new_item(created_by)?)
        .await?;
    let path = format!(
        "{}/{}/{}",
        routes::API_PREFIX,
        collection.name(),
        utf8_percent_encode(&item.name, PATH_SEGMENT)
    );
    let location = HeaderValue::from_str(&context.base_path.join(&path)).map_err(|_| {
        ApiError::BadRequest("the request's base path is not a valid header value".into())
    })?;
    tracing::info!(collection = collection.name(), name = %item.name, id = %item.id, "created");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(item),
    )
        .into_response())
}

fn path_name(name: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    name.map(|Path(name)| name)
        .map_err(|e| ApiError::BadRequest(format!("bad name in path: {}", e.body_text())))
}

async fn get(
    collection: Collection,
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<Item>, ApiError> {
    Ok(Json(
        state.repository.get(collection, &path_name(name)?).await?,
    ))
}

async fn delete(
    collection: Collection,
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let name = path_name(name)?;
    state.repository.delete(collection, &name).await?;
    tracing::info!(collection = collection.name(), name = %name, "deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_checked() {
        let params = |limit: Option<&str>, token: Option<&str>| ListParams {
            name: None,
            limit: limit.map(str::to_owned),
            next_token: token.map(str::to_owned),
        };
        assert_eq!(parse_list_params(params(Some("7"), None)).unwrap().limit, 7);
        for bad in ["0", "101", "-1", "ten"] {
            assert!(
                matches!(
                    parse_list_params(params(Some(bad), None)),
                    Err(ApiError::Validation(_))
                ),
                "{bad}"
            );
        }
        // Tokens go to the store as they came; an empty one is no token.
        let token = parse_list_params(params(None, Some("%%"))).unwrap().after;
        assert_eq!(token, Some(Cursor::from_token("%%")));
        assert_eq!(
            parse_list_params(params(None, Some(""))).unwrap().after,
            None
        );
    }
}
