//! API Gateway REST (v1) Lambda proxy integration: the event a function receives and the response
//! it must return, in the exact JSON shapes AWS uses.
//!
//! One builder for every sender of events: the local stack's gateway (devstack re-exports this
//! as `devstack::proxy`) and the cold-start measurement in AWS, which invokes functions directly
//! with the event API Gateway would have sent ([`ProxyRequest::for_route`]). What one measures is
//! then what the other serves.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use stack::ApiTemplate;
use stack::matching::{MatchError, RequestPath};
use time::OffsetDateTime;

/// A random (v4) UUID from the thread's fast generator. Request ids are made for every request;
/// from the OS generator each was a `getrandom` system call, which showed in profiles of the
/// local stack under load. They identify, they protect nothing.
fn random_uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

/// The account id AWS documentation uses in examples; events need one.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";

/// One client request as API Gateway hands it to a proxy integration.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub method: String,
    /// The event's `path`: the request path without the stage, its leading slashes collapsed.
    pub path: String,
    /// The request path after the stage exactly as sent; `requestContext.path` is the stage
    /// followed by it (`/dev//x` keeps its doubled slash there, not in `path`).
    pub sent_path: String,
    pub stage: String,
    /// The matched resource, such as `/{proxy+}` or `/api/v0/projects/{name}`.
    pub resource: String,
    /// Values of the resource's path parameters (`proxy`, `name`) as sent, percent-encoding
    /// included, as API Gateway passes them.
    pub path_parameters: Vec<(String, String)>,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Header names as the client spelled them.
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub source_ip: String,
    /// Claims of the verified token, when a Cognito authorizer let the request through.
    pub claims: Option<Map<String, Value>>,
    pub api_id: String,
    pub request_id: String,
}

impl ProxyRequest {
    /// A request for `path` (after the stage, as sent) under `stage`, matched by the catch-all
    /// `/{proxy+}` resource (or `/`), with `path` and `proxy` as API Gateway makes them.
    pub fn new(method: &str, stage: &str, path: &str) -> ProxyRequest {
        let sent = RequestPath::new(path);
        let (resource, path_parameters) = match sent.proxy_value() {
            None => ("/".to_owned(), Vec::new()),
            Some(proxy) => (
                "/{proxy+}".to_owned(),
                vec![("proxy".to_owned(), proxy.to_owned())],
            ),
        };
        ProxyRequest {
            method: method.to_owned(),
            path: sent.event_path(),
            sent_path: path.to_owned(),
            stage: stage.to_owned(),
            resource,
            path_parameters,
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
            source_ip: "127.0.0.1".to_owned(),
            claims: None,
            api_id: "local".to_owned(),
            request_id: random_uuid().to_string(),
        }
    }

    /// The request `method path?query` (after the stage, as sent) matched against `template` as
    /// API Gateway matches it: the resource that serves it and its path parameters, the query
    /// decoded (`+` as a space). `Err` is API Gateway's 403 "Missing Authentication Token".
    pub fn for_route(
        template: &ApiTemplate,
        method: &str,
        path_and_query: &str,
    ) -> Result<ProxyRequest, MatchError> {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        let matched = template.match_request(method, path)?;
        let mut request = ProxyRequest::new(method, &template.stage, path);
        request.resource = matched.resource.path.clone();
        request.path_parameters = matched.path_parameters;
        request.query = query.map(decode_query).unwrap_or_default();
        Ok(request)
    }

    pub fn header(mut self, name: &str, value: &str) -> ProxyRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> ProxyRequest {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> ProxyRequest {
        self.body = Some(body.into());
        self
    }

    pub fn json_body(self, body: &Value) -> ProxyRequest {
        self.header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub fn claims(mut self, claims: Map<String, Value>) -> ProxyRequest {
        self.claims = Some(claims);
        self
    }

    /// The event JSON, with every field lambda_http reads. Bodies that are not UTF-8 travel as
    /// base64 with `isBase64Encoded`, as API Gateway does for binary media types.
    pub fn to_event(&self) -> Value {
        let now = OffsetDateTime::now_utc();
        let (body, is_base64) = match &self.body {
            None => (Value::Null, false),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => (Value::String(text.to_owned()), false),
                Err(_) => (Value::String(BASE64.encode(bytes)), true),
            },
        };
        let user_agent = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
            .map(|(_, v)| v.clone());
        let mut request_context = json!({
            "accountId": LOCAL_ACCOUNT_ID,
            "apiId": self.api_id,
            "resourceId": "local",
            "resourcePath": self.resource,
            "httpMethod": self.method,
            "path": format!("/{}{}", self.stage, self.sent_path),
            "stage": self.stage,
            "requestId": self.request_id,
            "extendedRequestId": self.request_id,
            "requestTime": request_time(now),
            "requestTimeEpoch": now.unix_timestamp() * 1000 + i64::from(now.millisecond()),
            "protocol": "HTTP/1.1",
            "domainName": format!("{}.execute-api.localhost", self.api_id),
            "domainPrefix": self.api_id,
            "identity": {
                "sourceIp": self.source_ip,
                "userAgent": user_agent,
                "accountId": null, "apiKey": null, "apiKeyId": null, "caller": null,
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null, "principalOrgId": null,
                "user": null, "userArn": null,
            },
        });
        if let Some(claims) = &self.claims {
            request_context["authorizer"] = json!({ "claims": claims });
        }
        json!({
            "resource": self.resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": single(&self.headers),
            "multiValueHeaders": multi(&self.headers),
            "queryStringParameters": single(&self.query),
            "multiValueQueryStringParameters": multi(&self.query),
            "pathParameters": single(&self.path_parameters),
            "stageVariables": null,
            "requestContext": request_context,
            "body": body,
            "isBase64Encoded": is_base64,
        })
    }
}

/// Query pairs as API Gateway passes them: percent-decoded, `+` as a space, a name without `=`
/// with an empty value.
fn decode_query(query: &str) -> Vec<(String, String)> {
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), decode(value)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// `28/Nov/2026:01:02:03 +0000`, the format of `requestContext.requestTime`.
fn request_time(now: OffsetDateTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        now.day(),
        MONTHS[usize::from(u8::from(now.month())) - 1],
        now.year(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// API Gateway sends null, not an empty object, when there are no values; the last value wins.
fn single(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    let mut map = Map::new();
    for (name, value) in pairs {
        map.insert(name.clone(), Value::String(value.clone()));
    }
    Value::Object(map)
}

fn multi(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    let mut map = Map::new();
    for (name, value) in pairs {
        let values = map
            .entry(name.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::String(value.clone()));
        }
    }
    Value::Object(map)
}

/// What a proxy integration returned, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyResponse {
    pub status: u16,
    /// `headers` and `multiValueHeaders` merged, in that order, as API Gateway does.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A function result API Gateway would answer with 502 {"message": "Internal server error"}.
#[derive(Debug, thiserror::Error)]
#[error("malformed Lambda proxy response: {0}")]
pub struct MalformedResponse(String);

impl ProxyResponse {
    pub fn from_payload(payload: &Value) -> Result<ProxyResponse, MalformedResponse> {
        let bad = |why: &str| MalformedResponse(why.to_owned());
        let object = payload
            .as_object()
            .ok_or_else(|| bad("not a JSON object"))?;
        let status = match object.get("statusCode") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .filter(|s| (100..=599).contains(s))
        .ok_or_else(|| bad("statusCode missing or not an HTTP status"))?;
        let mut headers = Vec::new();
        match object.get("headers") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    headers.push((
                        name.clone(),
                        scalar(value).ok_or_else(|| bad("a header value is not a scalar"))?,
                    ));
                }
            }
            Some(_) => return Err(bad("headers is not an object")),
        }
        match object.get("multiValueHeaders") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (name, values) in map {
                    let values = values
                        .as_array()
                        .ok_or_else(|| bad("a multiValueHeaders entry is not an array"))?;
                    for value in values {
                        headers.push((
                            name.clone(),
                            scalar(value).ok_or_else(|| bad("a header value is not a scalar"))?,
                        ));
                    }
                }
            }
            Some(_) => return Err(bad("multiValueHeaders is not an object")),
        }
        let base64 = matches!(object.get("isBase64Encoded"), Some(Value::Bool(true)));
        let body = match object.get("body") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) if base64 => BASE64
                .decode(text)
                .map_err(|_| bad("body is not valid base64"))?,
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(_) => return Err(bad("body is not a string")),
        };
        Ok(ProxyResponse {
            status: status as u16,
            headers,
            body,
        })
    }

    /// The first value of a header, ignoring case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_has_the_rest_v1_shape() {
        let event = ProxyRequest::new("POST", "dev", "/api/v0/projects")
            .query("a", "1")
            .query("a", "2")
            .json_body(&json!({"name": "x"}))
            .to_event();
        assert_eq!(event["resource"], "/{proxy+}");
        assert_eq!(event["pathParameters"]["proxy"], "api/v0/projects");
        assert_eq!(event["requestContext"]["path"], "/dev/api/v0/projects");
        assert_eq!(event["queryStringParameters"]["a"], "2");
        assert_eq!(
            event["multiValueQueryStringParameters"]["a"],
            json!(["1", "2"])
        );
        assert_eq!(event["headers"]["Content-Type"], "application/json");
        assert_eq!(event["isBase64Encoded"], false);
        assert!(event["requestContext"].get("authorizer").is_none());
        let time = event["requestContext"]["requestTime"].as_str().unwrap();
        assert_eq!(time.len(), "28/Nov/2026:01:02:03 +0000".len(), "{time}");
    }

    fn template(name: &str) -> ApiTemplate {
        let file = format!(
            "{}/../../deploy/templates/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&file).expect("the rendered templates are committed");
        ApiTemplate::read(&serde_json::from_str(&text).unwrap()).unwrap()
    }

    #[test]
    fn events_for_a_route_carry_the_matched_resource() {
        let lith = template("dev-lith");
        let event = ProxyRequest::for_route(&lith, "GET", "/api/v0/projects?limit=1&name=a+b%21")
            .unwrap()
            .to_event();
        assert_eq!(event["resource"], "/api/v0/projects");
        assert_eq!(event["path"], "/api/v0/projects");
        assert_eq!(event["pathParameters"], Value::Null);
        assert_eq!(event["queryStringParameters"]["limit"], "1");
        assert_eq!(event["queryStringParameters"]["name"], "a b!");
        assert_eq!(event["requestContext"]["path"], "/dev/api/v0/projects");
        let item =
            ProxyRequest::for_route(&template("dev-fat"), "GET", "/api/v0/technologies/x%20y")
                .unwrap();
        assert_eq!(item.resource, "/api/v0/technologies/{name}");
        assert_eq!(
            item.path_parameters,
            [("name".to_owned(), "x%20y".to_owned())]
        );
        assert!(ProxyRequest::for_route(&lith, "TRACE", "/health").is_err());
    }

    #[test]
    fn paths_are_as_api_gateway_makes_them() {
        let event = ProxyRequest::new("GET", "dev", "//a//b%2Fc/").to_event();
        assert_eq!(event["path"], "/a//b%2Fc/");
        assert_eq!(event["pathParameters"]["proxy"], "a//b%2Fc");
        assert_eq!(event["requestContext"]["path"], "/dev//a//b%2Fc/");
    }

    #[test]
    fn root_and_binary_bodies() {
        let event = ProxyRequest::new("GET", "dev", "/")
            .body(vec![0xff, 0x00])
            .to_event();
        assert_eq!(
            (event["resource"].as_str(), &event["pathParameters"]),
            (Some("/"), &Value::Null)
        );
        assert_eq!(
            (event["body"].as_str(), &event["isBase64Encoded"]),
            (Some("/wA="), &json!(true))
        );
    }

    #[test]
    fn responses_are_checked_like_api_gateway_does() {
        let ok = ProxyResponse::from_payload(&json!({
            "statusCode": 201, "headers": {"a": "1"}, "multiValueHeaders": {"b": ["2", "3"]},
            "body": "aGk=", "isBase64Encoded": true
        }))
        .unwrap();
        assert_eq!(
            (ok.status, ok.body.as_slice(), ok.headers.len()),
            (201, &b"hi"[..], 3)
        );
        for bad in [
            json!("text"),
            json!({"body": "x"}),
            json!({"statusCode": 99}),
            json!({"statusCode": 200, "body": 5}),
        ] {
            assert!(ProxyResponse::from_payload(&bad).is_err(), "{bad}");
        }
    }
}
