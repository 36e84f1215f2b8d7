//! The deployer against a fake AWS (a wiremock server standing in for CloudFormation, STS, S3 and
//! API Gateway), answering as the AWS APIs document: what it sends, what it does not send, and
//! what it tells the person running it.

mod fake_aws;

use deployer::{DeployError, Deployed, Destroyed, Failure, ResourceChange};
use fake_aws::*;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// CloudFormation's status reason of a change set that changes nothing: the change set ends in
/// Status FAILED with this StatusReason (AWS CloudFormation API reference, DescribeChangeSet,
/// Status and StatusReason; the wording AWS sends, which `aws cloudformation deploy` matches to
/// say "No changes to deploy").
const NO_CHANGES: &str = "The submitted information didn't contain changes. Submit different information to create a change set.";

const TEMPLATE_ERROR: &str = "Template format error: Unresolved resource dependencies [X] in the Resources block of the template";

const ZIP_REASON: &str =
    "Resource handler returned message: \"Uploaded file must be a non-empty zip\"";

fn lambda(logical_id: &str, status: &str, time: &str) -> Event {
    Event::resource(logical_id, "AWS::Lambda::Function", status, time)
}

/// The resources of the deployed stack (ListStackResources).
fn deployed_resources() -> Vec<String> {
    vec![
        resource_xml("Api", "AWS::ApiGateway::RestApi", "a1b2c3d4e5"),
        resource_xml("Stage", "AWS::ApiGateway::Stage", "dev"),
        resource_xml("LithFunction", "AWS::Lambda::Function", "catalog-dev-lith"),
        resource_xml(
            "AccessLogGroup",
            "AWS::Logs::LogGroup",
            "/aws/apigateway/catalog-dev",
        ),
    ]
}

async fn mount_deployed_resources(server: &MockServer) {
    call_on("ListStackResources", STACK_ID)
        .respond_with(list_stack_resources(&deployed_resources()))
        .mount(server)
        .await;
}

/// The stack as an earlier deploy left it: UPDATE_COMPLETE, with its outputs.
fn deployed_stack() -> ResponseTemplate {
    describe_stacks(&[stack_xml(
        "UPDATE_COMPLETE",
        &[
            (
                "ApiUrl",
                "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev",
            ),
            ("StageName", "dev"),
        ],
    )])
}

/// Events the earlier deploy left (the stack's history before this operation).
fn earlier_deploy() -> Vec<Event> {
    vec![
        Event::stack("UPDATE_IN_PROGRESS", "09:00:00").because("User Initiated"),
        lambda("LithFunction", "UPDATE_IN_PROGRESS", "09:00:05"),
        lambda("LithFunction", "UPDATE_COMPLETE", "09:00:10"),
        Event::stack("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "09:00:15"),
        Event::stack("UPDATE_COMPLETE", "09:00:20"),
    ]
}

// ---------------------------------------------------------------------------------------------
// Change sets without changes

/// A change set that changes nothing, the AWS way: CreateChangeSet succeeds, and DescribeChangeSet
/// then answers Status FAILED with StatusReason "The submitted information didn't contain
/// changes. Submit different information to create a change set." (AWS CloudFormation API
/// reference, DescribeChangeSet). The change set is deleted, never executed, and the stack is
/// left alone.
#[tokio::test]
async fn a_change_set_without_changes_is_deleted_and_nothing_is_executed() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .expect(2) // where the stack stands, then the summary
        .mount(&server)
        .await;
    mount_deployed_resources(&server).await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "UPDATE".into()))
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    call("DescribeChangeSet")
        .respond_with(describe_change_set("FAILED", Some(NO_CHANGES), &[]))
        .expect(1)
        .mount(&server)
        .await;
    call("DeleteChangeSet")
        .and(Param("ChangeSetName", CHANGE_SET_ID.into()))
        .respond_with(cfn_ok("DeleteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(0)
        .mount(&server)
        .await;
    call("DeleteStack")
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(0)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let deployed = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect("the deploy succeeds");

    let Deployed::NoChanges(summary) = deployed else {
        panic!("expected NoChanges, got {deployed:?}");
    };
    assert_eq!(summary.status, "UPDATE_COMPLETE");
    assert_eq!(
        summary.url.as_deref(),
        Some("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev")
    );
    assert!(
        progress.questions().is_empty(),
        "nothing to confirm: {:?}",
        progress.said
    );
    assert!(progress.changes().is_empty());
}

/// A change set shown and declined: it is deleted, never executed; for a CREATE change set the
/// empty REVIEW_IN_PROGRESS stack CloudFormation made for it goes too (AWS CloudFormation user
/// guide, "Create a change set": a change set for a new stack creates the stack in
/// REVIEW_IN_PROGRESS), by its id.
#[tokio::test]
async fn a_declined_change_set_is_deleted_and_nothing_is_executed() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(no_such_stack())
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "CREATE".into()))
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    let changes = [change_xml("Add", "LithFunction", "AWS::Lambda::Function")];
    call("DescribeChangeSet")
        .respond_with(describe_change_set("CREATE_COMPLETE", None, &changes))
        .mount(&server)
        .await;
    call("DeleteChangeSet")
        .and(Param("ChangeSetName", CHANGE_SET_ID.into()))
        .respond_with(cfn_ok("DeleteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(0)
        .mount(&server)
        .await;
    call_on("DeleteStack", STACK_ID)
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(1)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(false);
    let deployed = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect("declining is not an error");

    assert_eq!(deployed, Deployed::Declined);
    assert_eq!(progress.questions(), ["Deploy this change set?"]);
    assert_eq!(progress.changes().len(), 1);
}

/// The other spelling of "no changes": CreateChangeSet itself answers HTTP 400 ValidationError
/// "No updates are to be performed." (the error CloudFormation's UpdateStack gives a template
/// that changes nothing, which emulators such as moto give CreateChangeSet too). No change set
/// exists, so none is read, deleted or executed.
#[tokio::test]
async fn no_updates_to_perform_from_create_change_set_means_no_changes() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    mount_deployed_resources(&server).await;
    call("CreateChangeSet")
        .respond_with(cfn_error(
            "ValidationError",
            "No updates are to be performed.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    for action in [
        "DescribeChangeSet",
        "DeleteChangeSet",
        "ExecuteChangeSet",
        "DeleteStack",
    ] {
        call(action)
            .respond_with(cfn_ok(action, ""))
            .expect(0)
            .named(action)
            .mount(&server)
            .await;
    }

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let deployed = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect("the deploy succeeds");

    assert!(
        matches!(&deployed, Deployed::NoChanges(s) if s.status == "UPDATE_COMPLETE"),
        "{deployed:?}"
    );
    assert!(progress.questions().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Change sets that fail

/// A change set that fails for a reason other than "no changes": DescribeChangeSet answers Status
/// FAILED with the template error as StatusReason (AWS CloudFormation API reference,
/// DescribeChangeSet: "StatusReason: A description of the change set's status. For example, if
/// your attempt to create a change set failed, CloudFormation shows the error message."). For a
/// CREATE change set CloudFormation has made an empty stack in REVIEW_IN_PROGRESS (user guide,
/// "Create a change set"); the deployer deletes it along with the change set, and executes
/// nothing.
#[tokio::test]
async fn a_failed_create_change_set_is_reported_and_its_review_stack_deleted() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(no_such_stack())
        .expect(1)
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "CREATE".into()))
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    call("DescribeChangeSet")
        .respond_with(describe_change_set("FAILED", Some(TEMPLATE_ERROR), &[]))
        .mount(&server)
        .await;
    call("DeleteChangeSet")
        .and(Param("ChangeSetName", CHANGE_SET_ID.into()))
        .respond_with(cfn_ok("DeleteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(0)
        .mount(&server)
        .await;
    // By its id: only the very stack the change set made, never one that took its name since.
    call_on("DeleteStack", STACK_ID)
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(1)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect_err("the deploy fails");

    let DeployError::ChangeSetFailed { reason } = &error else {
        panic!("expected ChangeSetFailed, got {error:?}");
    };
    assert!(reason.contains(TEMPLATE_ERROR), "{reason}");
    assert!(error.to_string().contains(TEMPLATE_ERROR), "{error}");
    assert!(progress.questions().is_empty());
}

/// The same failure on an UPDATE change set: the stack is a live one (DescribeStacks says
/// UPDATE_COMPLETE), so only the change set is deleted; DeleteStack must never be sent.
#[tokio::test]
async fn a_failed_update_change_set_never_deletes_the_stack() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "UPDATE".into()))
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    call("DescribeChangeSet")
        .respond_with(describe_change_set("FAILED", Some(TEMPLATE_ERROR), &[]))
        .mount(&server)
        .await;
    call("DeleteChangeSet")
        .respond_with(cfn_ok("DeleteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(0)
        .mount(&server)
        .await;
    call("DeleteStack")
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(0)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut Recorder::answering(true))
        .await
        .expect_err("the deploy fails");

    assert!(
        matches!(&error, DeployError::ChangeSetFailed { reason } if reason.contains(TEMPLATE_ERROR)),
        "{error:?}"
    );
}

/// A CREATE change set refused because the stack exists after all: another deploy created it
/// between DescribeStacks ("does not exist") and CreateChangeSet, and CloudFormation answers
/// ValidationError "Stack [catalog-dev] already exists and cannot be created again with the
/// changeSet [...]" (a CREATE change set is only for a stack that does not exist or is in
/// REVIEW_IN_PROGRESS: AWS CloudFormation API reference, CreateChangeSet, ChangeSetType). No
/// change set was made, so there is no review stack of ours to delete: the stack there is someone
/// else's, and DeleteStack must not be sent.
#[tokio::test]
async fn a_create_change_set_refused_because_the_stack_exists_never_deletes_it() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(no_such_stack())
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "CREATE".into()))
        .respond_with(cfn_error(
            "ValidationError",
            "Stack [catalog-dev] already exists and cannot be created again with the changeSet \
             [catalog-20261201-100000-000].",
        ))
        .expect(1)
        .mount(&server)
        .await;
    call("DeleteStack")
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(0)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut Recorder::answering(true))
        .await
        .expect_err("the deploy fails");

    assert!(
        matches!(&error, DeployError::ChangeSetFailed { reason } if reason.contains("already exists")),
        "{error:?}"
    );
    assert!(
        !sent(&server)
            .await
            .iter()
            .any(|l| l.starts_with("DeleteStack")),
        "the existing stack was deleted"
    );
}

// ---------------------------------------------------------------------------------------------
// A failure and its rollback

/// An UPDATE whose Lambda function fails, then rolls back, as CloudFormation reports it:
/// DescribeStacks goes UPDATE_IN_PROGRESS, UPDATE_ROLLBACK_IN_PROGRESS, UPDATE_ROLLBACK_COMPLETE
/// while DescribeStackEvents grows. DescribeStackEvents "returns all stack related events for a
/// specified stack in reverse chronological order", a page at a time with NextToken (AWS
/// CloudFormation API reference, DescribeStackEvents); here two to a page, so reading new events
/// means reading pages until a known one. Each event is shown once, oldest first; those from
/// before the execution are not shown; the error names the failed resource and its reason.
#[tokio::test]
async fn a_resource_failure_and_its_rollback_are_shown_event_by_event() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .expect(1)
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    call("DescribeChangeSet")
        .respond_with(describe_change_set(
            "CREATE_COMPLETE",
            None,
            &[change_xml(
                "Modify",
                "LithFunction",
                "AWS::Lambda::Function",
            )],
        ))
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .and(Param("ChangeSetName", CHANGE_SET_ID.into()))
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    call("DeleteStack")
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(0)
        .mount(&server)
        .await;
    let timeline = Timeline::new(
        earlier_deploy(),
        vec![
            phase(
                "UPDATE_IN_PROGRESS",
                vec![
                    Event::stack("UPDATE_IN_PROGRESS", "10:00:00").because("User Initiated"),
                    lambda("LithFunction", "UPDATE_IN_PROGRESS", "10:00:02"),
                ],
            ),
            phase(
                "UPDATE_ROLLBACK_IN_PROGRESS",
                vec![
                    lambda("LithFunction", "UPDATE_FAILED", "10:00:05").because(ZIP_REASON),
                    Event::stack("UPDATE_ROLLBACK_IN_PROGRESS", "10:00:06")
                        .because("The following resource(s) failed to update: [LithFunction]. "),
                ],
            ),
            phase(
                "UPDATE_ROLLBACK_IN_PROGRESS",
                vec![lambda("LithFunction", "UPDATE_IN_PROGRESS", "10:00:08")],
            ),
            phase(
                "UPDATE_ROLLBACK_COMPLETE",
                vec![
                    lambda("LithFunction", "UPDATE_COMPLETE", "10:00:10"),
                    Event::stack("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "10:00:11"),
                    Event::stack("UPDATE_ROLLBACK_COMPLETE", "10:00:12"),
                ],
            ),
        ],
        2,
    );
    timeline.mount(&server).await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect_err("the deploy fails");

    // Each event of the operation once, oldest first; none of the earlier deploy's.
    let shown: Vec<(String, String, String)> = progress
        .events()
        .iter()
        .map(|e| (e.id.clone(), e.logical_id.clone(), e.status.clone()))
        .collect();
    let expected: Vec<(String, String, String)> = timeline
        .operation_events()
        .iter()
        .map(|e| (e.id(), e.logical_id.clone(), e.status.clone()))
        .collect();
    assert_eq!(shown, expected);
    for old in earlier_deploy() {
        assert!(
            !shown.iter().any(|(id, _, _)| *id == old.id()),
            "{old:?} was shown"
        );
    }
    let failed = progress
        .events()
        .into_iter()
        .find(|e| e.status == "UPDATE_FAILED")
        .expect("the failure is shown");
    assert_eq!(failed.reason.as_deref(), Some(ZIP_REASON));
    assert_eq!(failed.time, "10:00:05");
    // The rollback is announced once, as a step of its own, beside its stack event.
    let announced: Vec<&str> = progress
        .steps()
        .into_iter()
        .filter(|s| s.contains("rolling it back"))
        .collect();
    assert_eq!(
        announced,
        ["catalog-dev failed: CloudFormation is rolling it back"]
    );

    // The events already there were read before the change set was executed.
    let sent = sent(&server).await;
    let first_events = sent
        .iter()
        .position(|l| l.starts_with("DescribeStackEvents "))
        .expect("events read");
    let execute = sent
        .iter()
        .position(|l| l == "ExecuteChangeSet")
        .expect("executed");
    assert!(first_events < execute, "{sent:#?}");

    let DeployError::Failed {
        status, failures, ..
    } = &error
    else {
        panic!("expected Failed, got {error:?}");
    };
    assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(
        failures,
        &[Failure {
            logical_id: "LithFunction".into(),
            resource_type: "AWS::Lambda::Function".into(),
            status: "UPDATE_FAILED".into(),
            reason: ZIP_REASON.into(),
        }]
    );
    let message = error.to_string();
    assert!(message.contains("UPDATE_ROLLBACK_COMPLETE"), "{message}");
    assert!(message.contains("LithFunction"), "{message}");
    assert!(message.contains(ZIP_REASON), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Content-addressed uploads

/// A package already in the bucket: HeadObject answers 200 for its key (Amazon S3 API reference,
/// HeadObject: 200 when the object exists; 404 Not Found when it does not, to a caller with
/// s3:ListBucket), so it is not uploaded
/// again; the template's key answers 404, so the template is uploaded once, under the SHA-256 of
/// its text, and the change set reads it from there with the package's key as parameter.
#[tokio::test]
async fn a_package_already_in_the_bucket_is_not_uploaded_again() {
    let fixture = Fixture::lith();
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    object("HEAD", &fixture.package_key())
        .respond_with(object_present())
        .expect(1)
        .mount(&server)
        .await;
    object("PUT", &fixture.package_key())
        .respond_with(object_stored())
        .expect(0)
        .mount(&server)
        .await;
    object("HEAD", &fixture.janitor_key())
        .respond_with(object_present())
        .expect(1)
        .mount(&server)
        .await;
    object("HEAD", &fixture.template_key())
        .respond_with(object_absent())
        .expect(1)
        .mount(&server)
        .await;
    object("PUT", &fixture.template_key())
        .respond_with(object_stored())
        .expect(1)
        .mount(&server)
        .await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    mount_deployed_resources(&server).await;
    call("CreateChangeSet")
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    call("DescribeChangeSet")
        .respond_with(describe_change_set("FAILED", Some(NO_CHANGES), &[]))
        .mount(&server)
        .await;
    call("DeleteChangeSet")
        .respond_with(cfn_ok("DeleteChangeSet", ""))
        .mount(&server)
        .await;

    let mut progress = Recorder::answering(true);
    let deployed = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect("the deploy succeeds");
    assert!(matches!(deployed, Deployed::NoChanges(_)), "{deployed:?}");

    // Only the template was uploaded, and it is the template's text.
    let puts: Vec<String> = sent(&server)
        .await
        .into_iter()
        .filter(|l| l.starts_with("PUT "))
        .collect();
    assert_eq!(puts, [format!("PUT /{BUCKET}/{}", fixture.template_key())]);
    let uploaded = sent_requests(&server, &puts[0]).await;
    assert_eq!(
        String::from_utf8_lossy(&uploaded[0].body),
        fixture.template_text()
    );
    assert!(
        progress
            .notes()
            .iter()
            .any(|n| n.starts_with("lith") && n.ends_with("already in the bucket")),
        "{:?}",
        progress.notes()
    );

    // The change set takes the template from the bucket and the package by its key.
    let create = form(&sent_requests(&server, "CreateChangeSet").await[0]);
    assert_eq!(
        create["TemplateURL"],
        format!(
            "https://{BUCKET}.s3.eu-west-1.amazonaws.com/{}",
            fixture.template_key()
        )
    );
    let parameters = members(&create, "Parameters", "ParameterKey", "ParameterValue");
    assert_eq!(parameters["LithCodeKey"], fixture.package_key());
    assert_eq!(parameters["JanitorCodeKey"], fixture.janitor_key());
    assert_eq!(parameters["ArtifactBucket"], BUCKET);
}

// ---------------------------------------------------------------------------------------------
// The summary

/// A stack created without outputs (some emulators keep none after a change set): the summary's
/// URL comes from ListStackResources instead, where an AWS::ApiGateway::RestApi's physical id is
/// the API's id and an AWS::ApiGateway::Stage's is the stage's name (AWS CloudFormation template
/// reference, the resources' "Return values": Ref returns these), as
/// https://<api>.execute-api.<region>.amazonaws.com/<stage>.
#[tokio::test]
async fn without_outputs_the_url_comes_from_the_stack_resources() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(Sequence::of(vec![
            no_such_stack(),
            describe_stacks(&[stack_xml("CREATE_COMPLETE", &[])]),
        ]))
        .expect(2)
        .mount(&server)
        .await;
    mount_deployed_resources(&server).await;
    call("CreateChangeSet")
        .and(Param("ChangeSetType", "CREATE".into()))
        .respond_with(change_set_created())
        .expect(1)
        .mount(&server)
        .await;
    let changes = [
        change_xml("Add", "Api", "AWS::ApiGateway::RestApi"),
        change_xml("Add", "Stage", "AWS::ApiGateway::Stage"),
        change_xml("Add", "LithFunction", "AWS::Lambda::Function"),
    ];
    call("DescribeChangeSet")
        .respond_with(Sequence::of(vec![
            describe_change_set("CREATE_PENDING", None, &[]),
            describe_change_set("CREATE_COMPLETE", None, &changes),
        ]))
        .mount(&server)
        .await;
    call("ExecuteChangeSet")
        .respond_with(cfn_ok("ExecuteChangeSet", ""))
        .expect(1)
        .mount(&server)
        .await;
    let timeline = Timeline::new(
        vec![Event::stack("REVIEW_IN_PROGRESS", "09:59:55").because("User Initiated")],
        vec![
            phase(
                "CREATE_IN_PROGRESS",
                vec![
                    Event::stack("CREATE_IN_PROGRESS", "10:00:00").because("User Initiated"),
                    Event::resource(
                        "Api",
                        "AWS::ApiGateway::RestApi",
                        "CREATE_IN_PROGRESS",
                        "10:00:01",
                    ),
                    Event::resource(
                        "Api",
                        "AWS::ApiGateway::RestApi",
                        "CREATE_COMPLETE",
                        "10:00:02",
                    ),
                    lambda("LithFunction", "CREATE_IN_PROGRESS", "10:00:03"),
                ],
            ),
            phase(
                "CREATE_COMPLETE",
                vec![
                    lambda("LithFunction", "CREATE_COMPLETE", "10:00:08"),
                    Event::resource(
                        "Stage",
                        "AWS::ApiGateway::Stage",
                        "CREATE_COMPLETE",
                        "10:00:09",
                    ),
                    Event::stack("CREATE_COMPLETE", "10:00:10"),
                ],
            ),
        ],
        100,
    );
    timeline.mount(&server).await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let deployed = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect("the deploy succeeds");

    let Deployed::Changed(summary) = deployed else {
        panic!("expected Changed, got {deployed:?}");
    };
    assert!(summary.outputs.is_empty());
    assert_eq!(
        summary.url.as_deref(),
        Some("https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev")
    );
    assert_eq!(summary.status, "CREATE_COMPLETE");
    assert_eq!(summary.functions, ["catalog-dev-lith"]);
    assert_eq!(summary.pattern.as_deref(), Some("lith"));

    // The changes were shown, then confirmed, then followed.
    let change = |action: &str, id: &str, kind: &str| ResourceChange {
        action: action.into(),
        logical_id: id.into(),
        resource_type: kind.into(),
        replacement: None,
    };
    assert_eq!(
        progress.changes(),
        [&[
            change("Add", "Api", "AWS::ApiGateway::RestApi"),
            change("Add", "Stage", "AWS::ApiGateway::Stage"),
            change("Add", "LithFunction", "AWS::Lambda::Function"),
        ][..]]
    );
    assert_eq!(progress.questions(), ["Deploy this change set?"]);
    assert_eq!(progress.events().len(), timeline.operation_events().len());
}

// ---------------------------------------------------------------------------------------------
// Refusals before anything is changed

/// API Gateway without the account's CloudWatch Logs role: GET /account answers no
/// cloudwatchRoleArn (API Gateway API reference, GetAccount; the developer guide's "Set up
/// CloudWatch logging for REST APIs" says a stage with logging needs it). With
/// `apigateway_logging_role = "existing"` that is an error saying what to choose, asked of nobody,
/// and nothing has been created: no bucket, no upload, no change set.
#[tokio::test]
async fn an_existing_logging_role_that_is_missing_stops_the_deploy_before_any_change() {
    let server = MockServer::start().await;
    call("GetCallerIdentity")
        .respond_with(caller_identity())
        .mount(&server)
        .await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/account"))
        .respond_with(apigateway_account(None))
        .expect(1)
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .respond_with(change_set_created())
        .expect(0)
        .mount(&server)
        .await;

    let fixture = Fixture::lith_with(|config| {
        config.apigateway_logging_role = stack::LoggingRole::Existing;
    });
    let mut progress = Recorder::answering(true);
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect_err("the deploy is refused");

    assert!(
        matches!(&error, DeployError::NoLoggingRole { region, .. } if region == REGION),
        "{error:?}"
    );
    let message = error.to_string();
    for choice in [
        "\"create\"",
        "\"off\"",
        "deploy/envs/dev.toml",
        "Nothing was changed",
    ] {
        assert!(message.contains(choice), "{choice} in {message}");
    }
    assert!(progress.questions().is_empty(), "{:?}", progress.said);
    assert_eq!(
        sent(&server).await,
        [
            "GetCallerIdentity",
            "DescribeStacks catalog-dev",
            "GET /account"
        ]
    );
}

/// With `apigateway_logging_role = "off"` the account's role is not looked at (the template has
/// no access log to need it), and the deploy says so.
#[tokio::test]
async fn with_the_logging_role_off_the_account_is_not_asked_and_the_deploy_warns() {
    let server = MockServer::start().await;
    call("GetCallerIdentity")
        .respond_with(caller_identity())
        .mount(&server)
        .await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/account"))
        .respond_with(apigateway_account(None))
        .expect(0)
        .mount(&server)
        .await;
    // The bucket is the first thing after the checks: refusing it ends the run there.
    bucket("HEAD")
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;

    let fixture = Fixture::lith_with(|config| {
        config.apigateway_logging_role = stack::LoggingRole::Off;
    });
    assert!(
        fixture.template["Resources"]["Stage"]["Properties"]
            .get("AccessLogSetting")
            .is_none()
    );
    let mut progress = Recorder::answering(true);
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect_err("the bucket is refused");
    assert!(
        matches!(error, DeployError::BucketNotOurs { .. }),
        "{error:?}"
    );
    assert!(
        progress
            .notes()
            .iter()
            .any(|note| note.contains("warning") && note.contains("no access log")),
        "{:?}",
        progress.said
    );
}

/// A stack with an operation running: DescribeStacks says UPDATE_IN_PROGRESS, and
/// CloudFormation refuses a change set meanwhile (an *_IN_PROGRESS status is not a final state;
/// AWS CloudFormation user guide, "Stack status codes"). The deployer stops with Busy before
/// creating or uploading anything.
#[tokio::test]
async fn a_busy_stack_is_refused_before_anything_is_created() {
    let server = MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK)
        .respond_with(stack_in("UPDATE_IN_PROGRESS"))
        .mount(&server)
        .await;
    call("CreateChangeSet")
        .respond_with(change_set_created())
        .expect(0)
        .mount(&server)
        .await;

    let fixture = Fixture::lith();
    let mut progress = Recorder::answering(true);
    let error = deployer(&server)
        .deploy(&fixture.request(), &mut progress)
        .await
        .expect_err("the deploy is refused");

    assert!(
        matches!(&error, DeployError::Busy { status, .. } if status == "UPDATE_IN_PROGRESS"),
        "{error:?}"
    );
    assert_eq!(
        sent(&server).await,
        ["GetCallerIdentity", "DescribeStacks catalog-dev"]
    );
    assert!(progress.questions().is_empty());
}

// ---------------------------------------------------------------------------------------------
// destroy

/// A line of [`sent`] for a REST call (S3, API Gateway: `GET /...`), not an awsQuery action.
fn is_rest_call(line: &str) -> bool {
    let verb = line.split(' ').next().unwrap_or_default();
    verb.chars().all(|c| c.is_ascii_uppercase())
}

async fn mount_stack_to_destroy(server: &MockServer) {
    call("GetCallerIdentity")
        .respond_with(caller_identity())
        .mount(server)
        .await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .expect(1)
        .mount(server)
        .await;
    mount_deployed_resources(server).await;
    call_on("DeleteStack", STACK_ID)
        .respond_with(cfn_ok("DeleteStack", ""))
        .expect(1)
        .mount(server)
        .await;
}

/// The deletion of the stack followed to its end, the AWS way: a deleted stack is still described
/// by its id, with status DELETE_COMPLETE (AWS CloudFormation API reference, DescribeStacks,
/// StackName: "Deleted stacks: You must specify the unique stack ID"), and a resource whose
/// DeletionPolicy is Retain gets a DELETE_SKIPPED event (user guide, "DeletionPolicy attribute").
/// The retained resource is listed; the artifact bucket is kept (no S3 request at all).
#[tokio::test]
async fn destroy_follows_the_deletion_and_lists_the_retained_resources() {
    let server = MockServer::start().await;
    mount_stack_to_destroy(&server).await;
    let timeline = Timeline::new(
        earlier_deploy(),
        vec![
            phase(
                "DELETE_IN_PROGRESS",
                vec![
                    Event::stack("DELETE_IN_PROGRESS", "11:00:00").because("User Initiated"),
                    Event::resource(
                        "AccessLogGroup",
                        "AWS::Logs::LogGroup",
                        "DELETE_SKIPPED",
                        "11:00:01",
                    ),
                    lambda("LithFunction", "DELETE_IN_PROGRESS", "11:00:02"),
                ],
            ),
            phase(
                "DELETE_COMPLETE",
                vec![
                    lambda("LithFunction", "DELETE_COMPLETE", "11:00:05"),
                    Event::resource(
                        "Api",
                        "AWS::ApiGateway::RestApi",
                        "DELETE_COMPLETE",
                        "11:00:06",
                    ),
                    Event::stack("DELETE_COMPLETE", "11:00:07"),
                ],
            ),
        ],
        100,
    );
    timeline.mount(&server).await;

    let mut progress = Recorder::answering(true);
    let destroyed = deployer(&server)
        .destroy(STACK, "dev", &mut progress)
        .await
        .expect("the stack is destroyed");

    assert_eq!(
        destroyed,
        Destroyed::Deleted {
            artifact_bucket: BUCKET.into(),
            retained: vec!["AccessLogGroup".into()],
        }
    );
    assert_eq!(progress.questions().len(), 1);
    assert!(
        progress.questions()[0].contains("4 resources"),
        "{:?}",
        progress.questions()
    );
    assert_eq!(progress.events().len(), timeline.operation_events().len());
    let sent = sent(&server).await;
    assert!(
        !sent.iter().any(|l| is_rest_call(l)),
        "only CloudFormation and STS were called: {sent:#?}"
    );
}

/// The same deletion as an emulator ends it: once the stack is gone, DescribeStacks and
/// DescribeStackEvents answer ValidationError "Stack with id ... does not exist" even by id (the
/// error CloudFormation gives for a stack it does not know, API reference, DescribeStacks). That
/// too is DELETE_COMPLETE; the resource skipped on the way is still listed as retained.
#[tokio::test]
async fn destroy_ends_when_the_stack_no_longer_exists() {
    let server = MockServer::start().await;
    mount_stack_to_destroy(&server).await;
    let timeline = Timeline::new(
        earlier_deploy(),
        vec![
            phase(
                "DELETE_IN_PROGRESS",
                vec![
                    Event::stack("DELETE_IN_PROGRESS", "11:00:00").because("User Initiated"),
                    Event::resource(
                        "AccessLogGroup",
                        "AWS::Logs::LogGroup",
                        "DELETE_SKIPPED",
                        "11:00:01",
                    ),
                ],
            ),
            gone(),
        ],
        100,
    );
    timeline.mount(&server).await;

    let destroyed = deployer(&server)
        .destroy(STACK, "dev", &mut Recorder::answering(true))
        .await
        .expect("the stack is destroyed");

    assert_eq!(
        destroyed,
        Destroyed::Deleted {
            artifact_bucket: BUCKET.into(),
            retained: vec!["AccessLogGroup".into()],
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Status: the alarms' states

/// CloudWatch's DescribeAlarms in the Smithy RPC v2 CBOR protocol the SDK speaks (POST
/// /service/GraniteServiceVersion20100801/operation/DescribeAlarms; the answer a CBOR map with
/// `MetricAlarms`, each with `AlarmName`, `StateValue`, `StateReason` and
/// `StateUpdatedTimestamp`, as the CloudWatch API reference's DescribeAlarms names them).
fn describe_alarms(alarms: &[(&str, &str, &str)]) -> ResponseTemplate {
    let mut encoder = aws_smithy_cbor::Encoder::new(Vec::new());
    encoder.map(1).str("MetricAlarms").array(alarms.len());
    for (name, state, reason) in alarms {
        encoder
            .map(4)
            .str("AlarmName")
            .str(name)
            .str("StateValue")
            .str(state)
            .str("StateReason")
            .str(reason)
            .str("StateUpdatedTimestamp")
            .timestamp(&aws_smithy_types::DateTime::from_secs(1_796_119_200));
    }
    ResponseTemplate::new(200)
        .insert_header("content-type", "application/cbor")
        .insert_header("smithy-protocol", "rpc-v2-cbor")
        .set_body_bytes(encoder.into_writer())
}

/// `status` lists a stack's alarms (from its resources), and the states come from CloudWatch,
/// asked once for all of them by name.
#[tokio::test]
async fn status_lists_the_alarms_and_their_states() {
    let server = MockServer::start().await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    let mut resources = deployed_resources();
    resources.push(resource_xml(
        "ApiLatencyAlarm",
        "AWS::CloudWatch::Alarm",
        "catalog-dev-ApiLatencyAlarm-1A2B3C",
    ));
    resources.push(resource_xml(
        "LithErrorsAlarm",
        "AWS::CloudWatch::Alarm",
        "catalog-dev-LithErrorsAlarm-4D5E6F",
    ));
    call_on("ListStackResources", STACK_ID)
        .respond_with(list_stack_resources(&resources))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path(
            "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
        ))
        .respond_with(describe_alarms(&[
            (
                "catalog-dev-LithErrorsAlarm-4D5E6F",
                "ALARM",
                "Threshold Crossed: 1 datapoint [3.0] was greater than or equal to the threshold (1.0).",
            ),
            (
                "catalog-dev-ApiLatencyAlarm-1A2B3C",
                "OK",
                "Threshold Crossed: no datapoints were received.",
            ),
        ]))
        .expect(1)
        .mount(&server)
        .await;

    let deployer = deployer(&server);
    let summary = deployer.status(STACK).await.unwrap().expect("the stack");
    assert_eq!(
        summary.alarms,
        [
            "catalog-dev-ApiLatencyAlarm-1A2B3C",
            "catalog-dev-LithErrorsAlarm-4D5E6F"
        ]
    );
    let states = deployer.alarm_states(&summary).await.unwrap();
    let seen: Vec<(&str, &str)> = states
        .iter()
        .map(|s| (s.name.as_str(), s.state.as_str()))
        .collect();
    // In the stack's order, whatever order CloudWatch answers in.
    assert_eq!(
        seen,
        [
            ("catalog-dev-ApiLatencyAlarm-1A2B3C", "OK"),
            ("catalog-dev-LithErrorsAlarm-4D5E6F", "ALARM")
        ]
    );
    assert!(states[1].reason.starts_with("Threshold Crossed"));
    assert_eq!(states[1].since.as_deref(), Some("2026-12-01 10:00:00 UTC"));
}

/// Without alarms (dev), CloudWatch is not asked at all.
#[tokio::test]
async fn status_without_alarms_does_not_ask_cloudwatch() {
    let server = MockServer::start().await;
    call_on("DescribeStacks", STACK)
        .respond_with(deployed_stack())
        .mount(&server)
        .await;
    mount_deployed_resources(&server).await;
    let deployer = deployer(&server);
    let summary = deployer.status(STACK).await.unwrap().expect("the stack");
    assert!(summary.alarms.is_empty());
    assert!(deployer.alarm_states(&summary).await.unwrap().is_empty());
    assert!(
        !sent(&server)
            .await
            .iter()
            .any(|call| call.contains("DescribeAlarms")),
        "{:?}",
        sent(&server).await
    );
}
