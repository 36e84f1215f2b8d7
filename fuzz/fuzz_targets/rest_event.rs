//! The REST (v1) proxy event, both ends of it. The input is either an event's JSON (it starts
//! with `{`) or a request as a client sends it, `METHOD /path?query`, header lines, an empty
//! line and the body:
//!
//! - any event JSON that lambda_http reads (with a Host API Gateway would pass) is adapted
//!   (`lambda_adapter::adapt`) without panicking, to a request on the event's own path (never
//!   lambda_http's stage-prefixed one);
//! - from a request the local stack could receive, the stack builds an event
//!   (`devstack::proxy::ProxyRequest::to_event`) that lambda_http reads, and the function sees
//!   the method, path, query, headers and body that were sent.

#![no_main]

use devstack::proxy::ProxyRequest;
use lambda_http::RequestExt;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

/// Percent-decoded bytes, for comparing paths that may differ only in what is escaped.
fn decoded(path: &str) -> Vec<u8> {
    percent_decode_str(path).collect()
}

/// Decoded as a form is, as API Gateway decodes a query (`+` is a space).
fn form_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect();
    pairs.sort();
    pairs
}

/// Whether a Host passes the local gateway, which answers 400 to any other (devstack's
/// `hosts_are_authorities`): lambda_http unwraps a URI built from it. In AWS the Host names the
/// API. (This fuzz target found that panic; the rule is repeated here as the target's premise.)
fn host_is_authority(host: &str) -> bool {
    !host.contains('@')
        && host.parse::<http::uri::Authority>().is_ok()
        && url::Url::parse(&format!("https://{host}/"))
            .is_ok_and(|url| http::Uri::try_from(url.as_str()).is_ok())
}

fn event_json(text: &str) {
    // The Host lambda_http builds the URI from: a header (any spelling, any value of it), else
    // the API's domain name.
    let Ok(event) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    let mut hosts = vec![&event["requestContext"]["domainName"]];
    for field in ["headers", "multiValueHeaders"] {
        if let Some(headers) = event[field].as_object() {
            for (name, value) in headers {
                if name.eq_ignore_ascii_case("host") {
                    hosts.push(value);
                    hosts.extend(value.as_array().into_iter().flatten());
                }
            }
        }
    }
    if hosts
        .iter()
        .filter_map(|host| host.as_str())
        .any(|host| !host_is_authority(host))
    {
        return;
    }
    let Ok(request) = lambda_http::request::from_str(text) else {
        return;
    };
    let raw = request.raw_http_path().to_owned();
    let adapted = lambda_adapter::adapt(request);
    if !raw.is_empty() {
        // API Gateway's paths start with `/`; a directly invoked event's gets one.
        let expected = if raw.starts_with('/') {
            raw
        } else {
            format!("/{raw}")
        };
        assert_eq!(decoded(adapted.uri().path()), decoded(&expected), "{text}");
    }
}

fn client_request(text: &str) {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let Some((method, target)) = lines.next().and_then(|line| line.split_once(' ')) else {
        return;
    };
    // What reaches the gateway has a method, a path a URI can hold and headers HTTP can carry.
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return;
    }
    // Split as the gateway's HTTP server splits it (a `#` ends the path and drops what follows).
    let Ok(target) = http::uri::PathAndQuery::try_from(target) else {
        return;
    };
    if !target.path().starts_with('/') {
        return;
    }
    let mut event = ProxyRequest::new(method, "dev", target.path());
    event.query = form_pairs(target.query().unwrap_or_default());
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let valid = http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok_and(|v| v.to_str().is_ok())
            && (!name.eq_ignore_ascii_case("host") || host_is_authority(value));
        if valid {
            event = event.header(name, value);
        }
    }
    if !body.is_empty() {
        event = event.body(body);
    }
    let json = event.to_event().to_string();
    let request = lambda_http::request::from_str(&json)
        .unwrap_or_else(|e| panic!("lambda_http refused the stack's event: {e}\n{json}"));
    let adapted = lambda_adapter::adapt(request);
    assert_eq!(adapted.method().as_str(), method, "{json}");
    assert_eq!(
        decoded(adapted.uri().path()),
        decoded(&event.path),
        "{json}"
    );
    assert_eq!(
        form_pairs(adapted.uri().query().unwrap_or_default()),
        event.query,
        "{json}"
    );
    // A header sent once arrives as sent; of a name sent more than once (in any case), one of
    // its values arrives. lambda_http lays the event's single-valued `headers` over
    // `multiValueHeaders`, so a function never sees a repeated header's other values, in AWS too
    // (see the property test the_function_gets_the_request_the_gateway_got).
    for (name, value) in &event.headers {
        let sent: Vec<&str> = event
            .headers
            .iter()
            .filter(|(other, _)| other.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect();
        let arrived: Vec<&[u8]> = adapted
            .headers()
            .get_all(name.as_str())
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        if sent.len() == 1 {
            assert!(
                arrived.contains(&value.as_bytes()),
                "header {name}: {value} is lost\n{json}"
            );
        } else {
            assert!(
                sent.iter().any(|value| arrived.contains(&value.as_bytes())),
                "every value of header {name} is lost\n{json}"
            );
        }
    }
    let received: &[u8] = adapted.body().as_ref();
    assert_eq!(
        received,
        event.body.as_deref().unwrap_or_default(),
        "{json}"
    );
}

fuzz_target!(|text: &str| {
    if text.starts_with('{') {
        event_json(text);
    } else {
        client_request(text);
    }
});
