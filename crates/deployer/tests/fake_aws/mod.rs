//! A fake AWS for the deployer's tests: one wiremock server is the endpoint of every service, as
//! `AWS_ENDPOINT_URL` makes it for moto or LocalStack.
//!
//! - CloudFormation and STS speak awsQuery: `POST /` with a form body `Action=...&Version=...`,
//!   answered in XML (`<{Action}Response><{Action}Result>...`), errors as HTTP 400
//!   `<ErrorResponse><Error><Code>`.
//! - S3 speaks restXml, path style (`/{bucket}/{key}`), since an endpoint is set.
//! - API Gateway speaks restJson (`GET /account`).
//!
//! One function per response shape, two responders whose answers change from call to call
//! ([`Sequence`], and [`Timeline`] for a stack operation that moves on each time it is polled),
//! a [`Recorder`] of what the deployer says, and [`sent`], what it sent.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::config::{Credentials, SharedCredentialsProvider};
use aws_session::Session;
use deployer::{DeployRequest, Deployer, Progress, ResourceChange, StackEvent};
use packaging::{Architecture, Artifact, Function};
use serde_json::Value;
use stack::{Deployment, EnvConfig, Pattern};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Match, Mock, MockBuilder, MockServer, Request, Respond, ResponseTemplate};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";
pub const STACK: &str = "catalog-dev";
pub const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/catalog-dev/5e1c7a10-aaaa-4bbb-8ccc-000000000001";
pub const CHANGE_SET_ID: &str = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/catalog-20261201-100000-000/5e1c7a10-aaaa-4bbb-8ccc-000000000002";
/// `catalog-artifacts-<account>-<region>`.
pub const BUCKET: &str = "catalog-artifacts-123456789012-eu-west-1";
pub const LOGGING_ROLE: &str = "arn:aws:iam::123456789012:role/apigw-logs";

const CFN_XMLNS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";
const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

// ---------------------------------------------------------------------------------------------
// The session and the deployer

/// A session whose every service is `server`: static dummy credentials, one attempt per call
/// (a failure is reported at once instead of being retried).
pub fn session(server: &MockServer) -> Session {
    let credentials = Credentials::new(
        "AKIAFAKEFAKEFAKEFAKE",
        "fake-secret",
        None,
        None,
        "fake_aws",
    );
    let config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(server.uri())
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build();
    Session {
        config,
        region: REGION.into(),
        endpoint: Some(server.uri()),
    }
}

/// The deployer on `server`, polling every 5 ms.
pub fn deployer(server: &MockServer) -> Deployer {
    Deployer::new(session(server)).poll_every(Duration::from_millis(5))
}

/// The dev deployment of the lith pattern, its rendered template, and a package for its one
/// function (a small zip in a temporary directory: nothing is built).
pub struct Fixture {
    pub deployment: Deployment,
    pub template: Value,
    pub artifacts: Vec<Artifact>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub fn lith() -> Fixture {
        Fixture::lith_with(|_| {})
    }

    /// The dev lith deployment with its environment changed by `edit`.
    pub fn lith_with(edit: impl FnOnce(&mut EnvConfig)) -> Fixture {
        let deploy_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let mut config = EnvConfig::load(&deploy_dir, "dev").expect("deploy/envs/dev.toml loads");
        edit(&mut config);
        let deployment = Deployment::new(Pattern::Lith, "dev", config);
        let template = stack::render(&deployment).expect("the dev lith template renders");
        let dir = tempfile::tempdir().expect("a temporary directory");
        // Every deployment has the janitor beside its functions: a package each.
        let artifacts = [(Function::Lith, "lith"), (Function::Janitor, "janitor")]
            .into_iter()
            .map(|(function, name)| {
                let bootstrap: PathBuf = dir.path().join(format!("{name}-bootstrap"));
                let zip = dir.path().join(format!("{name}.zip"));
                let binary = format!("not really the {name} ELF binary").into_bytes();
                let bytes = packaging::zip_bootstrap(&binary).expect("a zip");
                std::fs::write(&bootstrap, &binary).expect("bootstrap written");
                std::fs::write(&zip, &bytes).expect("zip written");
                Artifact {
                    function,
                    architecture: Architecture::X86_64,
                    bootstrap,
                    zip,
                    binary_size: binary.len() as u64,
                    zip_size: bytes.len() as u64,
                    sha256: packaging::sha256_hex(&bytes),
                }
            })
            .collect();
        Fixture {
            deployment,
            template,
            artifacts,
            _dir: dir,
        }
    }

    pub fn request(&self) -> DeployRequest<'_> {
        DeployRequest {
            deployment: &self.deployment,
            template: &self.template,
            artifacts: &self.artifacts,
        }
    }

    /// `packages/lith/<sha256>.zip`.
    pub fn package_key(&self) -> String {
        deployer::package_key("lith", &self.artifacts[0].sha256)
    }

    /// `packages/janitor/<sha256>.zip`.
    pub fn janitor_key(&self) -> String {
        deployer::package_key("janitor", &self.artifacts[1].sha256)
    }

    /// The template as uploaded: the file text of `stack::to_file_text`.
    pub fn template_text(&self) -> String {
        stack::to_file_text(&self.template)
    }

    /// `templates/catalog-dev/<sha256>.json`.
    pub fn template_key(&self) -> String {
        let sha = packaging::sha256_hex(self.template_text().as_bytes());
        format!("templates/{STACK}/{sha}.json")
    }
}

// ---------------------------------------------------------------------------------------------
// What the deployer says

/// One thing the deployer said through [`Progress`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    Step(String),
    Note(String),
    Changes(Vec<ResourceChange>),
    Asked(String),
    Begin(String, usize),
    Event(StackEvent),
    Advance(usize),
    End,
}

/// Records everything in order; answers every question with `answer`.
pub struct Recorder {
    pub said: Vec<Said>,
    answer: bool,
}

impl Recorder {
    pub fn answering(answer: bool) -> Recorder {
        Recorder {
            said: Vec::new(),
            answer,
        }
    }

    pub fn events(&self) -> Vec<&StackEvent> {
        self.said
            .iter()
            .filter_map(|s| match s {
                Said::Event(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    pub fn questions(&self) -> Vec<&str> {
        self.said
            .iter()
            .filter_map(|s| match s {
                Said::Asked(question) => Some(question.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn steps(&self) -> Vec<&str> {
        self.said
            .iter()
            .filter_map(|s| match s {
                Said::Step(step) => Some(step.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn notes(&self) -> Vec<&str> {
        self.said
            .iter()
            .filter_map(|s| match s {
                Said::Note(note) => Some(note.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn changes(&self) -> Vec<&[ResourceChange]> {
        self.said
            .iter()
            .filter_map(|s| match s {
                Said::Changes(changes) => Some(changes.as_slice()),
                _ => None,
            })
            .collect()
    }
}

impl Progress for Recorder {
    fn step(&mut self, message: &str) {
        self.said.push(Said::Step(message.into()));
    }
    fn note(&mut self, message: &str) {
        self.said.push(Said::Note(message.into()));
    }
    fn changes(&mut self, changes: &[ResourceChange]) {
        self.said.push(Said::Changes(changes.to_vec()));
    }
    fn confirm(&mut self, question: &str) -> bool {
        self.said.push(Said::Asked(question.into()));
        self.answer
    }
    fn begin(&mut self, operation: &str, total: usize) {
        self.said.push(Said::Begin(operation.into(), total));
    }
    fn event(&mut self, event: &StackEvent) {
        self.said.push(Said::Event(event.clone()));
    }
    fn advance(&mut self, done: usize) {
        self.said.push(Said::Advance(done));
    }
    fn end(&mut self) {
        self.said.push(Said::End);
    }
}

// ---------------------------------------------------------------------------------------------
// What the deployer sent

/// The parameters of an awsQuery request (its form body).
pub fn form(request: &Request) -> HashMap<String, String> {
    form_urlencoded::parse(&request.body).into_owned().collect()
}

/// The members of an awsQuery list of key/value structures, such as `Parameters` with
/// `ParameterKey`/`ParameterValue` (`Parameters.member.1.ParameterKey=...`).
pub fn members(
    form: &HashMap<String, String>,
    list: &str,
    key: &str,
    value: &str,
) -> BTreeMap<String, String> {
    (1..)
        .map_while(|n| {
            let k = form.get(&format!("{list}.member.{n}.{key}"))?;
            let v = form.get(&format!("{list}.member.{n}.{value}"))?;
            Some((k.clone(), v.clone()))
        })
        .collect()
}

/// Every request the server received, one line each, in order: `GetCallerIdentity`,
/// `DescribeStacks catalog-dev` (awsQuery: the action and the stack), `HEAD /bucket/key`,
/// `GET /bucket?versioning` (S3, API Gateway; the SDK's `x-id` query parameter left out).
pub async fn sent(server: &MockServer) -> Vec<String> {
    let requests = server
        .received_requests()
        .await
        .expect("the server records requests");
    requests.iter().map(line).collect()
}

/// The requests of `sent` whose line is `wanted` (an action, or `METHOD /path`).
pub async fn sent_requests(server: &MockServer, wanted: &str) -> Vec<Request> {
    let requests = server
        .received_requests()
        .await
        .expect("the server records requests");
    requests
        .into_iter()
        .filter(|r| line(r) == wanted || line(r).starts_with(&format!("{wanted} ")))
        .collect()
}

fn line(request: &Request) -> String {
    if request.method.as_str() == "POST" && request.url.path() == "/" {
        let form = form(request);
        let action = form.get("Action").cloned().unwrap_or_default();
        return match form.get("StackName") {
            Some(stack) => format!("{action} {stack}"),
            None => action,
        };
    }
    let query: Vec<String> = request
        .url
        .query_pairs()
        .filter(|(k, _)| k != "x-id")
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    format!("{} {}{query}", request.method, request.url.path())
}

// ---------------------------------------------------------------------------------------------
// Matching requests

/// Matches an awsQuery request whose form has `key=value`.
pub struct Param(pub &'static str, pub String);

impl Match for Param {
    fn matches(&self, request: &Request) -> bool {
        form(request).get(self.0) == Some(&self.1)
    }
}

/// A CloudFormation or STS call: `POST /` with `Action=<action>`.
pub fn call(action: &str) -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/"))
        .and(Param("Action", action.into()))
}

/// A CloudFormation call on one stack, named by its name or its id (`StackName=`).
pub fn call_on(action: &str, stack: &str) -> MockBuilder {
    call(action).and(Param("StackName", stack.into()))
}

/// An S3 request on the artifact bucket itself (path style: `/{bucket}/`).
pub fn bucket(verb: &str) -> MockBuilder {
    Mock::given(method(verb)).and(path_regex(format!("^/{BUCKET}/?$")))
}

/// An S3 request on an object of the artifact bucket.
pub fn object(verb: &str, key: &str) -> MockBuilder {
    Mock::given(method(verb)).and(path(format!("/{BUCKET}/{key}")))
}

// ---------------------------------------------------------------------------------------------
// awsQuery responses (CloudFormation, STS)

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn query_response(xmlns: &str, action: &str, result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            r#"<{action}Response xmlns="{xmlns}"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata></{action}Response>"#
        ),
        "text/xml",
    )
}

/// A CloudFormation answer: `result` is the inside of `<{action}Result>`.
pub fn cfn_ok(action: &str, result: &str) -> ResponseTemplate {
    query_response(CFN_XMLNS, action, result)
}

/// A CloudFormation error: HTTP 400 with an `ErrorResponse`.
pub fn cfn_error(code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(400).set_body_raw(
        format!(
            r#"<ErrorResponse xmlns="{CFN_XMLNS}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>"#,
            escape(message)
        ),
        "text/xml",
    )
}

/// CloudFormation's answer about a stack that does not exist (DescribeStacks,
/// DescribeStackEvents): a `ValidationError`, "Stack with id catalog-dev does not exist".
pub fn no_such_stack() -> ResponseTemplate {
    cfn_error(
        "ValidationError",
        &format!("Stack with id {STACK} does not exist"),
    )
}

/// STS GetCallerIdentity: the dev user of the account.
pub fn caller_identity() -> ResponseTemplate {
    query_response(
        STS_XMLNS,
        "GetCallerIdentity",
        &format!(
            "<Arn>arn:aws:iam::{ACCOUNT}:user/dev</Arn><UserId>AIDAFAKEFAKEFAKEFAKE</UserId><Account>{ACCOUNT}</Account>"
        ),
    )
}

/// One stack of DescribeStacks (`Stacks/member`), tagged as the deployer tags it.
pub fn stack_xml(status: &str, outputs: &[(&str, &str)]) -> String {
    let outputs: String = outputs
        .iter()
        .map(|(key, value)| {
            format!(
                "<member><OutputKey>{key}</OutputKey><OutputValue>{}</OutputValue></member>",
                escape(value)
            )
        })
        .collect();
    let tags: String = [
        ("project", "catalog"),
        ("environment", "dev"),
        ("catalog:pattern", "lith"),
        ("catalog:architecture", "x86_64"),
    ]
    .iter()
    .map(|(key, value)| format!("<member><Key>{key}</Key><Value>{value}</Value></member>"))
    .collect();
    format!(
        "<member><StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>\
         <CreationTime>2026-11-01T09:00:00.000Z</CreationTime>\
         <LastUpdatedTime>2026-12-01T09:00:20.000Z</LastUpdatedTime>\
         <StackStatus>{status}</StackStatus><Capabilities><member>CAPABILITY_IAM</member></Capabilities>\
         <Outputs>{outputs}</Outputs><Tags>{tags}</Tags></member>"
    )
}

/// DescribeStacks answering `stacks` (each a [`stack_xml`]).
pub fn describe_stacks(stacks: &[String]) -> ResponseTemplate {
    cfn_ok(
        "DescribeStacks",
        &format!("<Stacks>{}</Stacks>", stacks.concat()),
    )
}

/// DescribeStacks answering the stack in `status`, without outputs.
pub fn stack_in(status: &str) -> ResponseTemplate {
    describe_stacks(&[stack_xml(status, &[])])
}

/// CreateChangeSet: the change set's id and the stack's.
pub fn change_set_created() -> ResponseTemplate {
    cfn_ok(
        "CreateChangeSet",
        &format!("<Id>{CHANGE_SET_ID}</Id><StackId>{STACK_ID}</StackId>"),
    )
}

/// One change of a change set (`Changes/member`, a `Resource` change).
pub fn change_xml(action: &str, logical_id: &str, resource_type: &str) -> String {
    let replacement = if action == "Modify" {
        "<Replacement>False</Replacement>"
    } else {
        ""
    };
    format!(
        "<member><Type>Resource</Type><ResourceChange><Action>{action}</Action>\
         <LogicalResourceId>{logical_id}</LogicalResourceId><ResourceType>{resource_type}</ResourceType>\
         {replacement}<Scope/><Details/></ResourceChange></member>"
    )
}

/// DescribeChangeSet: the change set in `status` (`CREATE_PENDING`, `CREATE_COMPLETE`,
/// `FAILED`), with its reason and changes.
pub fn describe_change_set(
    status: &str,
    reason: Option<&str>,
    changes: &[String],
) -> ResponseTemplate {
    let execution = if status == "CREATE_COMPLETE" {
        "AVAILABLE"
    } else {
        "UNAVAILABLE"
    };
    let reason = reason
        .map(|r| format!("<StatusReason>{}</StatusReason>", escape(r)))
        .unwrap_or_default();
    cfn_ok(
        "DescribeChangeSet",
        &format!(
            "<ChangeSetName>catalog-20261201-100000-000</ChangeSetName><ChangeSetId>{CHANGE_SET_ID}</ChangeSetId>\
             <StackId>{STACK_ID}</StackId><StackName>{STACK}</StackName>\
             <CreationTime>2026-12-01T09:59:55.000Z</CreationTime>\
             <ExecutionStatus>{execution}</ExecutionStatus><Status>{status}</Status>{reason}\
             <Changes>{}</Changes>",
            changes.concat()
        ),
    )
}

/// One resource of ListStackResources (`StackResourceSummaries/member`).
pub fn resource_xml(logical_id: &str, resource_type: &str, physical_id: &str) -> String {
    format!(
        "<member><LogicalResourceId>{logical_id}</LogicalResourceId>\
         <PhysicalResourceId>{physical_id}</PhysicalResourceId><ResourceType>{resource_type}</ResourceType>\
         <LastUpdatedTimestamp>2026-12-01T10:00:10.000Z</LastUpdatedTimestamp>\
         <ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
    )
}

/// ListStackResources answering `resources` (each a [`resource_xml`]).
pub fn list_stack_resources(resources: &[String]) -> ResponseTemplate {
    cfn_ok(
        "ListStackResources",
        &format!(
            "<StackResourceSummaries>{}</StackResourceSummaries>",
            resources.concat()
        ),
    )
}

/// A stack event as a test writes it: who, what, when (`HH:MM:SS` on 2026-12-01), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub time: String,
}

impl Event {
    /// An event of a resource of the stack.
    pub fn resource(logical_id: &str, resource_type: &str, status: &str, time: &str) -> Event {
        Event {
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            status: status.into(),
            reason: None,
            time: time.into(),
        }
    }

    /// An event of the stack itself (its logical id is the stack's name).
    pub fn stack(status: &str, time: &str) -> Event {
        Event::resource(STACK, "AWS::CloudFormation::Stack", status, time)
    }

    pub fn because(mut self, reason: &str) -> Event {
        self.reason = Some(reason.into());
        self
    }

    /// Resource events' ids are `<logical id>-<status>-<timestamp>` in CloudFormation.
    pub fn id(&self) -> String {
        format!("{}-{}-{}", self.logical_id, self.status, self.timestamp())
    }

    fn timestamp(&self) -> String {
        format!("2026-12-01T{}.000Z", self.time)
    }
}

/// One event of DescribeStackEvents (`StackEvents/member`).
pub fn event_xml(event: &Event) -> String {
    let reason = event
        .reason
        .as_deref()
        .map(|r| format!("<ResourceStatusReason>{}</ResourceStatusReason>", escape(r)))
        .unwrap_or_default();
    format!(
        "<member><StackId>{STACK_ID}</StackId><EventId>{}</EventId><StackName>{STACK}</StackName>\
         <LogicalResourceId>{}</LogicalResourceId><ResourceType>{}</ResourceType>\
         <Timestamp>{}</Timestamp><ResourceStatus>{}</ResourceStatus>{reason}</member>",
        event.id(),
        event.logical_id,
        event.resource_type,
        event.timestamp(),
        event.status
    )
}

/// DescribeStackEvents answering `events` (newest first, as the API lists them), with the token
/// of the next page if there is one.
pub fn describe_stack_events(events: &[Event], next_token: Option<&str>) -> ResponseTemplate {
    let events: String = events.iter().map(event_xml).collect();
    let next = next_token
        .map(|t| format!("<NextToken>{t}</NextToken>"))
        .unwrap_or_default();
    cfn_ok(
        "DescribeStackEvents",
        &format!("<StackEvents>{events}</StackEvents>{next}"),
    )
}

// ---------------------------------------------------------------------------------------------
// S3 and API Gateway responses

/// API Gateway's account settings (`GET /account`): the CloudWatch Logs role, if one is set.
pub fn apigateway_account(role: Option<&str>) -> ResponseTemplate {
    let body = match role {
        Some(role) => serde_json::json!({ "cloudwatchRoleArn": role }),
        None => serde_json::json!({}),
    };
    ResponseTemplate::new(200).set_body_json(body)
}

/// GetBucketVersioning: versioning enabled.
pub fn versioning_enabled() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        r#"<?xml version="1.0" encoding="UTF-8"?><VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>"#,
        "application/xml",
    )
}

/// HeadObject of an object that is there.
pub fn object_present() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("ETag", "\"9b2cf535f27731c974343645a3985328\"")
        .insert_header("Last-Modified", "Tue, 01 Dec 2026 09:00:00 GMT")
}

/// HeadObject of an object that is not (a HEAD answer has no body: just the status).
pub fn object_absent() -> ResponseTemplate {
    ResponseTemplate::new(404)
}

/// PutObject accepted.
pub fn object_stored() -> ResponseTemplate {
    ResponseTemplate::new(200).insert_header("ETag", "\"9b2cf535f27731c974343645a3985328\"")
}

// ---------------------------------------------------------------------------------------------
// Whole setups

/// An account ready for a deploy: STS knows the caller, API Gateway has its logging role, the
/// artifact bucket exists and is versioned, no object is in it and uploads are accepted. A test
/// mounts its own mocks for the objects it cares about: they take precedence (priority 5 over
/// these catch-alls at 10).
pub async fn mount_ready_account(server: &MockServer) {
    call("GetCallerIdentity")
        .respond_with(caller_identity())
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/account"))
        .respond_with(apigateway_account(Some(LOGGING_ROLE)))
        .mount(server)
        .await;
    bucket("HEAD")
        .respond_with(ResponseTemplate::new(200))
        .mount(server)
        .await;
    bucket("GET")
        .and(wiremock::matchers::query_param("versioning", ""))
        .respond_with(versioning_enabled())
        .mount(server)
        .await;
    Mock::given(method("HEAD"))
        .and(path_regex(format!("^/{BUCKET}/.+")))
        .respond_with(object_absent())
        .with_priority(10)
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(format!("^/{BUCKET}/.+")))
        .respond_with(object_stored())
        .with_priority(10)
        .mount(server)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Answers that change from one call to the next

/// Successive answers to successive calls; the last one repeats.
pub struct Sequence {
    answers: Vec<ResponseTemplate>,
    calls: AtomicUsize,
}

impl Sequence {
    pub fn of(answers: Vec<ResponseTemplate>) -> Sequence {
        assert!(!answers.is_empty());
        Sequence {
            answers,
            calls: AtomicUsize::new(0),
        }
    }
}

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        self.answers[call.min(self.answers.len() - 1)].clone()
    }
}

/// A phase of a stack operation: the stack's status while in it (`None`: the stack is gone and
/// CloudFormation says it does not exist), and the events that happen as it is reached.
pub struct Phase {
    status: Option<String>,
    events: Vec<Event>,
}

pub fn phase(status: &str, events: Vec<Event>) -> Phase {
    Phase {
        status: Some(status.into()),
        events,
    }
}

/// The stack is gone: as an emulator does after a deletion, DescribeStacks and
/// DescribeStackEvents say it does not exist, even by its id.
pub fn gone() -> Phase {
    Phase {
        status: None,
        events: Vec::new(),
    }
}

/// A stack operation as CloudFormation runs it, seen through the stack's id. Each DescribeStacks
/// moves it to its next phase (the last one stays); DescribeStackEvents answers every event that
/// has happened so far, the ones before the operation included, newest first and `page_size` to
/// a page (NextToken is the offset).
pub struct Timeline {
    before: Vec<Event>,
    phases: Vec<Phase>,
    page_size: usize,
    polls: AtomicUsize,
}

impl Timeline {
    pub fn new(before: Vec<Event>, phases: Vec<Phase>, page_size: usize) -> Arc<Timeline> {
        assert!(!phases.is_empty() && page_size > 0);
        Arc::new(Timeline {
            before,
            phases,
            page_size,
            polls: AtomicUsize::new(0),
        })
    }

    /// Mounts DescribeStacks and DescribeStackEvents on the stack's id.
    pub async fn mount(self: &Arc<Self>, server: &MockServer) {
        call_on("DescribeStacks", STACK_ID)
            .respond_with(Polls(self.clone()))
            .mount(server)
            .await;
        call_on("DescribeStackEvents", STACK_ID)
            .respond_with(EventPages(self.clone()))
            .mount(server)
            .await;
    }

    /// The events of the operation, in the order they happened.
    pub fn operation_events(&self) -> Vec<Event> {
        self.phases.iter().flat_map(|p| p.events.clone()).collect()
    }

    /// How many phases have been reached.
    fn reached(&self) -> usize {
        self.polls.load(Ordering::SeqCst).min(self.phases.len())
    }
}

struct Polls(Arc<Timeline>);

impl Respond for Polls {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0.polls.fetch_add(1, Ordering::SeqCst);
        match &self.0.phases[self.0.reached() - 1].status {
            Some(status) => stack_in(status),
            None => no_such_stack(),
        }
    }
}

struct EventPages(Arc<Timeline>);

impl Respond for EventPages {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let timeline = &self.0;
        let reached = timeline.reached();
        if reached > 0 && timeline.phases[reached - 1].status.is_none() {
            return no_such_stack();
        }
        let mut events: Vec<Event> = timeline.before.clone();
        events.extend(
            timeline.phases[..reached]
                .iter()
                .flat_map(|p| p.events.clone()),
        );
        events.reverse();
        let offset: usize = form(request)
            .get("NextToken")
            .map(|t| t.parse().expect("a token of this fake"))
            .unwrap_or(0);
        let end = (offset + timeline.page_size).min(events.len());
        let next = (end < events.len()).then(|| end.to_string());
        describe_stack_events(&events[offset.min(end)..end], next.as_deref())
    }
}
