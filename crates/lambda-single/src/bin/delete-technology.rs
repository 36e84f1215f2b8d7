//! The single-purpose function of `DELETE /api/v0/technologies/{name}`: only its handler is linked in.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_adapter::run(api::single::delete_technology).await
}
