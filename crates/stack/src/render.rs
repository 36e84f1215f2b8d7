//! CloudFormation rendering of a [`Deployment`]: REST API, authorizer, stage with access logs,
//! functions with their log groups and permissions, and the WAF allow-list.
//!
//! Rendering ends by reading the template back and checking it, so a template in which a
//! protected route is reachable without the authorizer is never produced.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::check::{Violation, check_routes};
use crate::env::EnvConfig;
use crate::logging::FunctionLogging;
use crate::model::{Deployment, FunctionSpec, JANITOR, MethodAuth, Pattern};
use crate::monitoring;
use crate::template::{ApiTemplate, TemplateError};
use routes::{CollectionOp, MetaOp, Operation};

/// The stage's access log line: one JSON object per request, in API Gateway's `$context` variables.
pub const ACCESS_LOG_FORMAT: &str = concat!(
    r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","caller":"$context.identity.caller","#,
    r#""user":"$context.authorizer.claims.cognito:username","requestTime":"$context.requestTime","#,
    r#""httpMethod":"$context.httpMethod","resourcePath":"$context.resourcePath","status":"$context.status","#,
    r#""protocol":"$context.protocol","responseLength":"$context.responseLength","#,
    r#""error":"$context.error.message","wafStatus":"$context.waf.status","latencyMs":"$context.responseLatency"}"#
);

/// API Gateway's own errors (the authorizer's 401, the WAF's 403, Missing Authentication Token,
/// 413, the 5xx of a failed or throttled invocation) carry no CORS headers unless gateway
/// responses add them, and a browser then hides them from the page as network errors. Any origin
/// may read the API without credentials (the functions' rule, in the api crate's `cors` module),
/// so the gateway's errors say the same, `Access-Control-Allow-Origin: *`, through the two
/// class defaults every other response type falls back to. Credentials cannot be granted here:
/// a gateway response cannot pick origins, and the API's callers send tokens in `Authorization`,
/// which needs none.
pub const CORS_GATEWAY_RESPONSES: [&str; 2] = ["DEFAULT_4XX", "DEFAULT_5XX"];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the rendered template does not read back: {0}")]
    ReadBack(#[from] TemplateError),
    #[error("refusing to render: {}", describe(.0))]
    Unsafe(Vec<Violation>),
    #[error("the environment name gives no valid WAF IP set name: {0}")]
    IpSetNames(waf::NameError),
    #[error("two resources would share the logical id {0}; rename a path segment")]
    DuplicateLogicalId(String),
}

fn describe(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// `/api/v0/projects/{name}` -> `ApiV0ProjectsName`; `/{proxy+}` -> `Proxy`; `/` -> `Root`.
pub fn camel(path: &str) -> String {
    let words: String = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if words.is_empty() {
        "Root".to_owned()
    } else {
        words
    }
}

pub fn resource_id(path: &str) -> String {
    format!("Resource{}", camel(path))
}

pub fn method_id(path: &str, http_method: &str) -> String {
    format!(
        "Method{}{}",
        camel(path),
        camel(&http_method.to_ascii_lowercase())
    )
}

pub fn function_id(package: &str) -> String {
    format!("{}Function", camel(package))
}

pub fn code_key_parameter(package: &str) -> String {
    format!("{}CodeKey", camel(package))
}

/// Adds a resource, refusing to overwrite one: two paths must never share a logical id.
pub(crate) fn insert(
    id: String,
    value: Value,
    resources: &mut Map<String, Value>,
) -> Result<(), RenderError> {
    if resources.insert(id.clone(), value).is_some() {
        return Err(RenderError::DuplicateLogicalId(id));
    }
    Ok(())
}

fn tags_list(deployment: &Deployment) -> Value {
    Value::Array(
        deployment
            .config
            .tags
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    )
}

/// FNV-1a: a stable hash (std's hasher may change between Rust releases) for the deployment id.
fn stable_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")[..10].to_owned()
}

/// Renders the template and checks it; the value is ready to write as JSON.
pub fn render(deployment: &Deployment) -> Result<Value, RenderError> {
    let config = &deployment.config;
    let tags = tags_list(deployment);
    let mut resources = Map::new();

    // The API: resources, methods and the authorizer. These alone decide routing, so their text
    // names the deployment: any change redeploys the stage.
    let mut api = Map::new();
    insert(
        "Api".into(),
        json!({
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": format!("catalog-{}", deployment.env_name),
                "Description": format!("Catalog API ({} pattern)", deployment.pattern.name()),
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
                "Tags": tags,
            },
        }),
        &mut resources,
    )?;
    for path in deployment.resource_paths() {
        let (parent, part) = path
            .rsplit_once('/')
            .expect("resource paths start with '/'");
        let parent_id = if parent.is_empty() {
            json!({"Fn::GetAtt": ["Api", "RootResourceId"]})
        } else {
            json!({"Ref": resource_id(parent)})
        };
        insert(
            resource_id(&path),
            json!({
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": parent_id, "PathPart": part},
            }),
            &mut api,
        )?;
    }
    let pool_arns: Vec<&str> = config.user_pools.iter().map(|p| p.arn()).collect();
    insert(
        "CognitoAuthorizer".into(),
        json!({
            "Type": "AWS::ApiGateway::Authorizer",
            "Properties": {
                "Name": "cognito",
                "RestApiId": {"Ref": "Api"},
                "Type": "COGNITO_USER_POOLS",
                "IdentitySource": "method.request.header.Authorization",
                "ProviderARNs": pool_arns,
            },
        }),
        &mut api,
    )?;
    // The deployment is made once every method and gateway response exists.
    let mut deployed_ids = Vec::new();
    for method in &deployment.methods {
        let id = method_id(&method.path, method.http_method);
        let resource = if method.path == "/" {
            json!({"Fn::GetAtt": ["Api", "RootResourceId"]})
        } else {
            json!({"Ref": resource_id(&method.path)})
        };
        let mut properties = json!({
            "RestApiId": {"Ref": "Api"},
            "ResourceId": resource,
            "HttpMethod": method.http_method,
            "AuthorizationType": "NONE",
            "Integration": {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {"Fn::Sub": format!(
                    "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations",
                    function_id(method.function)
                )},
            },
        });
        if method.auth == MethodAuth::Cognito {
            properties["AuthorizationType"] = json!("COGNITO_USER_POOLS");
            properties["AuthorizerId"] = json!({"Ref": "CognitoAuthorizer"});
        }
        insert(
            id.clone(),
            json!({"Type": "AWS::ApiGateway::Method", "Properties": properties}),
            &mut api,
        )?;
        deployed_ids.push(id);
    }
    for response_type in CORS_GATEWAY_RESPONSES {
        let id = format!(
            "GatewayResponse{}",
            camel(&response_type.to_ascii_lowercase())
        );
        insert(
            id.clone(),
            json!({
                "Type": "AWS::ApiGateway::GatewayResponse",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResponseType": response_type,
                    "ResponseParameters": {
                        "gatewayresponse.header.Access-Control-Allow-Origin": "'*'",
                    },
                },
            }),
            &mut api,
        )?;
        deployed_ids.push(id);
    }
    let deployment_id = format!(
        "Deployment{}",
        stable_hash(&Value::Object(api.clone()).to_string())
    );
    for (id, value) in api {
        insert(id, value, &mut resources)?;
    }
    insert(
        deployment_id.clone(),
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": deployed_ids,
            "Properties": {"RestApiId": {"Ref": "Api"}, "Description": "Named after a hash of the API: a changed API is a new deployment"},
        }),
        &mut resources,
    )?;
    let mut stage = json!({
        "Type": "AWS::ApiGateway::Stage",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "DeploymentId": {"Ref": deployment_id},
            "StageName": config.stage,
            "Tags": tags,
        },
    });
    // Access logging needs the account's logging role; `apigateway_logging_role = "off"` goes
    // without both.
    if config.access_logging() {
        insert(
            "AccessLogGroup".into(),
            json!({
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": format!("/aws/apigateway/catalog-{}-access", deployment.env_name),
                    "RetentionInDays": config.log_retention_days,
                    "Tags": tags,
                },
            }),
            &mut resources,
        )?;
        stage["Properties"]["AccessLogSetting"] = json!({
            "DestinationArn": {"Fn::GetAtt": ["AccessLogGroup", "Arn"]},
            "Format": ACCESS_LOG_FORMAT,
        });
    }
    if config.tracing {
        stage["Properties"]["TracingEnabled"] = json!(true);
    }
    insert("Stage".into(), stage, &mut resources)?;

    // The catalog's data, shared by every function of either pattern.
    render_catalog_table(deployment, &tags, &mut resources)?;

    // Functions, each with a role of its own that may touch only what its routes need.
    let mut parameters = Map::new();
    parameters.insert(
        "ArtifactBucket".into(),
        json!({"Type": "String", "Description": "S3 bucket holding the bootstrap.zip packages"}),
    );
    for function in &deployment.functions {
        let groups: Vec<&str> = function.groups.iter().map(|g| g.name()).collect();
        let role = function_role(config, function, &tags, &mut resources)?;
        let id = lambda_function(
            deployment,
            function,
            &Settings {
                description: format!(
                    "Catalog API: {} ({} pattern)",
                    groups.join(", "),
                    deployment.pattern.name()
                ),
                role,
                memory_mb: config.memory_mb,
                timeout_seconds: config.timeout_seconds,
                environment: json!({
                    "CORS_CREDENTIALED_ORIGINS": config.cors_credentialed_origins.join(","),
                    "STORE_URL": {"Fn::Sub": format!("dynamodb://${{{CATALOG_TABLE}}}")},
                }),
                reserved_concurrency: config.reserved_concurrency,
                in_vpc: config.vpc.is_some(),
            },
            &tags,
            &mut parameters,
            &mut resources,
        )?;
        insert(
            format!("{}Permission", camel(function.package)),
            json!({
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": {"Fn::GetAtt": [id, "Arn"]},
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*/*"},
                },
            }),
            &mut resources,
        )?;
    }

    // The WAF: blocks by default, allows the addresses in the environment's IP sets.
    let names = deployment.ip_set_names().map_err(RenderError::IpSetNames)?;
    let (v4_name, v6_name) = (names.v4().to_owned(), names.v6().to_owned());
    let visibility = |metric: &str| json!({"CloudWatchMetricsEnabled": true, "MetricName": metric, "SampledRequestsEnabled": true});
    for (id, name, version) in [("IpSetV4", &v4_name, "IPV4"), ("IpSetV6", &v6_name, "IPV6")] {
        insert(
            id.into(),
            json!({
                "Type": "AWS::WAFv2::IPSet",
                "Properties": {
                    "Name": name,
                    "Description": "Developer addresses allowed in, managed by cargo xtask ip",
                    "Scope": "REGIONAL",
                    "IPAddressVersion": version,
                    "Addresses": [],
                    "Tags": tags,
                },
            }),
            &mut resources,
        )?;
    }
    let rule = |name: &str, priority: u32, ip_set: &str| {
        json!({
            "Name": name,
            "Priority": priority,
            "Action": {"Allow": {}},
            "Statement": {"IPSetReferenceStatement": {"Arn": {"Fn::GetAtt": [ip_set, "Arn"]}}},
            "VisibilityConfig": visibility(&camel(name)),
        })
    };
    insert(
        "WebAcl".into(),
        json!({
            "Type": "AWS::WAFv2::WebACL",
            "Properties": {
                "Name": format!("catalog-{}", deployment.env_name),
                "Scope": "REGIONAL",
                "DefaultAction": {"Block": {}},
                "Rules": [rule("allow-ipv4", 0, "IpSetV4"), rule("allow-ipv6", 1, "IpSetV6")],
                "VisibilityConfig": visibility("CatalogWebAcl"),
                "Tags": tags,
            },
        }),
        &mut resources,
    )?;
    insert(
        "WebAclAssociation".into(),
        json!({
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Properties": {
                "ResourceArn": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${Stage}"},
                "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]},
            },
        }),
        &mut resources,
    )?;

    render_janitor(deployment, &tags, &mut parameters, &mut resources)?;
    let mut outputs = Map::new();
    if let Some(alarms) = &config.alarms {
        monitoring::render(deployment, alarms, &tags, &mut resources, &mut outputs)?;
    }

    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "Catalog API, {} pattern, {} environment. Rendered by `cargo xtask template`; do not edit by hand.",
            deployment.pattern.name(), deployment.env_name
        ),
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {
            "ApiUrl": {"Value": {"Fn::Sub": format!("https://${{Api}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{}", config.stage)}},
            "StageName": {"Value": config.stage},
            "WebAclArn": {"Value": {"Fn::GetAtt": ["WebAcl", "Arn"]}},
            "IpSetV4Arn": {"Value": {"Fn::GetAtt": ["IpSetV4", "Arn"]}},
            "IpSetV6Arn": {"Value": {"Fn::GetAtt": ["IpSetV6", "Arn"]}},
            "AllowListTable": {"Value": {"Ref": ALLOW_LIST_TABLE}},
            "CatalogTable": {"Value": {"Ref": CATALOG_TABLE}},
            "JanitorFunction": {"Value": {"Ref": function_id(JANITOR)}},
        },
    });
    let mut template = template;
    template["Outputs"]
        .as_object_mut()
        .expect("the outputs are an object")
        .extend(outputs);

    let read = ApiTemplate::read(&template)?;
    let violations = check_routes(&read);
    if !violations.is_empty() {
        return Err(RenderError::Unsafe(violations));
    }
    Ok(template)
}

/// The account-level stack that gives API Gateway its CloudWatch Logs role in a region (stage
/// access logs need one, and a new account has none). Both resources are retained when the stack
/// is deleted: every API of the account and region shares the setting.
pub fn logging_role_template() -> Value {
    let retained = |kind: &str, properties: Value| json!({"Type": kind, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "Properties": properties});
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "API Gateway's account-level CloudWatch Logs role, which stage access logs need. Shared by every API of the account and region, so kept when the stack is deleted. Rendered by `cargo xtask template`; do not edit by hand.",
        "Resources": {
            "CloudWatchRole": retained("AWS::IAM::Role", json!({
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}],
                },
                "ManagedPolicyArns": [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}],
            })),
            "Account": retained("AWS::ApiGateway::Account", json!({
                "CloudWatchRoleArn": {"Fn::GetAtt": ["CloudWatchRole", "Arn"]},
            })),
        },
        "Outputs": {
            "RoleArn": {"Value": {"Fn::GetAtt": ["CloudWatchRole", "Arn"]}},
        },
    })
}

/// Where the logging role's template is kept beside the API's (for review and cfn-lint).
pub fn logging_role_template_file(deploy_dir: &Path) -> PathBuf {
    deploy_dir
        .join("templates")
        .join("account-apigateway-logging.json")
}

/// The logical id of the catalog's table.
pub const CATALOG_TABLE: &str = "CatalogTable";

/// The catalog's table: one partition per collection, items sorted by name (the layout is the
/// DynamoDB store's, crates/store-dynamodb/src/item.rs). On-demand billing, point-in-time
/// recovery always; where the environment keeps its data (`retain_catalog_table`), deletion
/// protection and Retain, so neither a stack deletion nor a replacement can lose it.
fn render_catalog_table(
    deployment: &Deployment,
    tags: &Value,
    resources: &mut Map<String, Value>,
) -> Result<(), RenderError> {
    let retain = deployment.config.retain_catalog_table;
    let policy = if retain { "Retain" } else { "Delete" };
    insert(
        CATALOG_TABLE.into(),
        json!({
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": policy,
            "UpdateReplacePolicy": policy,
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": "collection", "AttributeType": "S"},
                    {"AttributeName": "name", "AttributeType": "S"},
                ],
                "KeySchema": [
                    {"AttributeName": "collection", "KeyType": "HASH"},
                    {"AttributeName": "name", "KeyType": "RANGE"},
                ],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
                "DeletionProtectionEnabled": retain,
                "Tags": tags,
            },
        }),
        resources,
    )
}

/// A function's own role: its logs, and of the catalog's table only what its routes do there
/// ([`item_action`]). Item actions are granted on the routes' own collections' partitions
/// (`dynamodb:LeadingKeys`); every one of them names a partition, and Scan, which names none, is
/// never granted (under `ForAllValues`, a request without the key would match). The health check
/// describes the table. A single-purpose function gets its one route's action: a GET function
/// reads, a create function writes its own collection. Returns the role's logical id.
fn function_role(
    config: &EnvConfig,
    function: &FunctionSpec,
    tags: &Value,
    resources: &mut Map<String, Value>,
) -> Result<String, RenderError> {
    let table_arn = json!({"Fn::GetAtt": [CATALOG_TABLE, "Arn"]});
    let mut collections: Vec<&str> = Vec::new();
    let mut needed: Vec<&str> = Vec::new();
    for route in &function.routes {
        if let (Operation::Collection(collection, _), Some(action)) =
            (route.operation, item_action(route.operation))
        {
            if !collections.contains(&collection.name()) {
                collections.push(collection.name());
            }
            needed.push(action);
        }
    }
    let mut statements = Vec::new();
    if !collections.is_empty() {
        let actions: Vec<&str> = ITEM_ACTIONS
            .into_iter()
            .filter(|action| needed.contains(action))
            .collect();
        statements.push(json!({
            "Sid": "ItsCollections",
            "Effect": "Allow",
            "Action": actions,
            "Resource": table_arn,
            "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": collections},
                "Null": {"dynamodb:LeadingKeys": "false"},
            },
        }));
    }
    if function
        .routes
        .iter()
        .any(|route| route.operation == Operation::Meta(MetaOp::Health))
    {
        statements.push(json!({
            "Sid": "HealthCheck",
            "Effect": "Allow",
            "Action": ["dynamodb:DescribeTable"],
            "Resource": table_arn,
        }));
    }
    let id = format!("{}Role", camel(function.package));
    let managed = managed_policies(config, config.vpc.is_some());
    insert(
        id.clone(),
        lambda_role("catalog-table", statements, &managed, tags),
        resources,
    )?;
    Ok(id)
}

/// The item actions a role may list, in the order its statement lists them.
const ITEM_ACTIONS: [&str; 4] = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
];

/// The one item action the DynamoDB store (crates/store-dynamodb) makes for a collection
/// operation: a page is a Query of the collection's partition, a create a conditional PutItem,
/// a get a GetItem, a delete a conditional DeleteItem. Meta operations make none.
fn item_action(operation: Operation) -> Option<&'static str> {
    match operation {
        Operation::Collection(_, CollectionOp::List) => Some("dynamodb:Query"),
        Operation::Collection(_, CollectionOp::Create) => Some("dynamodb:PutItem"),
        Operation::Collection(_, CollectionOp::Get) => Some("dynamodb:GetItem"),
        Operation::Collection(_, CollectionOp::Delete) => Some("dynamodb:DeleteItem"),
        Operation::Meta(_) => None,
    }
}

/// AWS managed policies a function's role needs beyond its logs: the network interfaces of VPC
/// attachment (AWSLambdaVPCAccessExecutionRole) and X-Ray's segments (AWSXRayDaemonWriteAccess).
fn managed_policies(config: &EnvConfig, in_vpc: bool) -> Vec<&'static str> {
    let mut managed = Vec::new();
    if in_vpc {
        managed.push("service-role/AWSLambdaVPCAccessExecutionRole");
    }
    if config.tracing {
        managed.push("AWSXRayDaemonWriteAccess");
    }
    managed
}

/// An execution role for a Lambda function: its logs (AWSLambdaBasicExecutionRole), the managed
/// policies named in `managed` (paths under `arn:aws:iam::aws:policy/`) and one inline policy of
/// `statements`.
fn lambda_role(policy_name: &str, statements: Vec<Value>, managed: &[&str], tags: &Value) -> Value {
    let managed: Vec<Value> = std::iter::once("service-role/AWSLambdaBasicExecutionRole")
        .chain(managed.iter().copied())
        .map(|policy| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::aws:policy/{policy}")}))
        .collect();
    let mut role = json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            },
            "ManagedPolicyArns": managed,
            "Tags": tags,
        },
    });
    // A function that needs nothing beyond its logs (a single-purpose meta function) gets no
    // inline policy: IAM refuses a policy document without statements.
    if !statements.is_empty() {
        role["Properties"]["Policies"] = json!([{
            "PolicyName": policy_name,
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        }]);
    }
    role
}

/// What differs between the functions of a template.
struct Settings {
    description: String,
    /// Logical id of the function's IAM role.
    role: String,
    memory_mb: u32,
    timeout_seconds: u32,
    /// The function's environment variables (a JSON object).
    environment: Value,
    /// `ReservedConcurrentExecutions`, when the environment reserves any.
    reserved_concurrency: Option<u32>,
    /// Attached to the environment's `vpc` (its role then manages the network interfaces).
    in_vpc: bool,
}

/// A function from its package in the artifact bucket (its S3 key a parameter), with its log
/// group, JSON logs, and the environment's architecture; returns its logical id.
fn lambda_function(
    deployment: &Deployment,
    function: &FunctionSpec,
    settings: &Settings,
    tags: &Value,
    parameters: &mut Map<String, Value>,
    resources: &mut Map<String, Value>,
) -> Result<String, RenderError> {
    let id = function_id(function.package);
    let log_group = format!("{}LogGroup", camel(function.package));
    let code_key = code_key_parameter(function.package);
    parameters.insert(
        code_key.clone(),
        json!({"Type": "String", "Description": format!("S3 key of the {} package (content-addressed)", function.package)}),
    );
    insert(
        log_group.clone(),
        json!({
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": format!("/aws/lambda/{}", function.function_name),
                "RetentionInDays": deployment.config.log_retention_days,
                "Tags": tags,
            },
        }),
        resources,
    )?;
    let groups: Vec<&str> = function.groups.iter().map(|g| g.name()).collect();
    let mut function_resource = json!({
            "Type": "AWS::Lambda::Function",
            "Metadata": {"catalog": {"package": function.package, "groups": groups}},
            "Properties": {
                "FunctionName": function.function_name,
                "Description": settings.description,
                "Runtime": "provided.al2023",
                "Handler": "bootstrap",
                "Architectures": [deployment.config.architecture.as_str()],
                "MemorySize": settings.memory_mb,
                "Timeout": settings.timeout_seconds,
                "Role": {"Fn::GetAtt": [settings.role, "Arn"]},
                "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": code_key}},
                "LoggingConfig": FunctionLogging::json(deployment.config.log_level)
                    .to_property(json!({"Ref": log_group})),
                "Environment": {"Variables": settings.environment},
                "Tags": tags,
            },
    });
    let properties = &mut function_resource["Properties"];
    if let Some(reserved) = settings.reserved_concurrency {
        properties["ReservedConcurrentExecutions"] = json!(reserved);
    }
    if let (true, Some(vpc)) = (settings.in_vpc, &deployment.config.vpc) {
        properties["VpcConfig"] = json!({
            "SubnetIds": vpc.subnet_ids,
            "SecurityGroupIds": vpc.security_group_ids,
        });
    }
    if deployment.config.tracing {
        properties["TracingConfig"] = json!({"Mode": "Active"});
    }
    insert(id.clone(), function_resource, resources)?;
    Ok(id)
}

/// The logical id of the allow-list's entries table.
pub const ALLOW_LIST_TABLE: &str = "AllowListTable";

/// The allow-list janitor: the entries' table (expiry, author and note of each CIDR the tool
/// allowed), the function that flushes expired entries from the IP sets on the environment's
/// schedule, and a role that may read and update only those two IP sets and that table.
fn render_janitor(
    deployment: &Deployment,
    tags: &Value,
    parameters: &mut Map<String, Value>,
    resources: &mut Map<String, Value>,
) -> Result<(), RenderError> {
    let config = &deployment.config;
    let janitor = &deployment.janitor;
    insert(
        ALLOW_LIST_TABLE.into(),
        json!({
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "cidr", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "cidr", "KeyType": "HASH"}],
                "Tags": tags,
            },
        }),
        resources,
    )?;
    let ip_set_arns =
        json!([{"Fn::GetAtt": ["IpSetV4", "Arn"]}, {"Fn::GetAtt": ["IpSetV6", "Arn"]}]);
    insert(
        "JanitorRole".into(),
        lambda_role(
            "allow-list",
            vec![
                json!({"Sid": "TheTwoIpSets", "Effect": "Allow", "Action": ["wafv2:GetIPSet", "wafv2:UpdateIPSet"], "Resource": ip_set_arns}),
                json!({"Sid": "TheEntriesTable", "Effect": "Allow", "Action": ["dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem"], "Resource": {"Fn::GetAtt": [ALLOW_LIST_TABLE, "Arn"]}}),
            ],
            &managed_policies(config, false),
            tags,
        ),
        resources,
    )?;
    let id = lambda_function(
        deployment,
        janitor,
        &Settings {
            description: format!(
                "Catalog allow-list janitor: flushes expired entries from the WAF IP sets, {}",
                config.janitor_schedule
            ),
            role: "JanitorRole".into(),
            memory_mb: 128,
            timeout_seconds: 60,
            environment: json!({
                "ALLOW_LIST_IPV4_SET": {"Ref": "IpSetV4"},
                "ALLOW_LIST_IPV6_SET": {"Ref": "IpSetV6"},
                "ALLOW_LIST_TABLE": {"Ref": ALLOW_LIST_TABLE},
            }),
            // One run at a time is all a schedule makes; the API's reservation is not its own.
            reserved_concurrency: None,
            // It calls WAF's API, which has no VPC endpoint, and nothing in the network: in
            // private subnets without a NAT it could not work, and it gains nothing there.
            in_vpc: false,
        },
        tags,
        parameters,
        resources,
    )?;
    insert(
        "JanitorSchedule".into(),
        json!({
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "Runs the allow-list janitor",
                "ScheduleExpression": config.janitor_schedule,
                "State": "ENABLED",
                "Targets": [{"Id": "janitor", "Arn": {"Fn::GetAtt": [id, "Arn"]}}],
            },
        }),
        resources,
    )?;
    insert(
        "JanitorPermission".into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [id, "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["JanitorSchedule", "Arn"]},
            },
        }),
        resources,
    )
}

/// The template as it is written to disk: pretty JSON with a final newline.
pub fn to_file_text(template: &Value) -> String {
    let mut text = serde_json::to_string_pretty(template).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Where the rendered template of an environment and pattern is kept.
pub fn template_file(deploy_dir: &Path, env_name: &str, pattern: Pattern) -> PathBuf {
    deploy_dir
        .join("templates")
        .join(format!("{env_name}-{}.json", pattern.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_camel_case_of_the_path() {
        assert_eq!(
            resource_id("/api/v0/projects/{name}"),
            "ResourceApiV0ProjectsName"
        );
        assert_eq!(resource_id("/{proxy+}"), "ResourceProxy");
        assert_eq!(method_id("/", "ANY"), "MethodRootAny");
        assert_eq!(function_id("technologies"), "TechnologiesFunction");
    }

    #[test]
    fn the_hash_is_fnv_1a_and_stays_so() {
        // The deployment's logical id is named by this hash: were it to change between versions of
        // this tool, every stack would get a new deployment on its next update. Pinned to the
        // published FNV-1a 64-bit test vectors (Fowler, Noll, Vo: "" -> cbf29ce484222325,
        // "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8), first ten hex digits.
        assert_eq!(stable_hash(""), "cbf29ce484");
        assert_eq!(stable_hash("a"), "af63dc4c86");
        assert_eq!(stable_hash("foobar"), "85944171f7");
        assert_ne!(stable_hash("catalog"), stable_hash("catalogue"));
    }
}
