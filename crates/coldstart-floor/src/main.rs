//! The cold-start floor: a lambda_http function that answers "hello" to every request and does
//! nothing else before its first `next`, so `cargo xtask coldstart` can tell how much of each
//! function's Init Duration is the project's own start-up.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(hello)).await
}

async fn hello(_request: Request) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .body(Body::from("hello"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn says_hello_to_any_request() {
        let response = hello(Request::default()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.body(), &Body::from("hello"));
    }
}
