//! The FAT `meta` function: only the meta route group is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::meta_group).await
}
