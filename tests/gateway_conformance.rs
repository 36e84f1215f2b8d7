//! The local API Gateway against answers AWS gave: each case is a request, the resource tree it
//! is sent to, and the answer real API Gateway (REST, Lambda proxy integration) recorded for it,
//! with the record it comes from.
//!
//! Sources are of three kinds: LocalStack's snapshot tests marked `@markers.aws.validated`
//! (their `*.snapshot.json` files hold what AWS returned), events captured from a real regional
//! REST API (hotsock/voker's fixtures), and AWS answers quoted in GitHub threads. What no record
//! covers is not here: README lists it under "behaviour not verified against AWS".
//!
//! Requests go over a raw TCP connection, so the path, the query and the spelling of header names
//! reach the gateway exactly as written in the case (an HTTP client would normalise them). The
//! function behind every tree is a fixture that answers with the event it received.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use devstack::cognito::TokenRequest;
use devstack::local_stack::{LocalStack, LocalStackConfig};
use e2e::local_stack::{ECHO_FIXTURE, dev_config, issuer, seed_key, write_bootstrap_package};
use e2e::raw::{self, RawReply as Reply};
use serde_json::{Value, json};
use stack::ApiTemplate;
use stack::template::{ApiMethod, ApiResource, Authorization, FunctionTemplate};

/// The stage every tree is deployed to; the records' own stage names are replaced by it.
const STAGE: &str = "dev";

/// Stands for an ID token of the environment's first pool that expired an hour ago; the runner
/// mints it.
const EXPIRED_ID_TOKEN: &str = "<an ID token that expired an hour ago>";

/// A resource tree: every resource with its methods.
struct Tree {
    name: &'static str,
    resources: &'static [Resource],
}

struct Resource {
    path: &'static str,
    methods: &'static [Method],
}

struct Method {
    http_method: &'static str,
    /// Behind the Cognito authorizer (ID tokens of the environment's pools).
    cognito: bool,
}

const fn open(http_method: &'static str) -> Method {
    Method {
        http_method,
        cognito: false,
    }
}

const fn cognito(http_method: &'static str) -> Method {
    Method {
        http_method,
        cognito: true,
    }
}

/// A request as it goes on the wire.
struct Request {
    method: &'static str,
    /// The request target: the whole path, stage included, and the query, byte for byte.
    target: &'static str,
    /// Header lines in order, names spelled as sent. `Host` is added.
    headers: &'static [(&'static str, &'static str)],
    body: Option<&'static str>,
}

/// What AWS answered.
enum Answer {
    /// The method's Lambda proxy integration received this event.
    Proxied(Event),
    /// The request reached this resource's method (the record shows which integration answered,
    /// not the whole event).
    ServedBy(&'static str),
    /// API Gateway answered itself.
    Refused {
        status: u16,
        message: &'static str,
        /// `x-amzn-ErrorType`, when the record shows it.
        error_type: Option<&'static str>,
    },
}

/// The parts of a recorded proxy event a case compares.
struct Event {
    resource: &'static str,
    /// `path`: stage-less.
    path: &'static str,
    /// `requestContext.path`: with the stage.
    context_path: &'static str,
    path_parameters: Recorded<&'static [(&'static str, &'static str)]>,
    /// `multiValueQueryStringParameters`; `queryStringParameters` holds the last of each.
    query: Recorded<&'static [(&'static str, &'static [&'static str])]>,
    /// Headers by their exact key in `headers` and `multiValueHeaders`.
    headers: &'static [(&'static str, Header)],
    /// Keys `headers` must not have (exact spelling).
    absent_headers: &'static [&'static str],
    body: Option<&'static str>,
}

/// A field of the recorded event: `null`, a value, or not in the record.
enum Recorded<T> {
    Null,
    Is(T),
    /// The record does not show it.
    NotShown,
}

enum Header {
    /// One value.
    Is(&'static str),
    /// Several values in `multiValueHeaders`; `headers` holds the last.
    Repeated(&'static [&'static str]),
    /// Present, whatever its value (addresses, ports and ids differ between runs).
    Present,
    /// An X-Ray trace id, `Root=1-<8 hex>-<24 hex>`.
    TraceId,
}

struct Case {
    /// What the case pins.
    name: &'static str,
    /// Where AWS's answer is recorded.
    source: &'static str,
    tree: &'static Tree,
    request: Request,
    answer: Answer,
}

const LAMBDA_PROXY: &str = "LocalStack tests/aws/services/apigateway/test_apigateway_lambda.py::test_lambda_aws_proxy_integration (aws.validated), test_apigateway_lambda.snapshot.json recorded 02-08-2024";
const VOKER_CAPTURE: &str = "hotsock/voker vokerhttp/testdata/apigwv1-request.json: a REST API event captured from CloudWatch in us-west-2 (vokerhttp/testdata/README.md); the query on the wire is rebuilt from the parameter names (encodedPlus, literalPlus)";
const VOKER_PATHS: &str = "hotsock/voker examples/aws-ingress-probe/paths.py with vokerhttp/testdata/ingress-paths.json: a REST event's path is the path as sent (verified live, hotsock/voker#8 as cited by middleapi/standard-server#93)";
const ROUTING: &str = "LocalStack tests/aws/services/apigateway/test_apigateway_common.py::TestApigatewayRouting (aws.validated)";

/// `/{proxy+}` ANY and `/hardcoded` ANY, as test_lambda_aws_proxy_integration deploys them.
static LOCALSTACK_PROXY: Tree = Tree {
    name: "/{proxy+} ANY, /hardcoded ANY",
    resources: &[
        Resource {
            path: "/{proxy+}",
            methods: &[open("ANY")],
        },
        Resource {
            path: "/hardcoded",
            methods: &[open("ANY")],
        },
    ],
};

static CATCH_ALL: Tree = Tree {
    name: "/{proxy+} ANY",
    resources: &[Resource {
        path: "/{proxy+}",
        methods: &[open("ANY")],
    }],
};

static EXISTING: Tree = Tree {
    name: "/existing GET",
    resources: &[Resource {
        path: "/existing",
        methods: &[open("GET")],
    }],
};

static SIBLINGS: Tree = Tree {
    name: "/test POST, /test/any ANY, /{proxy+} OPTIONS",
    resources: &[
        Resource {
            path: "/test",
            methods: &[open("POST")],
        },
        Resource {
            path: "/test/any",
            methods: &[open("ANY")],
        },
        Resource {
            path: "/{proxy+}",
            methods: &[open("OPTIONS")],
        },
    ],
};

static SIBLING_ORDER: Tree = Tree {
    name: "/part1 GET, /{param+} GET, /part1/hardcoded-value GET",
    resources: &[
        Resource {
            path: "/part1",
            methods: &[open("GET")],
        },
        Resource {
            path: "/{param+}",
            methods: &[open("GET")],
        },
        Resource {
            path: "/part1/hardcoded-value",
            methods: &[open("GET")],
        },
    ],
};

/// This project's shape: public reads, writes behind the Cognito authorizer, a public catch-all.
static PROTECTED: Tree = Tree {
    name: "/api/v0/projects GET POST(Cognito), /api/v0/projects/{name} GET DELETE(Cognito), /{proxy+} ANY",
    resources: &[
        Resource {
            path: "/api/v0/projects",
            methods: &[open("GET"), cognito("POST")],
        },
        Resource {
            path: "/api/v0/projects/{name}",
            methods: &[open("GET"), cognito("DELETE")],
        },
        Resource {
            path: "/{proxy+}",
            methods: &[open("ANY")],
        },
    ],
};

/// The headers python-requests sends in test_lambda_aws_proxy_integration's `invoke_api`.
const REQUESTS_GET: &[(&str, &str)] = &[
    ("User-Agent", "python-requests/testing"),
    ("Accept-Encoding", "gzip, deflate"),
    ("Accept", "*/*"),
    ("Connection", "keep-alive"),
    ("tEsT-HEADeR", "aValUE"),
    ("authorization", "random-value"),
];

static CASES: &[Case] = &[
    Case {
        name: "header names keep the client's spelling; `authorization` arrives as `Authorization`",
        source: "LAMBDA_PROXY, snapshot invocation-payload-without-trailing-slash",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev/proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Null,
            headers: &[
                ("tEsT-HEADeR", Header::Is("aValUE")),
                ("Authorization", Header::Is("random-value")),
                ("User-Agent", Header::Is("python-requests/testing")),
                ("Accept", Header::Is("*/*")),
                ("Accept-Encoding", Header::Is("gzip, deflate")),
            ],
            absent_headers: &["authorization", "test-header", "Connection", "connection"],
            body: None,
        }),
    },
    Case {
        name: "API Gateway adds X-Forwarded-For, -Port, -Proto and X-Amzn-Trace-Id",
        source: "LAMBDA_PROXY, snapshot invocation-payload-without-trailing-slash; VOKER_CAPTURE",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev/proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Null,
            headers: &[
                ("X-Forwarded-For", Header::Present),
                ("X-Forwarded-Port", Header::Present),
                ("X-Forwarded-Proto", Header::Present),
                ("X-Amzn-Trace-Id", Header::TraceId),
            ],
            absent_headers: &["x-forwarded-for", "x-forwarded-proto"],
            body: None,
        }),
    },
    Case {
        name: "a trailing slash stays in `path` but not in `proxy`",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-trailing-slash",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value/",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value/",
            context_path: "/dev/proxy-value/",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "a doubled slash inside a greedy path stays in `path` and `proxy`",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-double-slash",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value//double-slash",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value//double-slash",
            context_path: "/dev/proxy-value//double-slash",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value//double-slash")]),
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "slashes before the stage do not count",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-prepended-slash-to-stage",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "//dev/proxy-value",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev/proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "a doubled slash after the stage is collapsed in `path` and `proxy`, kept in requestContext.path",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-prepended-slash",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev//proxy-value",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev//proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "a doubled slash after the stage matches the literal resource, not {proxy+}",
        source: "LAMBDA_PROXY, snapshot invocation-hardcoded",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev//hardcoded",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/hardcoded",
            path: "/hardcoded",
            context_path: "/dev//hardcoded",
            path_parameters: Recorded::Null,
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "a query parameter reaches both query maps",
        source: "LAMBDA_PROXY, snapshot invocation-payload-without-trailing-slash-and-query-params",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value?urlparam=test",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev/proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Is(&[("urlparam", &["test"])]),
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "a trailing slash before the query stays in `path` but not in `proxy`",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-trailing-slash-and-query-params",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value/?urlparam=test",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value/",
            context_path: "/dev/proxy-value/",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Is(&[("urlparam", &["test"])]),
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "path and path parameters stay percent-encoded (`test%2Balias`)",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-path-encoded-email",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
            context_path: "/dev/proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
            path_parameters: Recorded::Is(&[(
                "proxy",
                "proxy-value/api/user/test%2Balias@gmail.com/plus/test+alias@gmail.com",
            )]),
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "query values are decoded, `+` as a space and `%2B` as `+`",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-params-encoding (requests sent `foo bar` as foo%20bar and cut the query at `#`)",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "GET",
            target: "/dev/proxy-value/api?dateTimeOffset=2023-06-12T18:05:10.123456+00:00&email=test%2Balias@gmail.com&plus=test+alias@gmail.com&url=https://www.google.com/&whitespace=foo%20bar&zhash=abort/",
            headers: REQUESTS_GET,
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value/api",
            context_path: "/dev/proxy-value/api",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value/api")]),
            query: Recorded::Is(&[
                ("dateTimeOffset", &["2023-06-12T18:05:10.123456 00:00"]),
                ("email", &["test+alias@gmail.com"]),
                ("plus", &["test alias@gmail.com"]),
                ("url", &["https://www.google.com/"]),
                ("whitespace", &["foo bar"]),
                ("zhash", &["abort/"]),
            ]),
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "repeated query parameters; `aUThorization` arrives as `Authorization`; no Content-Length",
        source: "LAMBDA_PROXY, snapshot invocation-payload-with-params-encoding-multi",
        tree: &LOCALSTACK_PROXY,
        request: Request {
            method: "POST",
            target: "/dev/proxy-value?category=electronics&category=books&price=10&price=20&price=30",
            headers: &[
                ("User-Agent", "python-requests/testing"),
                ("Accept-Encoding", "gzip, deflate"),
                ("Accept", "*/*"),
                ("Connection", "keep-alive"),
                ("Content-Type", "application/json;charset=utf-8"),
                ("aUThorization", "Bearer token123;API key456"),
            ],
            body: Some(r#"{"message": "hello world"}"#),
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/proxy-value",
            context_path: "/dev/proxy-value",
            path_parameters: Recorded::Is(&[("proxy", "proxy-value")]),
            query: Recorded::Is(&[
                ("category", &["electronics", "books"]),
                ("price", &["10", "20", "30"]),
            ]),
            headers: &[
                ("Authorization", Header::Is("Bearer token123;API key456")),
                ("Content-Type", Header::Is("application/json;charset=utf-8")),
            ],
            absent_headers: &[
                "aUThorization",
                "authorization",
                "Content-Length",
                "content-length",
                "Connection",
            ],
            body: Some(r#"{"message": "hello world"}"#),
        }),
    },
    Case {
        name: "a captured REST event: encoded path, `+` and `%2B` in the query, header names as sent, repeated headers",
        source: "VOKER_CAPTURE",
        tree: &CATCH_ALL,
        request: Request {
            method: "POST",
            target: "/dev/capture/space%20value?empty=&encodedPlus=a%2Bb&literalPlus=a+b&redirect=https%3A%2F%2Fexample.com%2Fa%2Fb&repeat=one&repeat=two",
            headers: &[
                ("user-agent", "curl/8.7.1"),
                ("accept", "*/*"),
                ("content-type", "application/json"),
                ("cookie", "session=abc123; theme=dark"),
                ("x-voker-probe", "first"),
                ("x-voker-probe", "second"),
            ],
            body: Some(r#"{"message":"hello from the public internet","unicode":"lambda-λ"}"#),
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/capture/space%20value",
            context_path: "/dev/capture/space%20value",
            path_parameters: Recorded::Is(&[("proxy", "capture/space%20value")]),
            query: Recorded::Is(&[
                ("empty", &[""]),
                ("encodedPlus", &["a+b"]),
                ("literalPlus", &["a b"]),
                ("redirect", &["https://example.com/a/b"]),
                ("repeat", &["one", "two"]),
            ]),
            headers: &[
                ("User-Agent", Header::Is("curl/8.7.1")),
                ("accept", Header::Is("*/*")),
                ("content-type", Header::Is("application/json")),
                ("cookie", Header::Is("session=abc123; theme=dark")),
                ("x-voker-probe", Header::Repeated(&["first", "second"])),
                ("X-Forwarded-For", Header::Present),
                ("X-Forwarded-Port", Header::Present),
                ("X-Forwarded-Proto", Header::Present),
                ("X-Amzn-Trace-Id", Header::TraceId),
            ],
            absent_headers: &["user-agent", "content-length", "Content-Length"],
            body: Some(r#"{"message":"hello from the public internet","unicode":"lambda-λ"}"#),
        }),
    },
    Case {
        name: "an encoded slash stays encoded in `path`",
        source: "VOKER_PATHS, sentPath /capture/slash%2Fvalue",
        tree: &CATCH_ALL,
        request: Request {
            method: "GET",
            target: "/dev/capture/slash%2Fvalue",
            headers: &[],
            body: None,
        },
        answer: Answer::Proxied(Event {
            resource: "/{proxy+}",
            path: "/capture/slash%2Fvalue",
            context_path: "/dev/capture/slash%2Fvalue",
            path_parameters: Recorded::NotShown,
            query: Recorded::Null,
            headers: &[],
            absent_headers: &[],
            body: None,
        }),
    },
    Case {
        name: "an unknown path is 403 Missing Authentication Token",
        source: "ROUTING::test_routing_not_found, snapshot not-found (recorded 23-07-2024)",
        tree: &EXISTING,
        request: Request {
            method: "GET",
            target: "/dev/random-non-existing",
            headers: &[],
            body: None,
        },
        answer: Answer::Refused {
            status: 403,
            message: "Missing Authentication Token",
            error_type: Some("MissingAuthenticationTokenException"),
        },
    },
    Case {
        name: "a method the resource lacks is 403 Missing Authentication Token",
        source: "ROUTING::test_routing_not_found, snapshot wrong-method (recorded 23-07-2024)",
        tree: &EXISTING,
        request: Request {
            method: "POST",
            target: "/dev/existing",
            headers: &[],
            body: None,
        },
        answer: Answer::Refused {
            status: 403,
            message: "Missing Authentication Token",
            error_type: Some("MissingAuthenticationTokenException"),
        },
    },
    Case {
        name: "a resource without the method falls through to {proxy+}",
        source: "ROUTING::test_proxy_routing_with_hardcoded_resource_sibling (OPTIONS /test)",
        tree: &SIBLINGS,
        request: Request {
            method: "OPTIONS",
            target: "/dev/test",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/{proxy+}"),
    },
    Case {
        name: "a literal resource with the method wins over {proxy+}",
        source: "ROUTING::test_proxy_routing_with_hardcoded_resource_sibling (POST /test)",
        tree: &SIBLINGS,
        request: Request {
            method: "POST",
            target: "/dev/test",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/test"),
    },
    Case {
        name: "ANY serves OPTIONS",
        source: "ROUTING::test_proxy_routing_with_hardcoded_resource_sibling (OPTIONS /test/any)",
        tree: &SIBLINGS,
        request: Request {
            method: "OPTIONS",
            target: "/dev/test/any",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/test/any"),
    },
    Case {
        name: "ANY serves GET",
        source: "ROUTING::test_proxy_routing_with_hardcoded_resource_sibling (GET /test/any)",
        tree: &SIBLINGS,
        request: Request {
            method: "GET",
            target: "/dev/test/any",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/test/any"),
    },
    Case {
        name: "a literal resource matches its own path",
        source: "ROUTING::test_routing_with_hardcoded_resource_sibling_order (/part1)",
        tree: &SIBLING_ORDER,
        request: Request {
            method: "GET",
            target: "/dev/part1",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/part1"),
    },
    Case {
        name: "a nested literal resource wins over a greedy sibling of its parent",
        source: "ROUTING::test_routing_with_hardcoded_resource_sibling_order (/part1/hardcoded-value)",
        tree: &SIBLING_ORDER,
        request: Request {
            method: "GET",
            target: "/dev/part1/hardcoded-value",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/part1/hardcoded-value"),
    },
    Case {
        name: "what no literal resource matches goes to the greedy one",
        source: "ROUTING::test_routing_with_hardcoded_resource_sibling_order (/part1/random-value)",
        tree: &SIBLING_ORDER,
        request: Request {
            method: "GET",
            target: "/dev/part1/random-value",
            headers: &[],
            body: None,
        },
        answer: Answer::ServedBy("/{param+}"),
    },
    Case {
        name: "an unknown path with `Authorization: Bearer x` is 403 IncompleteSignatureException",
        source: "serverless/serverless#3205 (the message for `Bearer sometoken`); amazon-archives/aws-cognito-angular-quickstart#50 (any path that does not exist); aws-amplify/amplify-cli#8414 (403 with x-amzn-ErrorType IncompleteSignatureException)",
        tree: &PROTECTED,
        request: Request {
            method: "GET",
            target: "/dev",
            headers: &[("Authorization", "Bearer x")],
            body: None,
        },
        answer: Answer::Refused {
            status: 403,
            message: "'x' not a valid key=value pair (missing equal-sign) in Authorization header: 'Bearer x'.",
            error_type: Some("IncompleteSignatureException"),
        },
    },
    Case {
        name: "an unknown path with a bare token in Authorization says what a signature lacks",
        source: "aws/chalice#828 (403 for a bare JWT on a route that was not deployed); nordcloud/cognitocurl#15",
        tree: &PROTECTED,
        request: Request {
            method: "POST",
            target: "/dev",
            headers: &[(
                "Authorization",
                "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
            )],
            body: None,
        },
        answer: Answer::Refused {
            status: 403,
            message: "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
            error_type: None,
        },
    },
    Case {
        name: "a Cognito method without a token is 401 Unauthorized",
        source: "AWS Knowledge Center api-gateway-cognito-401-unauthorized; amazon-archives/amazon-cognito-identity-js#602 (401 UnauthorizedException)",
        tree: &PROTECTED,
        request: Request {
            method: "POST",
            target: "/dev/api/v0/projects",
            headers: &[("Content-Type", "application/json")],
            body: Some("{}"),
        },
        answer: Answer::Refused {
            status: 401,
            message: "Unauthorized",
            error_type: Some("UnauthorizedException"),
        },
    },
    Case {
        name: "an expired Cognito token is 401 The incoming token has expired",
        source: "aws-amplify/amplify-js#6060 (`401,{\"message\":\"The incoming token has expired\"}`); aws-amplify/amplify-js#10147",
        tree: &PROTECTED,
        request: Request {
            method: "POST",
            target: "/dev/api/v0/projects",
            headers: &[
                ("Content-Type", "application/json"),
                ("Authorization", EXPIRED_ID_TOKEN),
            ],
            body: Some("{}"),
        },
        answer: Answer::Refused {
            status: 401,
            message: "The incoming token has expired",
            error_type: None,
        },
    },
    Case {
        name: "a doubled slash after the stage reaches the protected method, not the public catch-all",
        source: "LAMBDA_PROXY, snapshot invocation-hardcoded (`//hardcoded` matched the literal resource beside {proxy+}), on this project's tree",
        tree: &PROTECTED,
        request: Request {
            method: "DELETE",
            target: "/dev//api/v0/projects/x",
            headers: &[],
            body: None,
        },
        answer: Answer::Refused {
            status: 401,
            message: "Unauthorized",
            error_type: Some("UnauthorizedException"),
        },
    },
];

/// The source of a case with the named records spelled out.
fn source(case: &Case) -> String {
    case.source
        .replace("LAMBDA_PROXY", LAMBDA_PROXY)
        .replace("VOKER_CAPTURE", VOKER_CAPTURE)
        .replace("VOKER_PATHS", VOKER_PATHS)
        .replace("ROUTING", ROUTING)
}

/// The template of a tree: every method invokes the echo function.
fn template(tree: &Tree, pool_arns: &[String]) -> ApiTemplate {
    let function = FunctionTemplate {
        logical_id: "Echo".into(),
        function_name: "conformance-echo".into(),
        package: "echo".into(),
        groups: Vec::new(),
        memory_mb: 128,
        timeout_seconds: 10,
        environment: BTreeMap::new(),
        reserved_concurrency: None,
        logging: stack::FunctionLogging::default(),
    };
    ApiTemplate {
        stage: STAGE.into(),
        access_log_format: None,
        resources: tree
            .resources
            .iter()
            .map(|resource| ApiResource {
                path: resource.path.into(),
                methods: resource
                    .methods
                    .iter()
                    .map(|method| ApiMethod {
                        http_method: method.http_method.into(),
                        authorization: if method.cognito {
                            Authorization::CognitoUserPools {
                                provider_arns: pool_arns.to_vec(),
                                scopes: Vec::new(),
                            }
                        } else {
                            Authorization::None
                        },
                        function: "Echo".into(),
                    })
                    .collect(),
            })
            .collect(),
        functions: BTreeMap::from([("Echo".to_owned(), function)]),
        waf: None,
        gateway_responses: BTreeMap::new(),
    }
}

/// Sends `request` over a fresh connection, byte for byte as the case writes it.
async fn send(addr: SocketAddr, request: &Request, token: &str) -> Reply {
    let headers: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = if *value == EXPIRED_ID_TOKEN {
                token
            } else {
                value
            };
            (*name, value.as_bytes())
        })
        .collect();
    raw::send(
        addr,
        request.method,
        request.target,
        &headers,
        request.body.map(str::as_bytes),
    )
    .await
}

fn is_trace_id(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("Root=1-") else {
        return false;
    };
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(rest.split_once('-'), Some((time, id)) if hex(time, 8) && hex(id, 24))
}

/// How `reply` differs from what AWS answered; empty when it does not.
fn differences(answer: &Answer, reply: &Reply) -> Vec<String> {
    let mut found = Vec::new();
    let mut expect = |what: &str, expected: Value, actual: &Value| {
        if expected != *actual {
            found.push(format!("{what}: AWS {expected}, here {actual}"));
        }
    };
    match answer {
        Answer::Refused {
            status,
            message,
            error_type,
        } => {
            expect("status", json!(status), &json!(reply.status));
            let body: Value = serde_json::from_slice(&reply.body)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&reply.body)));
            expect("body", json!({ "message": message }), &body);
            if let Some(error_type) = error_type {
                expect(
                    "x-amzn-ErrorType",
                    json!(error_type),
                    &json!(reply.header("x-amzn-errortype")),
                );
            }
        }
        Answer::ServedBy(resource) | Answer::Proxied(Event { resource, .. }) => {
            if reply.status != 200 {
                found.push(format!(
                    "status: AWS invoked the function, here {} {}",
                    reply.status,
                    String::from_utf8_lossy(&reply.body)
                ));
                return found;
            }
            let event: Value = serde_json::from_slice(&reply.body).expect("the echo is JSON");
            expect("resource", json!(resource), &event["resource"]);
            if let Answer::Proxied(expected) = answer {
                compare_event(expected, &event, &mut expect);
            }
        }
    }
    found
}

fn compare_event(expected: &Event, event: &Value, expect: &mut impl FnMut(&str, Value, &Value)) {
    expect("path", json!(expected.path), &event["path"]);
    expect(
        "requestContext.path",
        json!(expected.context_path),
        &event["requestContext"]["path"],
    );
    expect(
        "requestContext.resourcePath",
        json!(expected.resource),
        &event["requestContext"]["resourcePath"],
    );
    match expected.path_parameters {
        Recorded::Null => expect("pathParameters", Value::Null, &event["pathParameters"]),
        Recorded::Is(parameters) => {
            let map: serde_json::Map<String, Value> = parameters
                .iter()
                .map(|(name, value)| ((*name).to_owned(), json!(value)))
                .collect();
            expect(
                "pathParameters",
                Value::Object(map),
                &event["pathParameters"],
            );
        }
        Recorded::NotShown => {}
    }
    match expected.query {
        Recorded::Null => {
            expect(
                "queryStringParameters",
                Value::Null,
                &event["queryStringParameters"],
            );
            expect(
                "multiValueQueryStringParameters",
                Value::Null,
                &event["multiValueQueryStringParameters"],
            );
        }
        Recorded::Is(query) => {
            let single: serde_json::Map<String, Value> = query
                .iter()
                .map(|(name, values)| ((*name).to_owned(), json!(values.last())))
                .collect();
            let multi: serde_json::Map<String, Value> = query
                .iter()
                .map(|(name, values)| ((*name).to_owned(), json!(values)))
                .collect();
            expect(
                "queryStringParameters",
                Value::Object(single),
                &event["queryStringParameters"],
            );
            expect(
                "multiValueQueryStringParameters",
                Value::Object(multi),
                &event["multiValueQueryStringParameters"],
            );
        }
        Recorded::NotShown => {}
    }
    for (name, header) in expected.headers {
        let single = &event["headers"][name];
        let multi = &event["multiValueHeaders"][name];
        let what = format!("header {name}");
        match header {
            Header::Is(value) => {
                expect(&what, json!(value), single);
                expect(&format!("multi-value {what}"), json!([value]), multi);
            }
            Header::Repeated(values) => {
                expect(&what, json!(values.last()), single);
                expect(&format!("multi-value {what}"), json!(values), multi);
            }
            Header::Present => {
                if single.is_null() {
                    expect(&what, json!("present"), single);
                }
            }
            Header::TraceId => {
                if !single.as_str().is_some_and(is_trace_id) {
                    expect(&what, json!("Root=1-<8 hex>-<24 hex>"), single);
                }
            }
        }
    }
    for name in expected.absent_headers {
        let present = &event["headers"][name];
        if !present.is_null() {
            expect(&format!("header {name}"), json!("absent"), present);
        }
    }
    if let Some(body) = expected.body {
        expect("body", json!(body), &event["body"]);
    }
}

/// Runs every case of `tree` on a stack serving it; returns one line per case.
async fn run_tree(tree: &Tree, artifacts: &Path) -> Vec<(bool, String)> {
    let config = dev_config();
    let pools = config.user_pools.clone();
    let arns: Vec<String> = pools.iter().map(|p| p.arn().to_owned()).collect();
    let state = tempfile::tempdir().unwrap();
    for pool in &pools {
        seed_key(state.path(), pool);
    }
    let mut stack_config = LocalStackConfig::new(
        template(tree, &arns),
        pools.clone(),
        artifacts.to_owned(),
        state.path().to_owned(),
    );
    stack_config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    stack_config.region = config.region.clone();
    let stack = LocalStack::start(stack_config)
        .await
        .unwrap_or_else(|e| panic!("starting the local stack for {}: {e}", tree.name));
    let expired = issuer(state.path(), &pools[0]).mint_id_token(TokenRequest {
        issued_at: Some(SystemTime::now() - Duration::from_secs(2 * 3600)),
        ttl: Duration::from_secs(3600),
        ..TokenRequest::new("mallory")
    });

    let mut results = Vec::new();
    for case in CASES.iter().filter(|c| c.tree.name == tree.name) {
        let reply = send(stack.addr(), &case.request, &expired).await;
        let found = differences(&case.answer, &reply);
        let line = format!(
            "{} {} {}: {}\n    source: {}{}",
            if found.is_empty() { "PASS" } else { "FAIL" },
            case.request.method,
            case.request.target,
            case.name,
            source(case),
            found
                .iter()
                .map(|d| format!("\n    {d}"))
                .collect::<String>()
        );
        results.push((found.is_empty(), line));
    }
    stack.stop().await;
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_gateway_answers_as_aws_recorded() {
    let artifacts = tempfile::tempdir().unwrap();
    write_bootstrap_package(artifacts.path(), "echo", ECHO_FIXTURE);
    let mut trees: Vec<&Tree> = Vec::new();
    for case in CASES {
        if !trees.iter().any(|t| t.name == case.tree.name) {
            trees.push(case.tree);
        }
    }
    let mut lines = Vec::new();
    for tree in trees {
        lines.extend(run_tree(tree, artifacts.path()).await);
    }
    let report: Vec<&str> = lines.iter().map(|(_, line)| line.as_str()).collect();
    println!("{}", report.join("\n"));
    let failed = lines.iter().filter(|(passed, _)| !passed).count();
    assert_eq!(
        failed,
        0,
        "{failed} of {} cases differ from AWS:\n{}",
        lines.len(),
        lines
            .iter()
            .filter(|(passed, _)| !passed)
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_case_names_its_source_and_says_what_it_pins_once() {
    for (index, case) in CASES.iter().enumerate() {
        assert!(
            !case.source.trim().is_empty(),
            "{} has no source",
            case.name
        );
        assert!(
            !CASES[..index].iter().any(|other| other.name == case.name),
            "{} is listed twice",
            case.name
        );
    }
}
