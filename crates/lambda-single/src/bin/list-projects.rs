//! The single-purpose function of `GET /api/v0/projects`: only its handler is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::single::list_projects).await
}
