//! The lith function: every route group in one bootstrap.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::lith).await
}
