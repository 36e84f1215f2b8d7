//! The FAT `technologies` function: only the technologies route group is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::technologies).await
}
