//! The single-purpose function of `GET /docs/{asset}`: only its handler is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::single::docs_asset).await
}
