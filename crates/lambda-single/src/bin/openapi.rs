//! The single-purpose function of `GET /openapi.json`: only its handler is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::single::openapi).await
}
