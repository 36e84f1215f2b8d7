//! The check the local stack makes of a function's result (`devstack::proxy::ProxyResponse::
//! from_payload`), as API Gateway's proxy integration makes it: any JSON never panics, and what
//! it accepts is an HTTP status with a body and headers taken from the payload, nothing made up.

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use devstack::proxy::ProxyResponse;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let Ok(response) = ProxyResponse::from_payload(&payload) else {
        return;
    };
    assert!((100..=599).contains(&response.status), "{payload}");
    let declared = |field: &str| {
        payload[field].as_object().map_or(0, |map| {
            map.values().map(|v| v.as_array().map_or(1, Vec::len)).sum()
        })
    };
    assert_eq!(
        response.headers.len(),
        declared("headers") + declared("multiValueHeaders"),
        "{payload}"
    );
    let body = match &payload["body"] {
        Value::String(text) if payload["isBase64Encoded"] == true => BASE64.decode(text).unwrap(),
        Value::String(text) => text.as_bytes().to_vec(),
        _ => Vec::new(),
    };
    assert_eq!(response.body, body, "{payload}");
});
