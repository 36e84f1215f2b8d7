//! The OpenAPI 3.1 document, built from the route table so every route is documented and nothing
//! is documented that is not routed.

use catalog::{Collection, DESCRIPTION_MAX_CHARS, MAX_PAGE_SIZE, NAME_MAX_CHARS};
use routes::{CollectionOp, MetaOp, Operation, ROUTES, Route};
use serde_json::{Map, Value, json};

use crate::context::BasePath;

/// The security scheme name protected routes refer to.
pub const SECURITY_SCHEME: &str = "cognito";

/// Builds the document; `base_path` becomes the server URL so "Try it out" keeps the stage.
pub fn document(base_path: &BasePath) -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_ascii_lowercase()] = operation(route);
    }
    let server = if base_path.0.is_empty() {
        "/".to_owned()
    } else {
        base_path.0.clone()
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Catalog API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A catalog of the projects a platform team builds and the technologies they use. \
                Writes need a Cognito ID token in the Authorization header.",
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": components(),
    })
}

fn operation(route: &Route) -> Value {
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.group().name()],
    });
    let mut parameters: Vec<Value> = route
        .path_parameters()
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let responses = match route.operation {
        Operation::Collection(collection, op_kind) => {
            collection_responses(collection, op_kind, &mut parameters)
        }
        Operation::Meta(meta) => meta_responses(meta),
    };
    if let Operation::Collection(_, CollectionOp::Create) = route.operation {
        op["requestBody"] = json!({
            "required": true,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewItem"}}},
        });
    }
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    op["responses"] = responses;
    if route.is_protected() {
        op["security"] = json!([{ SECURITY_SCHEME: [] }]);
        op["responses"]["401"] = json!({"description": "Missing, expired or invalid token (answered by the gateway's authorizer)"});
    }
    op
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn collection_responses(
    collection: Collection,
    op: CollectionOp,
    parameters: &mut Vec<Value>,
) -> Value {
    let one = collection.singular();
    let mut responses = match op {
        CollectionOp::List => {
            parameters.extend([
                json!({"name": "name", "in": "query", "description": "Only names containing this text (ASCII case ignored)", "schema": {"type": "string"}}),
                json!({"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": catalog::DEFAULT_PAGE_SIZE}}),
                json!({"name": "next_token", "in": "query", "description": "The next_token of the previous page", "schema": {"type": "string"}}),
            ]);
            json!({"200": json_response(&format!("A page of {}, by name", collection.name()), "ItemPage"),
                   "400": error_response("invalid_next_token: next_token was altered or cut short, or continues another listing (collection, name filter or store); list again without it"),
                   "422": error_response("Bad limit")})
        }
        CollectionOp::Create => json!({
            "201": {
                "description": format!("The new {one}; Location names it"),
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}},
            },
            "400": error_response("Body is not JSON, or Content-Type is not application/json"),
            "409": error_response(&format!("A {one} with that name exists")),
            "413": error_response("Body over 1 MiB"),
            "422": error_response("Fields missing, mistyped, unknown or breaking a rule; each is listed"),
        }),
        CollectionOp::Get => json!({
            "200": json_response(&format!("The {one}"), "Item"),
            "404": error_response(&format!("No {one} of that name")),
        }),
        CollectionOp::Delete => json!({
            "204": {"description": format!("The {one} is deleted")},
            "404": error_response(&format!("No {one} of that name")),
        }),
    };
    store_failures(&mut responses, error_response);
    responses
}

/// The store's two failures, on every route that uses it.
fn store_failures(responses: &mut Value, response: impl Fn(&str) -> Value) {
    responses["500"] = response(
        "store_misconfigured: the store is set up wrongly; retrying will not help until it is fixed",
    );
    responses["503"] = response(
        "store_unavailable: the store is unavailable for a moment; retry after Retry-After seconds",
    );
}

fn meta_responses(op: MetaOp) -> Value {
    match op {
        MetaOp::Welcome => {
            json!({"200": {"description": "Welcome message and links", "content": {"application/json": {}}}})
        }
        MetaOp::Health => {
            let mut responses = json!({
                "200": {"description": "Up, and the store answers", "content": {"application/json": {}}},
            });
            store_failures(
                &mut responses,
                |description| json!({"description": description, "content": {"application/json": {}}}),
            );
            responses
        }
        MetaOp::OpenApi => {
            json!({"200": {"description": "This document", "content": {"application/json": {}}}})
        }
        MetaOp::Docs => json!({"200": {"description": "Swagger UI", "content": {"text/html": {}}}}),
        MetaOp::DocsAsset => json!({
            "200": {"description": "A file of the docs page"},
            "404": error_response("No such file"),
        }),
    }
}

fn components() -> Value {
    json!({
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "A Cognito ID token from one of the configured user pools, as is (no Bearer prefix).",
            },
        },
        "schemas": {
            "NewItem": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_CHARS,
                             "description": "Unique in its collection; trimmed; no control characters or '/'"},
                    "description": {"type": ["string", "null"], "maxLength": DESCRIPTION_MAX_CHARS},
                },
            },
            "Item": {
                "type": "object",
                "required": ["id", "name", "description", "created_at", "created_by"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "created_by": {"type": ["string", "null"], "description": "Cognito username of the creator"},
                },
            },
            "ItemPage": {
                "type": "object",
                "required": ["items", "next_token"],
                "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                    "next_token": {"type": ["string", "null"]},
                },
            },
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {"type": "array", "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                    }},
                },
            },
        },
    })
}
