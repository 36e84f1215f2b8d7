//! The janitor function: on its schedule, expired entries leave the environment's IP sets.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_janitor::run().await
}
