//! The AWS deployment end to end, against moto's server with the project's extensions (what
//! `cargo xtask moto` runs): deploy fat, deploy fat again (no changes), deploy lith over it in the
//! same stack, destroy; after each step the AWS SDK sees what the template declares.
//!
//! What moto lacks and the extensions in xtask/moto add (test-harness emulation, not AWS
//! behaviour): CloudFormation models for AWS::WAFv2::IPSet, WebACL and WebACLAssociation,
//! AWS::ApiGateway::Authorizer, Stage and Account (built on moto's own WAFv2 and API Gateway
//! backends, so the SDK sees them); change sets that create resources in DependsOn order and leave
//! the stack's outputs, parameters and tags up to date; and GetBucketVersioning with AWS's XML
//! root. moto keeps no per-resource stack events, so the event display and rollbacks are tested
//! with wiremock in crates/deployer instead.

use std::collections::BTreeSet;
use std::time::Duration;

use deployer::{DeployRequest, Deployed, Deployer, Destroyed, TerminalProgress};
use e2e::moto::Moto;
use packaging::{Pattern, Workspace, functions_of};
use stack::{Deployment, EnvConfig};

const REGION: &str = "eu-west-1";

/// The `env` environment's deployment of `pattern`, rendered, with its packages for this
/// machine's architecture (the ones `cargo xtask test` built), as `cargo xtask deploy --target aws`
/// does.
fn deploy_request(
    env: &str,
    pattern: Pattern,
) -> (Deployment, serde_json::Value, Vec<packaging::Artifact>) {
    let workspace = Workspace::discover().unwrap();
    let mut config = EnvConfig::load(&workspace.deploy_dir(), env).unwrap();
    let native = packaging::host_architecture().unwrap();
    config.architecture = native;
    let deployment = Deployment::new(pattern, env, config);
    let template = stack::render(&deployment).unwrap();
    let artifacts = functions_of(&[pattern])
        .into_iter()
        .map(|function| {
            packaging::read_artifact(&e2e::lambda_dir(), function, native)
                .unwrap_or_else(|e| panic!("{e} (`cargo xtask test` builds the packages first)"))
        })
        .collect();
    (deployment, template, artifacts)
}

async fn deploy(deployer: &Deployer, pattern: Pattern) -> Deployed {
    deploy_env(deployer, "dev", pattern).await
}

async fn deploy_env(deployer: &Deployer, env: &str, pattern: Pattern) -> Deployed {
    let (deployment, template, artifacts) = deploy_request(env, pattern);
    let request = DeployRequest {
        deployment: &deployment,
        template: &template,
        artifacts: &artifacts,
    };
    let mut progress = TerminalProgress::new(true);
    deployer
        .deploy(&request, &mut progress)
        .await
        .unwrap_or_else(|e| panic!("deploying {}: {e}", pattern.name()))
}

async fn function_names(lambda: &aws_sdk_lambda::Client) -> BTreeSet<String> {
    lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .filter_map(|f| f.function_name().map(str::to_owned))
        .collect()
}

/// What API Gateway has: `METHOD path -> authorization type`, for every method of the one API.
async fn role_names(iam: &aws_sdk_iam::Client) -> Vec<String> {
    iam.list_roles()
        .send()
        .await
        .unwrap()
        .roles()
        .iter()
        .map(|r| r.role_name().to_owned())
        .collect()
}

/// One role per function, so that each may do only what its routes need.
fn assert_roles(roles: &[String], expected: &[&str]) {
    for role in expected {
        assert!(
            roles.iter().any(|r| r.contains(role)),
            "{role} among the functions' roles: {roles:?}"
        );
    }
}

/// Each of `expected` ("METHOD path -> authorization") is among the API's methods.
fn assert_methods(methods: &BTreeSet<String>, expected: &[&str]) {
    for method in expected {
        assert!(methods.contains(*method), "{method} in {methods:#?}");
    }
}

async fn methods(apigw: &aws_sdk_apigateway::Client) -> BTreeSet<String> {
    let apis = apigw.get_rest_apis().send().await.unwrap();
    let [api] = apis.items() else {
        panic!("expected one REST API, found {:?}", apis.items());
    };
    let resources = apigw
        .get_resources()
        .rest_api_id(api.id().unwrap())
        .limit(500)
        .send()
        .await
        .unwrap();
    let mut methods = BTreeSet::new();
    for resource in resources.items() {
        for (verb, _) in resource.resource_methods().into_iter().flatten() {
            let method = apigw
                .get_method()
                .rest_api_id(api.id().unwrap())
                .resource_id(resource.id().unwrap())
                .http_method(verb)
                .send()
                .await
                .unwrap();
            methods.insert(format!(
                "{verb} {} -> {}",
                resource.path().unwrap(),
                method.authorization_type().unwrap_or("?")
            ));
        }
    }
    methods
}

/// One environment, one stack, whatever the pattern: fat, the same again (no change), lith,
/// single and fat once more each update it in place; destroying it leaves no function. (moto
/// re-creates a resource an earlier update removed only with the harness's extension,
/// xtask/moto/catalog_moto/changeset.py.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stack_takes_fat_then_lith_single_and_fat_again_then_is_destroyed() {
    let moto = Moto::start().await;
    let session = moto.session(REGION);
    let deployer = Deployer::new(session.clone()).poll_every(Duration::from_millis(50));
    let lambda = aws_sdk_lambda::Client::new(&session.config);
    let apigw = aws_sdk_apigateway::Client::new(&session.config);
    let iam = aws_sdk_iam::Client::new(&session.config);
    let logs = aws_sdk_cloudwatchlogs::Client::new(&session.config);

    // Fat: one function per group, each protected route behind the Cognito authorizer.
    let Deployed::Changed(fat) = deploy(&deployer, Pattern::Fat).await else {
        panic!("the first deploy changed nothing");
    };
    assert_eq!(fat.status, "CREATE_COMPLETE");
    assert_eq!(fat.pattern.as_deref(), Some("fat"));
    let url = fat.url.clone().expect("an invoke URL");
    assert!(
        url.starts_with("https://") && url.ends_with(".execute-api.eu-west-1.amazonaws.com/dev"),
        "{url}"
    );
    let fat_functions: BTreeSet<String> = [
        "catalog-dev-janitor",
        "catalog-dev-meta",
        "catalog-dev-projects",
        "catalog-dev-technologies",
    ]
    .map(String::from)
    .into();
    assert_eq!(function_names(&lambda).await, fat_functions);
    assert_methods(
        &methods(&apigw).await,
        &[
            "POST /api/v0/projects -> COGNITO_USER_POOLS",
            "DELETE /api/v0/projects/{name} -> COGNITO_USER_POOLS",
            "POST /api/v0/technologies -> COGNITO_USER_POOLS",
            "DELETE /api/v0/technologies/{name} -> COGNITO_USER_POOLS",
            "GET /api/v0/projects -> NONE",
            "ANY /api/v0/projects/{name}/{proxy+} -> NONE",
            "ANY /{proxy+} -> NONE",
        ],
    );
    let roles = role_names(&iam).await;
    // One role per function, so that each may touch only its own collection's partition.
    assert_roles(&roles, &["ProjectsRole", "TechnologiesRole", "MetaRole"]);
    let groups: BTreeSet<String> = logs
        .describe_log_groups()
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name().map(str::to_owned))
        .collect();
    for group in [
        "/aws/lambda/catalog-dev-projects",
        "/aws/lambda/catalog-dev-meta",
        "/aws/apigateway/catalog-dev-access",
    ] {
        assert!(groups.contains(group), "{group} in {groups:?}");
    }
    let account = apigw.get_account().send().await.unwrap();
    assert!(
        account.cloudwatch_role_arn().is_some(),
        "the deploy set up API Gateway's logging role"
    );

    // The same again: nothing to do.
    assert!(
        matches!(
            deploy(&deployer, Pattern::Fat).await,
            Deployed::NoChanges(_)
        ),
        "an identical deploy is no change"
    );

    // Lith over it: the same stack, only the lith function left.
    let Deployed::Changed(lith) = deploy(&deployer, Pattern::Lith).await else {
        panic!("switching to lith changed nothing");
    };
    assert_eq!(lith.id, fat.id, "the same stack, updated");
    assert_eq!(lith.status, "UPDATE_COMPLETE");
    assert_eq!(lith.pattern.as_deref(), Some("lith"));
    let native = packaging::host_architecture().unwrap();
    assert_eq!(lith.architecture.as_deref(), Some(native.as_str()));
    assert_eq!(
        function_names(&lambda).await,
        BTreeSet::from([
            "catalog-dev-janitor".to_owned(),
            "catalog-dev-lith".to_owned()
        ])
    );
    let lith_methods = methods(&apigw).await;
    assert!(lith_methods.contains("DELETE /api/v0/projects/{name} -> COGNITO_USER_POOLS"));
    assert!(
        !lith_methods.iter().any(|m| m.contains("{name}/{proxy+}")),
        "the fat catch-alls are gone: {lith_methods:#?}"
    );

    // Single over it: the same stack, one function per route and the meta function for the
    // catch-alls, each with its own role.
    let Deployed::Changed(single) = deploy(&deployer, Pattern::Single).await else {
        panic!("switching to single changed nothing");
    };
    assert_eq!(single.id, fat.id, "the same stack, updated");
    assert_eq!(single.status, "UPDATE_COMPLETE");
    assert_eq!(single.pattern.as_deref(), Some("single"));
    let single_functions: BTreeSet<String> = Pattern::Single
        .packages()
        .iter()
        .map(|package| format!("catalog-dev-{package}"))
        .collect();
    assert_eq!(single_functions.len(), routes::ROUTES.len() + 2);
    assert_eq!(function_names(&lambda).await, single_functions);
    assert_methods(
        &methods(&apigw).await,
        &[
            "POST /api/v0/projects -> COGNITO_USER_POOLS",
            "DELETE /api/v0/technologies/{name} -> COGNITO_USER_POOLS",
            "ANY /api/v0/projects/{name}/{proxy+} -> NONE",
            "ANY /{proxy+} -> NONE",
        ],
    );
    let roles = role_names(&iam).await;
    assert_roles(
        &roles,
        &["GetProjectRole", "CreateTechnologyRole", "HealthRole"],
    );

    // And back to fat: the same stack, the route functions replaced by the groups' again.
    let Deployed::Changed(fat_again) = deploy(&deployer, Pattern::Fat).await else {
        panic!("switching back to fat changed nothing");
    };
    assert_eq!(fat_again.id, fat.id, "the same stack, updated");
    assert_eq!(fat_again.status, "UPDATE_COMPLETE");
    assert_eq!(function_names(&lambda).await, fat_functions);

    // Destroy: no function left; the artifact bucket stays.
    let mut progress = TerminalProgress::new(true);
    let destroyed = deployer
        .destroy("catalog-dev", "dev", &mut progress)
        .await
        .unwrap();
    let Destroyed::Deleted {
        artifact_bucket, ..
    } = destroyed
    else {
        panic!("destroy deleted nothing: {destroyed:?}");
    };
    assert_eq!(artifact_bucket, "catalog-artifacts-123456789012-eu-west-1");
    assert!(function_names(&lambda).await.is_empty());
    assert!(deployer.status("catalog-dev").await.unwrap().is_none());
}

/// prod turns on what dev leaves off (alarms with their topic and dashboard, X-Ray tracing, the
/// logging role made by the deploy) and keeps its table: it deploys like dev, every resource the
/// template declares is made, and destroying it keeps the table. The alarms are made by the test
/// harness's AWS::CloudWatch::Alarm model (xtask/moto: moto 5.2.5 has none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_with_alarms_tracing_and_the_logging_role_deploys_like_dev() {
    let moto = Moto::start().await;
    let session = moto.session(REGION);
    let deployer = Deployer::new(session.clone()).poll_every(Duration::from_millis(50));
    let apigw = aws_sdk_apigateway::Client::new(&session.config);
    let cfn = aws_sdk_cloudformation::Client::new(&session.config);

    let Deployed::Changed(prod) = deploy_env(&deployer, "prod", Pattern::Fat).await else {
        panic!("the first prod deploy changed nothing");
    };
    assert_eq!(prod.status, "CREATE_COMPLETE");
    let account = apigw.get_account().send().await.unwrap();
    assert!(
        account.cloudwatch_role_arn().is_some(),
        "apigateway_logging_role = \"create\" made the account's role without asking"
    );

    let (_, template, _) = deploy_request("prod", Pattern::Fat);
    let declared: BTreeSet<(String, String)> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, r)| (id.clone(), r["Type"].as_str().unwrap().to_owned()))
        .collect();
    let made: BTreeSet<(String, String)> = cfn
        .describe_stack_resources()
        .stack_name("catalog-prod")
        .send()
        .await
        .unwrap()
        .stack_resources()
        .iter()
        .filter(|r| r.physical_resource_id().is_some_and(|id| !id.is_empty()))
        .map(|r| {
            (
                r.logical_resource_id().unwrap().to_owned(),
                r.resource_type().unwrap().to_owned(),
            )
        })
        .collect();
    for kind in [
        "AWS::SNS::Topic",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    ] {
        let of_kind = |set: &BTreeSet<(String, String)>| -> Vec<String> {
            set.iter()
                .filter(|(_, k)| k == kind)
                .map(|(id, _)| id.clone())
                .collect()
        };
        assert!(!of_kind(&declared).is_empty(), "prod declares {kind}");
        assert_eq!(of_kind(&made), of_kind(&declared), "{kind}");
    }
}
