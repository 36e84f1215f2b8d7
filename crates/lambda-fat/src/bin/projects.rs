//! The FAT `projects` function: only the projects route group is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::projects).await
}
