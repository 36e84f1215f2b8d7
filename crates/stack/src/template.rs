//! Reads a rendered template back into what API Gateway, Lambda and WAF would make of it.
//!
//! The local stack serves exactly this reading, and the protection check runs on it, so both see
//! the file AWS would get rather than the model it came from. The reader understands the forms
//! the renderer writes (and CloudFormation accepts); anything else is an error, not a guess.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::logging::FunctionLogging;

/// A REST API as its template declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiTemplate {
    pub stage: String,
    /// The stage's access log format (`$context` variables), when access logging is on.
    pub access_log_format: Option<String>,
    /// Every resource with its full path (`/`, `/api/v0/projects/{name}`, `/{proxy+}`).
    pub resources: Vec<ApiResource>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, FunctionTemplate>,
    pub waf: Option<WebAcl>,
    /// What the API adds to the errors it makes itself, by response type (`DEFAULT_4XX`, ...).
    pub gateway_responses: BTreeMap<String, GatewayResponse>,
}

/// An `AWS::ApiGateway::GatewayResponse`: the status and headers API Gateway gives one type of
/// its own errors (the authorizer's 401, the WAF's 403, Missing Authentication Token, 5xx, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayResponse {
    /// Replaces the error's status when set (for a `DEFAULT_*` type: every error of its class).
    pub status_code: Option<u16>,
    /// Response headers, in the template's order.
    pub headers: Vec<(String, HeaderValueSource)>,
}

/// Where a gateway response header's value comes from, in the two forms API Gateway documents
/// for `gatewayresponse.header.*` mappings that this project uses.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderValueSource {
    /// `'text'`: the text itself.
    Static(String),
    /// `method.request.header.<name>`: the request's header, when it has one.
    RequestHeader(String),
}

/// The class fallback of a response type: `DEFAULT_4XX` or `DEFAULT_5XX` by the error's status.
fn default_response_type(status: u16) -> Option<&'static str> {
    match status {
        400..=499 => Some("DEFAULT_4XX"),
        500..=599 => Some("DEFAULT_5XX"),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResource {
    pub path: String,
    pub methods: Vec<ApiMethod>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiMethod {
    /// `GET`, `POST`, ... or `ANY`.
    pub http_method: String,
    pub authorization: Authorization,
    /// Logical id of the function the proxy integration invokes.
    pub function: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Authorization {
    None,
    /// A COGNITO_USER_POOLS authorizer: tokens from any of these pools; with scopes, access
    /// tokens carrying one of them, without, ID tokens.
    CognitoUserPools {
        provider_arns: Vec<String>,
        scopes: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionTemplate {
    pub logical_id: String,
    pub function_name: String,
    /// The package it runs (`target/lambda/<package>/bootstrap.zip`), from the function's metadata.
    pub package: String,
    /// Route groups it serves, from the function's metadata.
    pub groups: Vec<String>,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub environment: BTreeMap<String, String>,
    /// `ReservedConcurrentExecutions`: at most this many environments at once. `None`: the
    /// function draws on the account's unreserved concurrency.
    pub reserved_concurrency: Option<u32>,
    /// `LoggingConfig`: the format of Lambda's records and the levels kept.
    pub logging: FunctionLogging,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebAcl {
    pub name: String,
    /// The action when no rule matches.
    pub default_allow: bool,
    /// Rules in priority order.
    pub rules: Vec<WafRule>,
    pub ip_sets: Vec<IpSetTemplate>,
    /// The ACL is associated with this template's stage.
    pub protects_stage: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WafRule {
    pub name: String,
    pub priority: u64,
    pub allow: bool,
    /// Name of the IP set the rule matches the source address against.
    pub ip_set: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IpSetTemplate {
    pub logical_id: String,
    pub name: String,
    pub ipv6: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("the template has no Resources object")]
    NoResources,
    #[error("the template must declare exactly one AWS::ApiGateway::{0}, found {1}")]
    NotExactlyOne(&'static str, usize),
    #[error("resource {id}: {problem}")]
    Resource { id: String, problem: String },
}

fn problem(id: &str, problem: impl Into<String>) -> TemplateError {
    TemplateError::Resource {
        id: id.to_owned(),
        problem: problem.into(),
    }
}

/// One `AWS::ApiGateway::GatewayResponse`: its type and what it sets. Only the forms this
/// project renders are read; templates are the renderer's, so any other form is an error here
/// rather than a response the local stack would silently not apply.
fn read_gateway_response(
    id: &str,
    p: &Map<String, Value>,
) -> Result<(String, GatewayResponse), TemplateError> {
    let response_type = p
        .get("ResponseType")
        .and_then(Value::as_str)
        .ok_or_else(|| problem(id, "has no ResponseType"))?;
    let status_code = match p.get("StatusCode") {
        None => None,
        Some(code) => Some(
            code.as_str()
                .and_then(|c| c.parse::<u16>().ok())
                .filter(|c| (100..=599).contains(c))
                .ok_or_else(|| problem(id, format!("StatusCode {code} is not an HTTP status")))?,
        ),
    };
    let mut headers = Vec::new();
    if let Some(parameters) = p.get("ResponseParameters") {
        let parameters = parameters
            .as_object()
            .ok_or_else(|| problem(id, "ResponseParameters is not an object"))?;
        for (key, value) in parameters {
            let name = key
                .strip_prefix("gatewayresponse.header.")
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    problem(
                        id,
                        format!(
                            "ResponseParameters key {key:?} is not gatewayresponse.header.<name>"
                        ),
                    )
                })?;
            let value = value.as_str().unwrap_or_default();
            let source = if let Some(text) =
                value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
            {
                HeaderValueSource::Static(text.to_owned())
            } else if let Some(header) = value.strip_prefix("method.request.header.") {
                HeaderValueSource::RequestHeader(header.to_owned())
            } else {
                return Err(problem(
                    id,
                    format!(
                        "{key}: {value:?} is neither a quoted text ('...') nor method.request.header.<name>"
                    ),
                ));
            };
            headers.push((name.to_owned(), source));
        }
    }
    Ok((
        response_type.to_owned(),
        GatewayResponse {
            status_code,
            headers,
        },
    ))
}

/// `{"Ref": "X"}` -> `X`.
fn reference(value: &Value) -> Option<&str> {
    value.get("Ref")?.as_str()
}

/// `{"Fn::GetAtt": ["X", "Attr"]}` (or `"X.Attr"`) -> `(X, Attr)`.
fn get_att(value: &Value) -> Option<(&str, &str)> {
    match value.get("Fn::GetAtt")? {
        Value::Array(parts) => Some((parts.first()?.as_str()?, parts.get(1)?.as_str()?)),
        Value::String(joined) => joined.split_once('.'),
        _ => None,
    }
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl ApiTemplate {
    pub fn read(template: &Value) -> Result<ApiTemplate, TemplateError> {
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or(TemplateError::NoResources)?;
        let of_type = |kind: &str| -> Vec<(&String, &Value)> {
            resources
                .iter()
                .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
                .collect()
        };
        let props = |id: &str, resource: &'_ Value| -> Result<Map<String, Value>, TemplateError> {
            resource
                .get("Properties")
                .and_then(Value::as_object)
                .cloned()
                .ok_or_else(|| problem(id, "has no Properties"))
        };

        let apis = of_type("AWS::ApiGateway::RestApi");
        let [(api_id, _)] = apis[..] else {
            return Err(TemplateError::NotExactlyOne("RestApi", apis.len()));
        };
        let stages = of_type("AWS::ApiGateway::Stage");
        let [(stage_id, stage)] = stages[..] else {
            return Err(TemplateError::NotExactlyOne("Stage", stages.len()));
        };
        let stage_props = props(stage_id, stage)?;
        let stage_name = stage_props
            .get("StageName")
            .and_then(Value::as_str)
            .ok_or_else(|| problem(stage_id, "has no StageName"))?;
        let access_log_format = stage_props
            .get("AccessLogSetting")
            .and_then(|s| s.get("Format"))
            .and_then(Value::as_str)
            .map(str::to_owned);

        // Resource paths: follow ParentId up to the API's root.
        let mut paths: BTreeMap<String, String> = BTreeMap::new();
        let api_resources = of_type("AWS::ApiGateway::Resource");
        let parts: BTreeMap<&str, (Option<&str>, &str)> = api_resources
            .iter()
            .map(|(id, resource)| {
                let p = resource
                    .get("Properties")
                    .ok_or_else(|| problem(id, "has no Properties"))?;
                let part = p
                    .get("PathPart")
                    .and_then(Value::as_str)
                    .ok_or_else(|| problem(id, "has no PathPart"))?;
                let parent = p
                    .get("ParentId")
                    .ok_or_else(|| problem(id, "has no ParentId"))?;
                let parent = match (reference(parent), get_att(parent)) {
                    (Some(parent), _) => Some(parent),
                    (None, Some((api, "RootResourceId"))) if api == api_id => None,
                    _ => {
                        return Err(problem(
                            id,
                            "ParentId is neither a Ref to a resource nor the API's RootResourceId",
                        ));
                    }
                };
                Ok((id.as_str(), (parent, part)))
            })
            .collect::<Result<_, TemplateError>>()?;
        for id in parts.keys() {
            let mut segments = Vec::new();
            let mut current = Some(*id);
            while let Some(node) = current {
                let (parent, part) = parts
                    .get(node)
                    .ok_or_else(|| problem(id, format!("parent {node} is not an API resource")))?;
                segments.push(*part);
                if segments.len() > parts.len() {
                    return Err(problem(id, "its parents form a cycle"));
                }
                current = *parent;
            }
            segments.reverse();
            paths.insert((*id).to_owned(), format!("/{}", segments.join("/")));
        }
        check_resource_tree(&parts, &paths)?;

        let mut authorizers: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (id, resource) in of_type("AWS::ApiGateway::Authorizer") {
            let p = props(id, resource)?;
            if p.get("Type").and_then(Value::as_str) != Some("COGNITO_USER_POOLS") {
                return Err(problem(
                    id,
                    "only COGNITO_USER_POOLS authorizers are supported",
                ));
            }
            if p.get("IdentitySource").and_then(Value::as_str)
                != Some("method.request.header.Authorization")
            {
                return Err(problem(
                    id,
                    "the token must come from method.request.header.Authorization",
                ));
            }
            authorizers.insert(id, string_list(p.get("ProviderARNs")));
        }

        let mut by_path: BTreeMap<String, Vec<ApiMethod>> = BTreeMap::new();
        by_path.insert("/".into(), Vec::new());
        for path in paths.values() {
            by_path.insert(path.clone(), Vec::new());
        }
        for (id, resource) in of_type("AWS::ApiGateway::Method") {
            let p = props(id, resource)?;
            let resource_ref = p
                .get("ResourceId")
                .ok_or_else(|| problem(id, "has no ResourceId"))?;
            let path = match (reference(resource_ref), get_att(resource_ref)) {
                (Some(r), _) => paths
                    .get(r)
                    .cloned()
                    .ok_or_else(|| problem(id, format!("ResourceId {r} is not an API resource")))?,
                (None, Some((api, "RootResourceId"))) if api == api_id => "/".to_owned(),
                _ => {
                    return Err(problem(
                        id,
                        "ResourceId is neither a Ref nor the API's RootResourceId",
                    ));
                }
            };
            let http_method = p
                .get("HttpMethod")
                .and_then(Value::as_str)
                .ok_or_else(|| problem(id, "has no HttpMethod"))?
                .to_ascii_uppercase();
            let authorization = match p
                .get("AuthorizationType")
                .and_then(Value::as_str)
                .unwrap_or("NONE")
            {
                "NONE" => Authorization::None,
                "COGNITO_USER_POOLS" => {
                    let authorizer =
                        p.get("AuthorizerId").and_then(reference).ok_or_else(|| {
                            problem(id, "COGNITO_USER_POOLS needs an AuthorizerId Ref")
                        })?;
                    let provider_arns = authorizers.get(authorizer).cloned().ok_or_else(|| {
                        problem(id, format!("authorizer {authorizer} is not declared"))
                    })?;
                    Authorization::CognitoUserPools {
                        provider_arns,
                        scopes: string_list(p.get("AuthorizationScopes")),
                    }
                }
                other => {
                    return Err(problem(
                        id,
                        format!("AuthorizationType {other} is not supported"),
                    ));
                }
            };
            let integration = p
                .get("Integration")
                .ok_or_else(|| problem(id, "has no Integration"))?;
            if integration.get("Type").and_then(Value::as_str) != Some("AWS_PROXY") {
                return Err(problem(
                    id,
                    "only AWS_PROXY (Lambda proxy) integrations are supported",
                ));
            }
            let uri = integration
                .get("Uri")
                .and_then(|u| u.get("Fn::Sub"))
                .and_then(Value::as_str)
                .ok_or_else(|| problem(id, "Integration.Uri must be a Fn::Sub string"))?;
            let function = uri
                .split("/functions/${")
                .nth(1)
                .and_then(|rest| rest.split_once(".Arn}"))
                .map(|(function, _)| function.to_owned())
                .ok_or_else(|| {
                    problem(id, "Integration.Uri does not name a function as ${X.Arn}")
                })?;
            by_path
                .get_mut(&path)
                .expect("every resource path is listed")
                .push(ApiMethod {
                    http_method,
                    authorization,
                    function,
                });
        }

        let mut functions = BTreeMap::new();
        for (id, resource) in of_type("AWS::Lambda::Function") {
            let p = props(id, resource)?;
            let metadata = resource.get("Metadata").and_then(|m| m.get("catalog"));
            let package = metadata
                .and_then(|m| m.get("package"))
                .and_then(Value::as_str)
                .ok_or_else(|| problem(id, "Metadata.catalog.package names no package"))?;
            let number = |key: &str, default: u32| {
                p.get(key).and_then(Value::as_u64).map_or(Ok(default), |n| {
                    u32::try_from(n).map_err(|_| problem(id, format!("{key} is too large")))
                })
            };
            let environment = p
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_object)
                .map(|vars| {
                    vars.iter()
                        .map(|(k, v)| {
                            (
                                k.clone(),
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            functions.insert(
                id.clone(),
                FunctionTemplate {
                    logical_id: id.clone(),
                    function_name: p
                        .get("FunctionName")
                        .and_then(Value::as_str)
                        .unwrap_or(id)
                        .to_owned(),
                    package: package.to_owned(),
                    groups: string_list(metadata.and_then(|m| m.get("groups"))),
                    memory_mb: number("MemorySize", 128)?,
                    timeout_seconds: number("Timeout", 3)?,
                    environment,
                    reserved_concurrency: p
                        .contains_key("ReservedConcurrentExecutions")
                        .then(|| number("ReservedConcurrentExecutions", 0))
                        .transpose()?,
                    logging: FunctionLogging::from_property(p.get("LoggingConfig"))
                        .map_err(|e| problem(id, format!("LoggingConfig: {e}")))?,
                },
            );
        }
        for methods in by_path.values() {
            if let Some(method) = methods
                .iter()
                .find(|m| !functions.contains_key(&m.function))
            {
                return Err(problem(
                    &method.function,
                    "is invoked by a method but is not an AWS::Lambda::Function here",
                ));
            }
        }

        let waf = read_waf(
            &of_type("AWS::WAFv2::IPSet"),
            &of_type("AWS::WAFv2::WebACL"),
            &of_type("AWS::WAFv2::WebACLAssociation"),
            stage_id,
        )?;
        let mut gateway_responses = BTreeMap::new();
        for (id, resource) in of_type("AWS::ApiGateway::GatewayResponse") {
            let (response_type, response) = read_gateway_response(id, &props(id, resource)?)?;
            if gateway_responses
                .insert(response_type.clone(), response)
                .is_some()
            {
                return Err(problem(
                    id,
                    format!("a second GatewayResponse of type {response_type}"),
                ));
            }
        }
        Ok(ApiTemplate {
            stage: stage_name.to_owned(),
            access_log_format,
            resources: by_path
                .into_iter()
                .map(|(path, methods)| ApiResource { path, methods })
                .collect(),
            functions,
            waf,
            gateway_responses,
        })
    }

    /// The gateway response that shapes an error of `response_type` with `status`: the type's
    /// own, else its class default (`DEFAULT_4XX`/`DEFAULT_5XX`), as API Gateway falls back.
    pub fn gateway_response(&self, response_type: &str, status: u16) -> Option<&GatewayResponse> {
        self.gateway_responses.get(response_type).or_else(|| {
            default_response_type(status).and_then(|class| self.gateway_responses.get(class))
        })
    }

    /// The function a method invokes.
    pub fn function(&self, method: &ApiMethod) -> &FunctionTemplate {
        &self.functions[&method.function]
    }

    /// Every Cognito user pool ARN any authorizer trusts.
    pub fn user_pool_arns(&self) -> Vec<String> {
        let mut arns: Vec<String> = self
            .resources
            .iter()
            .flat_map(|r| &r.methods)
            .filter_map(|m| match &m.authorization {
                Authorization::CognitoUserPools { provider_arns, .. } => {
                    Some(provider_arns.clone())
                }
                Authorization::None => None,
            })
            .flatten()
            .collect();
        arns.sort();
        arns.dedup();
        arns
    }
}

/// A path part in braces: `{name}`, or greedy `{proxy+}`.
fn is_variable(part: &str) -> bool {
    part.starts_with('{') && part.ends_with('}')
}

fn is_greedy(part: &str) -> bool {
    is_variable(part) && part.ends_with("+}")
}

/// The resource trees API Gateway refuses at `CreateResource` (a `BadRequestException` that
/// fails the stack), refused here with AWS's own words, so that neither the protection check nor
/// the local stack ever accepts a template AWS would reject:
/// - two variable children of one resource (`{name}` beside `{proxy+}`);
/// - any child under a greedy `{proxy+}`.
fn check_resource_tree(
    parts: &BTreeMap<&str, (Option<&str>, &str)>,
    paths: &BTreeMap<String, String>,
) -> Result<(), TemplateError> {
    let refuse = |id: &str, message: String| {
        problem(
            id,
            format!("{} would be refused by API Gateway: {message}", paths[id]),
        )
    };
    for (id, (parent, part)) in parts {
        if let Some(parent) = parent
            && is_greedy(parts[parent].1)
        {
            return Err(refuse(
                id,
                format!(
                    "Cannot create a child of a resource with a greedy path variable: {}",
                    parts[parent].1
                ),
            ));
        }
        if !is_variable(part) {
            continue;
        }
        // The first variable sibling in the template's order is the one "already" there.
        let sibling = parts.iter().find(|(other, (other_parent, other_part))| {
            other != &id && other_parent == parent && is_variable(other_part)
        });
        if let Some((other, (_, other_part))) = sibling
            && other < id
        {
            return Err(refuse(
                id,
                format!(
                    "A sibling ({other_part}) of this resource already has a variable path part -- only one is allowed"
                ),
            ));
        }
    }
    Ok(())
}

/// How often the template's scheduled janitor runs: the period of the `rate(...)` expression of
/// the AWS::Events::Rule that targets the function of package `janitor`. `None` when the template
/// has no such schedule.
pub fn janitor_period(template: &Value) -> Option<std::time::Duration> {
    let resources = template.get("Resources")?.as_object()?;
    let janitor = resources.iter().find_map(|(id, resource)| {
        let package = resource.get("Metadata")?.get("catalog")?.get("package")?;
        (package.as_str()? == crate::model::JANITOR).then_some(id.as_str())
    })?;
    resources
        .values()
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::Events::Rule"))
        .filter_map(|rule| rule.get("Properties"))
        .find(|p| {
            p.get("Targets")
                .and_then(Value::as_array)
                .is_some_and(|targets| {
                    targets.iter().any(|t| {
                        t.get("Arn")
                            .and_then(get_att)
                            .is_some_and(|(id, _)| id == janitor)
                    })
                })
        })
        .and_then(|p| p.get("ScheduleExpression")?.as_str())
        .and_then(crate::env::rate_period)
}

fn read_waf(
    ip_sets: &[(&String, &Value)],
    acls: &[(&String, &Value)],
    associations: &[(&String, &Value)],
    stage_id: &str,
) -> Result<Option<WebAcl>, TemplateError> {
    let (acl_id, acl) = match acls {
        [] => return Ok(None),
        [one] => *one,
        more => {
            return Err(TemplateError::NotExactlyOne(
                "WAFv2::WebACL (at most)",
                more.len(),
            ));
        }
    };
    let sets: Vec<IpSetTemplate> = ip_sets
        .iter()
        .map(|(id, set)| {
            let p = set
                .get("Properties")
                .ok_or_else(|| problem(id, "has no Properties"))?;
            Ok(IpSetTemplate {
                logical_id: (*id).clone(),
                name: p
                    .get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or(id)
                    .to_owned(),
                ipv6: p.get("IPAddressVersion").and_then(Value::as_str) == Some("IPV6"),
            })
        })
        .collect::<Result<_, TemplateError>>()?;
    let p = acl
        .get("Properties")
        .ok_or_else(|| problem(acl_id, "has no Properties"))?;
    let default_allow = match p.get("DefaultAction") {
        Some(action) if action.get("Allow").is_some() => true,
        Some(action) if action.get("Block").is_some() => false,
        _ => return Err(problem(acl_id, "DefaultAction must be Allow or Block")),
    };
    let mut rules = Vec::new();
    for rule in p
        .get("Rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let name = rule
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let arn = rule
            .get("Statement")
            .and_then(|s| s.get("IPSetReferenceStatement"))
            .and_then(|s| s.get("Arn"))
            .and_then(get_att)
            .map(|(set, _)| set)
            .ok_or_else(|| problem(acl_id, format!("rule {name}: only IPSetReferenceStatement rules on a GetAtt'd IP set are supported")))?;
        let set = sets.iter().find(|s| s.logical_id == arn).ok_or_else(|| {
            problem(
                acl_id,
                format!("rule {name} refers to {arn}, not an IP set here"),
            )
        })?;
        let allow = match rule.get("Action") {
            Some(action) if action.get("Allow").is_some() => true,
            Some(action) if action.get("Block").is_some() => false,
            _ => {
                return Err(problem(
                    acl_id,
                    format!("rule {name}: Action must be Allow or Block"),
                ));
            }
        };
        rules.push(WafRule {
            name,
            priority: rule.get("Priority").and_then(Value::as_u64).unwrap_or(0),
            allow,
            ip_set: set.name.clone(),
        });
    }
    rules.sort_by_key(|r| r.priority);
    let protects_stage = associations.iter().any(|(_, association)| {
        let p = association.get("Properties");
        let acl_ok = p
            .and_then(|p| p.get("WebACLArn"))
            .and_then(get_att)
            .is_some_and(|(id, _)| id == acl_id);
        let stage_ok = p
            .and_then(|p| p.get("ResourceArn"))
            .and_then(|r| r.get("Fn::Sub"))
            .and_then(Value::as_str)
            .is_some_and(|arn| arn.contains(&format!("/stages/${{{stage_id}}}")));
        acl_ok && stage_ok
    });
    Ok(Some(WebAcl {
        name: p
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or(acl_id)
            .to_owned(),
        default_allow,
        rules,
        ip_sets: sets,
        protects_stage,
    }))
}
