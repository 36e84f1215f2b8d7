//! The template reader (`stack::ApiTemplate::read`) that the local stack and the render check use,
//! on any JSON document: it never panics, whatever a hand-edited or corrupted template holds, and
//! a template it accepts can be matched against without panicking either.

#![no_main]

use libfuzzer_sys::fuzz_target;

/// Request paths after the stage, in the spellings API Gateway matches (and refuses).
const PATHS: [&str; 6] = [
    "/",
    "/api/v0/projects",
    "//api/v0/projects/x/",
    "/api/v0/technologies/a%2Fb",
    "/docs/openapi.json",
    "/api/v0/projects/x/y/z",
];

fuzz_target!(|bytes: &[u8]| {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let _ = stack::janitor_period(&document);
    if let Ok(template) = stack::ApiTemplate::read(&document) {
        for method in ["GET", "POST", "DELETE", "OPTIONS"] {
            for path in PATHS {
                let _ = template.match_request(method, path);
            }
        }
        let _ = template.user_pool_arns();
    }
});
