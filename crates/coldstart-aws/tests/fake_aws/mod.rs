//! A fake AWS for the cold-start measurement: one wiremock server is the endpoint of every
//! service, as `AWS_ENDPOINT_URL` makes it.
//!
//! - Lambda (restJson, `/2015-03-31/functions/...`) is a small stateful model ([`FakeLambda`]):
//!   functions are created Pending then Active; a configuration update leaves LastUpdateStatus
//!   InProgress for a number of looks, then Successful; an Invoke while an update is in progress
//!   is refused (ResourceConflictException, as Lambda refuses it); the first Invoke after a
//!   creation or an update runs in a new execution environment, so its report carries an Init
//!   Duration; the log tail is text or JSON, or lacks the report (then CloudWatch Logs has it).
//! - CloudWatch Logs (awsJson 1.1, `X-Amz-Target: Logs_20140328.*`): FilterLogEvents over what
//!   the fake functions logged, DeleteLogGroup.
//! - CloudFormation and STS (awsQuery, `POST /` with `Action=`) and S3 (restXml, path style):
//!   fixed answers for a deployed stack and an artifact bucket that takes uploads.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_session::Session;
use base64::Engine;
use coldstart_aws::{Interrupt, Progress};
use packaging::{Architecture, Artifact};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Match, Mock, MockServer, Request, Respond, ResponseTemplate};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";
pub const STACK: &str = "catalog-dev";
pub const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/catalog-dev/5e1c7a10-aaaa-4bbb-8ccc-000000000001";
pub const BUCKET: &str = "catalog-artifacts-123456789012-eu-west-1";
pub const API_ID: &str = "a1b2c3d4e5";
pub const LITH_ROLE: &str = "arn:aws:iam::123456789012:role/catalog-dev-LithRole-1A2B3C";
/// The functions of the deployed (lith) stack.
pub const STACK_FUNCTIONS: [&str; 2] = ["catalog-dev-lith", "catalog-dev-janitor"];

/// A session whose every service is `server`.
pub fn session(server: &MockServer) -> Session {
    Session::for_endpoint(&server.uri(), REGION, "AKIAFAKEFAKEFAKEFAKE", "fake-secret")
}

// ---------------------------------------------------------------------------------------------
// Lambda

/// How the log tail of an Invoke carries the platform report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Text (`REPORT RequestId: ...`, LogFormat Text) and JSON (a `platform.report` record,
    /// LogFormat JSON) in turn, one Invoke each.
    Alternating,
    /// The tail holds only the function's own lines; the report is in CloudWatch Logs.
    WithoutReport,
}

/// What the fake does beyond answering.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub tail: Tail,
    /// Looks at a function after an update that still see LastUpdateStatus InProgress.
    pub polls_in_progress: usize,
    /// The Invoke (counted from 1) that fails with a function error.
    pub function_error_on: Option<usize>,
    /// The configuration update (counted from 1) that ends Failed.
    pub update_fails_on: Option<usize>,
    /// The Invoke (counted from 1) during which Ctrl-C is pressed (the flag is set, the answer
    /// comes late).
    pub interrupt_on_invoke: Option<(usize, Interrupt)>,
    /// The CreateFunction (counted from 1) during which Ctrl-C is pressed: the function is made,
    /// the answer comes late.
    pub interrupt_on_create: Option<(usize, Interrupt)>,
    /// The Invoke (counted from 1) whose answer comes this late: time for a test to press Ctrl-C
    /// on a command in another process.
    pub slow_invoke: Option<(usize, Duration)>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            tail: Tail::Alternating,
            polls_in_progress: 2,
            function_error_on: None,
            update_fails_on: None,
            interrupt_on_invoke: None,
            interrupt_on_create: None,
            slow_invoke: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeFunction {
    pub configuration: Value,
    /// Looks left before an update shows Successful.
    in_progress: usize,
    update_failed: bool,
    /// The next Invoke starts a new execution environment.
    cold: bool,
}

/// One Invoke as the fake saw it.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub function: String,
    pub event: Value,
    pub memory_mb: u64,
    pub cold: bool,
}

#[derive(Debug, Default)]
pub struct LambdaState {
    pub functions: BTreeMap<String, FakeFunction>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    pub invocations: Vec<Invocation>,
    pub updates: usize,
    /// Invokes refused because an update was in progress (the code must wait: stays 0).
    pub refused_in_progress: usize,
    /// What each function logged, as CloudWatch Logs keeps it.
    pub logs: BTreeMap<String, Vec<String>>,
    pub filter_calls: usize,
}

#[derive(Clone)]
pub struct FakeLambda {
    pub state: Arc<Mutex<LambdaState>>,
    behaviour: Behaviour,
}

impl FakeLambda {
    /// Lambda with the stack's functions in it, and CloudWatch Logs, on `server`.
    pub async fn mount(server: &MockServer, behaviour: Behaviour) -> FakeLambda {
        let fake = FakeLambda {
            state: Arc::default(),
            behaviour,
        };
        {
            let mut state = fake.state.lock().unwrap();
            for name in STACK_FUNCTIONS {
                let mut configuration = configuration(&json!({
                    "FunctionName": name,
                    "Role": if name.ends_with("lith") { LITH_ROLE } else { "arn:aws:iam::123456789012:role/janitor" },
                    "MemorySize": 128,
                    "Timeout": 10,
                    "Architectures": ["x86_64"],
                    "Environment": {"Variables": {"STORE_URL": "dynamodb://catalog-dev-CatalogTable-XYZ", "CORS_CREDENTIALED_ORIGINS": ""}},
                    "LoggingConfig": {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": format!("/aws/lambda/{name}")},
                }));
                configuration["State"] = json!("Active");
                configuration["LastUpdateStatus"] = json!("Successful");
                state.functions.insert(
                    name.to_owned(),
                    FakeFunction {
                        configuration,
                        in_progress: 0,
                        update_failed: false,
                        cold: true,
                    },
                );
            }
        }
        Mock::given(path_regex("^/2015-03-31/functions"))
            .respond_with(fake.clone())
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", "Logs_20140328.FilterLogEvents"))
            .respond_with(FilterLogEvents(fake.clone()))
            .with_priority(1)
            .mount(server)
            .await;
        Mock::given(method("POST"))
            .and(path("/"))
            .and(header("x-amz-target", "Logs_20140328.DeleteLogGroup"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .with_priority(1)
            .mount(server)
            .await;
        fake
    }

    /// The functions there now that the stack does not have: what a run left behind.
    pub fn left_behind(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .functions
            .keys()
            .filter(|name| !STACK_FUNCTIONS.contains(&name.as_str()))
            .cloned()
            .collect()
    }
}

/// A FunctionConfiguration as Lambda answers it, from what was asked.
fn configuration(asked: &Value) -> Value {
    let name = asked["FunctionName"].as_str().unwrap_or_default();
    json!({
        "FunctionName": name,
        "FunctionArn": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
        "Runtime": "provided.al2023",
        "Role": asked["Role"],
        "Handler": "bootstrap",
        "CodeSize": 4808389,
        "Timeout": asked.get("Timeout").cloned().unwrap_or(json!(3)),
        "MemorySize": asked.get("MemorySize").cloned().unwrap_or(json!(128)),
        "Architectures": asked.get("Architectures").cloned().unwrap_or(json!(["x86_64"])),
        "Environment": {"Variables": asked["Environment"]["Variables"].clone()},
        "LoggingConfig": asked.get("LoggingConfig").cloned().unwrap_or(json!({"LogFormat": "Text"})),
        "Version": "$LATEST",
        "PackageType": "Zip",
        "State": "Pending",
        "StateReason": "The function is being created.",
        "StateReasonCode": "Creating",
    })
}

fn lambda_error(status: u16, kind: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("x-amzn-ErrorType", kind)
        .set_body_json(json!({"Type": "User", "message": message}))
}

fn not_found(name: &str) -> ResponseTemplate {
    lambda_error(
        404,
        "ResourceNotFoundException",
        &format!("Function not found: arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
    )
}

impl Respond for FakeLambda {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let rest = request
            .url
            .path()
            .trim_start_matches("/2015-03-31/functions")
            .trim_start_matches('/');
        let parts: Vec<&str> = rest.split('/').collect();
        let mut state = self.state.lock().unwrap();
        match (request.method.as_str(), parts.as_slice()) {
            ("POST", [""]) => {
                let asked: Value = serde_json::from_slice(&request.body).unwrap();
                let name = asked["FunctionName"].as_str().unwrap().to_owned();
                if state.functions.contains_key(&name) {
                    return lambda_error(
                        409,
                        "ResourceConflictException",
                        &format!("Function already exist: {name}"),
                    );
                }
                assert_eq!(asked["Runtime"], "provided.al2023");
                assert_eq!(asked["Handler"], "bootstrap");
                assert_eq!(asked["Code"]["S3Bucket"], BUCKET, "{asked}");
                assert!(
                    asked["Code"]["S3Key"]
                        .as_str()
                        .unwrap()
                        .starts_with("packages/")
                );
                let configuration = configuration(&asked);
                state.functions.insert(
                    name.clone(),
                    FakeFunction {
                        configuration: configuration.clone(),
                        // Pending for one look (none when updates take no looks either).
                        in_progress: self.behaviour.polls_in_progress.min(1),
                        update_failed: false,
                        cold: true,
                    },
                );
                state.created.push(name);
                let late = match &self.behaviour.interrupt_on_create {
                    Some((n, interrupt)) if *n == state.created.len() => {
                        interrupt.interrupt();
                        true
                    }
                    _ => false,
                };
                let answer = ResponseTemplate::new(201).set_body_json(configuration);
                if late {
                    answer.set_delay(Duration::from_millis(500))
                } else {
                    answer
                }
            }
            ("GET", [name, "configuration"]) => {
                let Some(function) = state.functions.get_mut(*name) else {
                    return not_found(name);
                };
                let mut configuration = function.configuration.clone();
                if function.in_progress > 0 {
                    function.in_progress -= 1;
                    if configuration["State"] == "Pending" {
                        return ResponseTemplate::new(200).set_body_json(configuration);
                    }
                    configuration["LastUpdateStatus"] = json!("InProgress");
                    return ResponseTemplate::new(200).set_body_json(configuration);
                }
                configuration["State"] = json!("Active");
                function.configuration["State"] = json!("Active");
                if function.update_failed {
                    configuration["LastUpdateStatus"] = json!("Failed");
                    configuration["LastUpdateStatusReason"] = json!(
                        "The operation cannot be performed at this time. Lambda was unable to configure access to your environment variables because the KMS key is invalid for CreateGrant."
                    );
                    configuration["LastUpdateStatusReasonCode"] = json!("KMSKeyInvalid");
                } else {
                    configuration["LastUpdateStatus"] = json!("Successful");
                }
                ResponseTemplate::new(200).set_body_json(configuration)
            }
            ("PUT", [name, "configuration"]) => {
                let asked: Value = serde_json::from_slice(&request.body).unwrap();
                state.updates += 1;
                let updates = state.updates;
                let polls = self.behaviour.polls_in_progress;
                let fails = self.behaviour.update_fails_on == Some(updates);
                let Some(function) = state.functions.get_mut(*name) else {
                    return not_found(name);
                };
                if function.in_progress > 0 {
                    return lambda_error(
                        409,
                        "ResourceConflictException",
                        "The operation cannot be performed at this time. An update is in progress for resource",
                    );
                }
                if let Some(memory) = asked.get("MemorySize") {
                    function.configuration["MemorySize"] = memory.clone();
                }
                if let Some(variables) = asked.get("Environment").map(|e| e["Variables"].clone()) {
                    function.configuration["Environment"]["Variables"] = variables;
                }
                function.in_progress = polls;
                function.update_failed = fails;
                function.cold = true;
                let mut answer = function.configuration.clone();
                answer["LastUpdateStatus"] = json!("InProgress");
                ResponseTemplate::new(200).set_body_json(answer)
            }
            ("POST", [name, "invocations"]) => {
                let invocation_number = state.invocations.len() + 1;
                let Some(function) = state.functions.get_mut(*name) else {
                    return not_found(name);
                };
                if function.in_progress > 0 || function.configuration["State"] != "Active" {
                    state.refused_in_progress += 1;
                    return lambda_error(
                        409,
                        "ResourceConflictException",
                        "The operation cannot be performed at this time. An update is in progress for resource",
                    );
                }
                assert_eq!(
                    request
                        .headers
                        .get("x-amz-log-type")
                        .map(|v| v.to_str().unwrap()),
                    Some("Tail")
                );
                assert_eq!(
                    request
                        .headers
                        .get("x-amz-invocation-type")
                        .map(|v| v.to_str().unwrap()),
                    Some("RequestResponse")
                );
                let cold = function.cold;
                function.cold = false;
                let memory = function.configuration["MemorySize"].as_u64().unwrap();
                let arm = function.configuration["Architectures"][0] == "arm64";
                let event: Value = serde_json::from_slice(&request.body).unwrap();
                let request_id = format!("8f5e2a1c-0000-4000-8000-{invocation_number:012}");
                // Figures that differ by pattern and architecture, so the ratios mean something.
                let init = 60.0 + if name.contains("-lith-") { 12.0 } else { 0.0 }
                    - if arm { 8.0 } else { 0.0 }
                    + invocation_number as f64 * 0.01;
                let duration = 40.0 + invocation_number as f64 * 0.01;
                let billed = (init + duration).ceil() as u64;
                let text = format!(
                    "REPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory} MB\tMax Memory Used: 31 MB{}\t",
                    if cold {
                        format!("\tInit Duration: {init:.2} ms")
                    } else {
                        String::new()
                    }
                );
                let record = json!({
                    "time": "2026-12-07T07:00:00.000Z",
                    "type": "platform.report",
                    "record": {
                        "requestId": request_id,
                        "metrics": if cold {
                            json!({"durationMs": duration, "billedDurationMs": billed, "memorySizeMB": memory, "maxMemoryUsedMB": 31, "initDurationMs": init})
                        } else {
                            json!({"durationMs": duration, "billedDurationMs": billed, "memorySizeMB": memory, "maxMemoryUsedMB": 31})
                        },
                        "status": "success"
                    }
                })
                .to_string();
                let own_line = format!(
                    r#"{{"timestamp":"2026-12-07T07:00:00.000Z","level":"INFO","message":"request","request_id":"{request_id}"}}"#
                );
                let report_line = match self.behaviour.tail {
                    Tail::Alternating if invocation_number % 2 == 1 => Some(text.clone()),
                    Tail::Alternating => Some(record.clone()),
                    Tail::WithoutReport => None,
                };
                let mut tail = format!(
                    "START RequestId: {request_id} Version: $LATEST\n{own_line}\nEND RequestId: {request_id}\n"
                );
                if let Some(line) = &report_line {
                    tail.push_str(line);
                    tail.push('\n');
                }
                state
                    .logs
                    .entry(name.to_string())
                    .or_default()
                    .extend([own_line, record]);
                state.invocations.push(Invocation {
                    function: name.to_string(),
                    event,
                    memory_mb: memory,
                    cold,
                });
                let mut answer = ResponseTemplate::new(200)
                    .insert_header("x-amzn-RequestId", request_id.as_str())
                    .insert_header("X-Amz-Executed-Version", "$LATEST")
                    .insert_header(
                        "X-Amz-Log-Result",
                        base64::engine::general_purpose::STANDARD
                            .encode(tail)
                            .as_str(),
                    );
                if self.behaviour.function_error_on == Some(invocation_number) {
                    answer = answer
                        .insert_header("X-Amz-Function-Error", "Unhandled")
                        .set_body_json(json!({"errorType": "Runtime.ExitError", "errorMessage": "RequestId: x Error: Runtime exited with error: exit status 101"}));
                } else {
                    answer = answer.set_body_json(json!({"statusCode": 200, "headers": {"content-type": "application/json"}, "multiValueHeaders": {}, "body": "{\"items\":[]}", "isBase64Encoded": false}));
                }
                if let Some((n, delay)) = self.behaviour.slow_invoke
                    && n == invocation_number
                {
                    answer = answer.set_delay(delay);
                }
                if let Some((n, interrupt)) = &self.behaviour.interrupt_on_invoke
                    && *n == invocation_number
                {
                    interrupt.interrupt();
                    answer = answer.set_delay(Duration::from_millis(500));
                }
                answer
            }
            ("DELETE", [name]) => match state.functions.remove(*name) {
                Some(_) => {
                    state.deleted.push(name.to_string());
                    ResponseTemplate::new(204)
                }
                None => not_found(name),
            },
            (verb, _) => panic!("the fake Lambda has no {verb} {}", request.url.path()),
        }
    }
}

/// FilterLogEvents over what the functions logged. The first look at a group finds it missing
/// (it appears with the function's first log line, a moment after the invocation).
struct FilterLogEvents(FakeLambda);

impl Respond for FilterLogEvents {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let asked: Value = serde_json::from_slice(&request.body).unwrap();
        let group = asked["logGroupName"].as_str().unwrap();
        let name = group.trim_start_matches("/aws/lambda/");
        let term = asked["filterPattern"]
            .as_str()
            .unwrap_or_default()
            .trim_matches('"')
            .to_owned();
        let mut state = self.0.state.lock().unwrap();
        state.filter_calls += 1;
        if state.filter_calls == 1 {
            return ResponseTemplate::new(400).set_body_raw(
                r#"{"__type":"ResourceNotFoundException","message":"The specified log group does not exist."}"#,
                "application/x-amz-json-1.1",
            );
        }
        let events: Vec<Value> = state
            .logs
            .get(name)
            .into_iter()
            .flatten()
            .filter(|line| line.contains(&term))
            .enumerate()
            .map(|(i, line)| {
                json!({"logStreamName": "2026/12/07/[$LATEST]abc", "timestamp": 1796626800000_i64 + i as i64, "message": line, "ingestionTime": 1796626800100_i64, "eventId": format!("{i}")})
            })
            .collect();
        ResponseTemplate::new(200).set_body_raw(
            json!({"events": events, "searchedLogStreams": []}).to_string(),
            "application/x-amz-json-1.1",
        )
    }
}

// ---------------------------------------------------------------------------------------------
// CloudFormation, STS and S3

/// Matches an awsQuery request whose form has `key=value`.
struct Param(&'static str, String);

impl Match for Param {
    fn matches(&self, request: &Request) -> bool {
        form_urlencoded::parse(&request.body)
            .into_owned()
            .any(|(k, v)| k == self.0 && v == self.1)
    }
}

fn query(action: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(Param("Action", action.into()))
}

fn xml(xmlns: &str, action: &str, result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"<{action}Response xmlns="{xmlns}"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata></{action}Response>"#
        ),
        "text/xml",
    )
}

const CFN: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

/// The account: STS knows the caller; the artifact bucket exists, is versioned, and takes
/// uploads.
pub async fn mount_account(server: &MockServer) {
    query("GetCallerIdentity")
        .respond_with(xml(
            "https://sts.amazonaws.com/doc/2011-06-15/",
            "GetCallerIdentity",
            &format!("<Arn>arn:aws:iam::{ACCOUNT}:user/dev</Arn><UserId>AIDAFAKE</UserId><Account>{ACCOUNT}</Account>"),
        ))
        .mount(server)
        .await;
    Mock::given(method("HEAD"))
        .and(path_regex(format!("^/{BUCKET}/?$")))
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^/{BUCKET}/?$")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
            "application/xml",
        ))
        .mount(server)
        .await;
    Mock::given(method("HEAD"))
        .and(path_regex(format!("^/{BUCKET}/.+")))
        .respond_with(ResponseTemplate::new(404))
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^/{BUCKET}/.+")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"9b2cf535f27731c974343645a3985328\""),
        )
        .mount(server)
        .await;
}

/// The dev stack, deployed with the lith pattern.
pub async fn mount_stack(server: &MockServer) {
    let tags: String = [
        ("project", "catalog"),
        ("catalog:pattern", "lith"),
        ("catalog:architecture", "x86_64"),
    ]
    .iter()
    .map(|(k, v)| format!("<member><Key>{k}</Key><Value>{v}</Value></member>"))
    .collect();
    query("DescribeStacks")
        .respond_with(xml(
            CFN,
            "DescribeStacks",
            &format!(
                "<Stacks><member><StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>\
                 <CreationTime>2026-11-01T09:00:00.000Z</CreationTime>\
                 <StackStatus>UPDATE_COMPLETE</StackStatus>\
                 <Outputs><member><OutputKey>ApiUrl</OutputKey><OutputValue>https://{API_ID}.execute-api.{REGION}.amazonaws.com/dev</OutputValue></member></Outputs>\
                 <Tags>{tags}</Tags></member></Stacks>"
            ),
        ))
        .mount(server)
        .await;
    let resources: String = [
        ("Api", "AWS::ApiGateway::RestApi", API_ID),
        ("LithFunction", "AWS::Lambda::Function", STACK_FUNCTIONS[0]),
        ("JanitorFunction", "AWS::Lambda::Function", STACK_FUNCTIONS[1]),
    ]
    .iter()
    .map(|(logical, kind, physical)| {
        format!(
            "<member><LogicalResourceId>{logical}</LogicalResourceId><PhysicalResourceId>{physical}</PhysicalResourceId>\
             <ResourceType>{kind}</ResourceType><LastUpdatedTimestamp>2026-12-01T10:00:10.000Z</LastUpdatedTimestamp>\
             <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
        )
    })
    .collect();
    query("ListStackResources")
        .respond_with(xml(
            CFN,
            "ListStackResources",
            &format!("<StackResourceSummaries>{resources}</StackResourceSummaries>"),
        ))
        .mount(server)
        .await;
}

/// No stack: CloudFormation's ValidationError.
pub async fn mount_no_stack(server: &MockServer) {
    query("DescribeStacks")
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            format!(r#"<ErrorResponse xmlns="{CFN}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id {STACK} does not exist</Message></Error><RequestId>x</RequestId></ErrorResponse>"#),
            "text/xml",
        ))
        .mount(server)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Packages and progress

/// Packages of every pattern's functions for both architectures: small zips, nothing is built.
pub struct Packages {
    pub artifacts: Vec<Artifact>,
    _dir: tempfile::TempDir,
}

impl Packages {
    pub fn new() -> Packages {
        let dir = tempfile::tempdir().unwrap();
        let mut artifacts = Vec::new();
        for architecture in [Architecture::X86_64, Architecture::Arm64] {
            for function in packaging::functions_of(&stack::Pattern::ALL) {
                let name = format!("{}-{}", function.name(), architecture.as_str());
                let binary = format!("not really the {name} binary").into_bytes();
                let zip_bytes = packaging::zip_bootstrap(&binary).unwrap();
                let bootstrap = dir.path().join(format!("{name}-bootstrap"));
                let zip = dir.path().join(format!("{name}.zip"));
                std::fs::write(&bootstrap, &binary).unwrap();
                std::fs::write(&zip, &zip_bytes).unwrap();
                artifacts.push(Artifact {
                    function,
                    architecture,
                    bootstrap,
                    zip,
                    binary_size: binary.len() as u64,
                    zip_size: zip_bytes.len() as u64,
                    sha256: packaging::sha256_hex(&zip_bytes),
                });
            }
        }
        Packages {
            artifacts,
            _dir: dir,
        }
    }
}

/// Records what the measurement says.
#[derive(Debug, Default)]
pub struct Recorder {
    pub lines: Vec<String>,
    pub samples: Vec<usize>,
    pub total: Option<usize>,
}

impl Progress for Recorder {
    fn step(&mut self, message: &str) {
        self.lines.push(format!("==> {message}"));
    }
    fn note(&mut self, message: &str) {
        self.lines.push(format!("    {message}"));
    }
    fn begin(&mut self, total: usize) {
        self.total = Some(total);
    }
    fn sample(&mut self, done: usize, _: &str) {
        self.samples.push(done);
    }
    fn end(&mut self) {}
}
