//! API Gateway REST (v1) Lambda proxy integration: the event a function receives and the response
//! it must return. The builder is the `proxy-event` crate, shared with the cold-start measurement
//! in AWS, so the events the local gateway sends are the ones measured there.

pub use proxy_event::{LOCAL_ACCOUNT_ID, MalformedResponse, ProxyRequest, ProxyResponse};
