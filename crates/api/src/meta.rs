//! Handlers of the meta group: welcome, health, the OpenAPI document and the offline docs page.

use std::io::Read;
use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{MethodRouter, on};
use routes::{MetaOp, Operation, Route};
use serde_json::{Value, json};

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::router::method_filter;
use crate::state::AppState;

/// The meta routes from the table, each bound to its handler and the table's method.
pub fn routes() -> impl Iterator<Item = (&'static Route, MethodRouter<AppState>)> {
    routes::ROUTES
        .iter()
        .filter_map(|route| match route.operation {
            Operation::Meta(op) => Some((route, bind(route, op))),
            Operation::Collection(..) => None,
        })
}

fn bind(route: &Route, op: MetaOp) -> MethodRouter<AppState> {
    let method = method_filter(route.method);
    match op {
        MetaOp::Welcome => on(method, welcome),
        MetaOp::Health => on(method, health),
        MetaOp::OpenApi => on(method, openapi),
        MetaOp::Docs => on(method, docs),
        MetaOp::DocsAsset => on(method, docs_asset),
    }
}

pub(crate) async fn welcome(context: RequestContext) -> Json<Value> {
    let link = |path: &str| context.base_path.join(path);
    Json(json!({
        "message": "Welcome to the catalog API: projects and technologies.",
        "version": env!("CARGO_PKG_VERSION"),
        "links": {
            "projects": link("/api/v0/projects"),
            "technologies": link("/api/v0/technologies"),
            "docs": link("/docs"),
            "openapi": link("/openapi.json"),
        },
    }))
}

/// 200 when the store answers; otherwise the status, headers and log line the store's failure
/// gets on any route (503 to retry, 500 when misconfigured).
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    let store = state.repository.describe();
    match state.repository.check().await {
        Ok(()) => Json(json!({"status": "ok", "store": store})).into_response(),
        Err(error) => {
            let error = ApiError::from(error);
            error.response_with(json!({
                "status": "unavailable",
                "store": store,
                "code": error.code(),
                "message": error.to_string(),
            }))
        }
    }
}

pub(crate) async fn openapi(context: RequestContext) -> Json<Value> {
    Json(crate::openapi::document(&context.base_path))
}

/// Swagger UI from files embedded in the binary: no CDN, so the page works offline. Links are
/// relative to `/docs`, so they keep whatever stage prefix the page was reached under.
const DOCS_PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Catalog API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({ url: "openapi.json", dom_id: "#swagger-ui" });
  </script>
</body>
</html>
"##;

pub(crate) async fn docs() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// A Swagger UI file, embedded gzip-compressed (build.rs) and inflated on first use.
///
/// Why inflated rather than sent compressed with `Content-Encoding: gzip`: API Gateway hands a
/// Lambda proxy response's body to the client as text unless the API lists the type among its
/// `binaryMediaTypes` (and the function sets `isBase64Encoded`). The template lists none, so in
/// AWS a gzip body would reach browsers as base64 text, not as the file. The local gateway does
/// not emulate binary media types either, so it could not catch that. The embedding keeps the
/// binaries small; inflating once (about 1.7 MB, a few ms) waits for the first request for the
/// file, never the cold start.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzipped: &'static [u8],
    inflated: OnceLock<Vec<u8>>,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, gzipped: &'static [u8]) -> Self {
        Asset {
            name,
            content_type,
            gzipped,
            inflated: OnceLock::new(),
        }
    }

    fn bytes(&'static self) -> &'static [u8] {
        self.inflated.get_or_init(|| {
            let mut bytes = Vec::new();
            flate2::read::GzDecoder::new(self.gzipped)
                .read_to_end(&mut bytes)
                .expect("build.rs embedded a valid gzip stream");
            bytes
        })
    }
}

static ASSETS: [Asset; 3] = [
    Asset::new(
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.gz")),
    ),
    Asset::new(
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.gz")),
    ),
    Asset::new(
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/LICENSE.gz")),
    ),
];

pub(crate) async fn docs_asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no documentation file named {name:?}")))?;
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        ),
    ];
    Ok((headers, asset.bytes()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_inflates_to_the_file_in_the_repository() {
        let originals: [&[u8]; 3] = [
            include_bytes!("../assets/swagger-ui/swagger-ui.css"),
            include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
            include_bytes!("../assets/swagger-ui/LICENSE"),
        ];
        for (asset, original) in ASSETS.iter().zip(originals) {
            assert_eq!(asset.bytes(), original, "{}", asset.name);
            assert!(
                asset.gzipped.len() < original.len() / 2,
                "{} is compressed",
                asset.name
            );
            assert!(std::ptr::eq(asset.bytes(), asset.bytes()), "inflated once");
        }
    }
}
