//! The single-purpose function of `POST /api/v0/projects`: only its handler is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::single::create_project).await
}
