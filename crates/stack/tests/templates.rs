//! The rendered templates: committed copies are current, routing and protection hold in both
//! patterns, the WAF blocks by default, and the proof of concept's mistake is refused.

use routes::ROUTES;
use serde_json::Value;
use stack::template::Authorization;
use stack::{
    ApiTemplate, Deployment, EnvConfig, MethodAuth, MethodSpec, Pattern, RenderError, Violation,
};

mod support;

use support::{deploy_dir, everything_on};

fn deployment(env: &str, pattern: Pattern) -> Deployment {
    Deployment::new(pattern, env, EnvConfig::load(&deploy_dir(), env).unwrap())
}

#[test]
fn committed_templates_are_current() {
    for env in ["dev", "prod"] {
        for pattern in Pattern::ALL {
            let rendered = stack::to_file_text(&stack::render(&deployment(env, pattern)).unwrap());
            let file = stack::template_file(&deploy_dir(), env, pattern);
            let committed = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(
                committed == rendered,
                "{} is stale: run `cargo xtask template --pattern {} --env {env} --write` and commit it",
                file.display(),
                pattern.name()
            );
        }
    }
    let file = stack::logging_role_template_file(&deploy_dir());
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        committed == stack::to_file_text(&stack::logging_role_template()),
        "{} is stale: run `cargo xtask template --pattern lith --write` and commit it",
        file.display()
    );
}

#[test]
fn every_route_reaches_its_groups_function_and_protected_ones_need_the_authorizer() {
    for pattern in Pattern::ALL {
        let template = stack::render(&deployment("dev", pattern)).unwrap();
        let api = ApiTemplate::read(&template).unwrap();
        assert_eq!(api.stage, "dev");
        for route in ROUTES {
            let path = route
                .path
                .replace("{name}", "Atlas")
                .replace("{asset}", "swagger-ui.css");
            let matched = api.match_request(route.method.as_str(), &path).unwrap();
            assert_eq!(
                api.function(matched.method).package,
                pattern.function_for(route)
            );
            let authorized = matches!(
                matched.method.authorization,
                Authorization::CognitoUserPools { .. }
            );
            assert_eq!(
                authorized,
                route.is_protected(),
                "{} {path} in {pattern:?}",
                route.method.as_str()
            );
        }
        // What the table does not name goes to the meta (or lith) function, publicly.
        let other = api.match_request("PUT", "/api/v0/projects/Atlas").unwrap();
        assert_eq!(other.method.authorization, Authorization::None);
        // The root has its own method; an unknown method on a known path still reaches a function.
        assert!(api.match_request("GET", "/").is_ok());
    }
}

#[test]
fn fat_routes_each_collection_prefix_to_its_own_function() {
    let api = ApiTemplate::read(&stack::render(&deployment("dev", Pattern::Fat)).unwrap()).unwrap();
    let package = |method: &str, path: &str| {
        api.function(api.match_request(method, path).unwrap().method)
            .package
            .clone()
    };
    assert_eq!(package("PATCH", "/api/v0/projects"), "projects");
    assert_eq!(package("GET", "/api/v0/technologies/a/b"), "technologies");
    assert_eq!(package("GET", "/elsewhere"), "meta");
}

#[test]
fn the_waf_blocks_by_default_and_allows_both_ip_sets_on_the_stage() {
    let api =
        ApiTemplate::read(&stack::render(&deployment("dev", Pattern::Lith)).unwrap()).unwrap();
    let waf = api.waf.expect("a web ACL");
    assert!(!waf.default_allow && waf.protects_stage);
    let allowed: Vec<_> = waf
        .rules
        .iter()
        .filter(|r| r.allow)
        .map(|r| r.ip_set.as_str())
        .collect();
    assert_eq!(allowed, ["catalog-dev-allow-v4", "catalog-dev-allow-v6"]);
    assert_eq!(waf.ip_sets.iter().filter(|s| s.ipv6).count(), 1);
}

#[test]
fn the_api_redeploys_when_it_changes_and_only_then() {
    let deployment_id = |d: &Deployment| -> String {
        let template = stack::render(d).unwrap();
        template["Resources"]
            .as_object()
            .unwrap()
            .keys()
            .find(|k| k.starts_with("Deployment"))
            .unwrap()
            .clone()
    };
    let base = deployment("dev", Pattern::Lith);
    assert_eq!(
        deployment_id(&base),
        deployment_id(&deployment("dev", Pattern::Lith))
    );
    let mut changed = base.clone();
    changed.methods.retain(|m| m.path != "/health");
    assert_ne!(deployment_id(&base), deployment_id(&changed));
}

#[test]
fn the_proof_of_concepts_mistake_is_refused() {
    // Its gateway protected DELETE on the collection; deletion happened on the item path, which
    // only the public {proxy+} served.
    let mut deployment = deployment("dev", Pattern::Lith);
    deployment
        .methods
        .retain(|m| !(m.http_method == "DELETE" && m.path == "/api/v0/projects/{name}"));
    deployment.methods.push(MethodSpec {
        path: "/api/v0/projects".into(),
        http_method: "DELETE",
        function: "lith",
        auth: MethodAuth::Cognito,
    });
    let Err(RenderError::Unsafe(violations)) = stack::render(&deployment) else {
        panic!("an unsafe template was rendered");
    };
    assert!(
        violations.iter().any(
            |v| matches!(v, Violation::Unprotected { method: "DELETE", path, resource, .. }
        if path == "/api/v0/projects/sample" && resource == "/{proxy+}")
        ),
        "{violations:?}"
    );
    let message = RenderError::Unsafe(violations).to_string();
    assert!(
        message.contains("DELETE /api/v0/projects/sample needs a Cognito token"),
        "{message}"
    );
}

#[test]
fn a_template_the_reader_cannot_follow_is_an_error_not_a_guess() {
    let mut template = stack::render(&deployment("dev", Pattern::Lith)).unwrap();
    template["Resources"]["MethodApiV0ProjectsPost"]["Properties"]["AuthorizationType"] =
        Value::from("AWS_IAM");
    let error = ApiTemplate::read(&template).unwrap_err().to_string();
    assert!(
        error.contains("MethodApiV0ProjectsPost") && error.contains("AWS_IAM"),
        "{error}"
    );
}

/// Every environment in deploy/envs, by name.
fn environments() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(deploy_dir().join("envs"))
        .unwrap()
        .filter_map(|entry| {
            let path = entry.unwrap().path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_committed_template_has_a_resource_tree_api_gateway_accepts() {
    let envs = environments();
    assert!(envs.len() >= 2, "{envs:?}");
    for env in envs {
        for pattern in Pattern::ALL {
            let file = stack::template_file(&deploy_dir(), &env, pattern);
            let text = std::fs::read_to_string(&file).unwrap();
            let template: Value = serde_json::from_str(&text).unwrap();
            if let Err(error) = ApiTemplate::read(&template) {
                panic!("{}: {error}", file.display());
            }
        }
    }
}

/// The lith template with one more API resource: `path_part` under the resource `parent`.
fn with_extra_resource(parent: &str, path_part: &str) -> Value {
    let mut template = stack::render(&deployment("dev", Pattern::Lith)).unwrap();
    template["Resources"]["ResourceExtra"] = serde_json::json!({
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": {"Ref": parent}, "PathPart": path_part},
    });
    template
}

// Both refusals are API Gateway's BadRequestException at CreateResource. The sibling message is
// quoted from real stacks in deploy tools' reports (serverless/serverless#6783,
// serverless-nextjs/serverless-next.js#206, amazon-archives/aws-apigateway-importer#202); the
// greedy one as LocalStack's API Gateway provider raises it. moto checks neither, so this reader
// is what stands between such a template and a failed deploy.
#[test]
fn the_reader_refuses_two_variable_siblings_with_aws_words() {
    let template = with_extra_resource("ResourceApiV0Projects", "{proxy+}");
    let error = ApiTemplate::read(&template).unwrap_err().to_string();
    assert!(
        error.contains("ResourceExtra")
            && error.contains("/api/v0/projects/{proxy+}")
            && error.contains(
                "A sibling ({name}) of this resource already has a variable path part -- only one is allowed"
            ),
        "{error}"
    );
    // Another name for the same variable part is refused just the same.
    let template = with_extra_resource("ResourceApiV0Projects", "{id}");
    assert!(ApiTemplate::read(&template).is_err());
    // A literal sibling is fine.
    let template = with_extra_resource("ResourceApiV0Projects", "special");
    ApiTemplate::read(&template).unwrap();
}

#[test]
fn the_reader_refuses_a_child_under_a_greedy_variable() {
    let template = with_extra_resource("ResourceProxy", "below");
    let error = ApiTemplate::read(&template).unwrap_err().to_string();
    assert!(
        error.contains("ResourceExtra")
            && error.contains("/{proxy+}/below")
            && error.contains(
                "Cannot create a child of a resource with a greedy path variable: {proxy+}"
            ),
        "{error}"
    );
}

/// The IAM policy statements of the role of the function serving `package`.
fn role_statements(template: &Value, package: &str) -> Vec<Value> {
    let function = &template["Resources"][stack::function_id(package)];
    let role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{package}'s function names no role"));
    template["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .flat_map(|policy| {
            policy["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect()
}

/// The partitions a role's statements confine its item actions to, and every action it has.
fn table_access(statements: &[Value]) -> (Vec<String>, Vec<String>) {
    let mut partitions = Vec::new();
    let mut actions = Vec::new();
    for statement in statements {
        assert_eq!(statement["Resource"]["Fn::GetAtt"][0], "CatalogTable");
        actions.extend(
            statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned()),
        );
        if let Some(keys) =
            statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"].as_array()
        {
            partitions.extend(keys.iter().map(|k| k.as_str().unwrap().to_owned()));
        }
    }
    (partitions, actions)
}

#[test]
fn each_fat_function_may_touch_only_its_own_partition_and_meta_only_describe_the_table() {
    let template = stack::render(&deployment("dev", Pattern::Fat)).unwrap();
    for collection in ["projects", "technologies"] {
        let statements = role_statements(&template, collection);
        let (partitions, actions) = table_access(&statements);
        assert_eq!(partitions, [collection], "{statements:#?}");
        assert_eq!(
            actions,
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:DeleteItem",
                "dynamodb:Query"
            ],
            "item actions only: Scan names no partition, so the condition could not hold it"
        );
        assert_eq!(
            statements[0]["Condition"]["Null"]["dynamodb:LeadingKeys"], "false",
            "a request without a partition key is not let through by ForAllValues"
        );
    }
    let (partitions, actions) = table_access(&role_statements(&template, "meta"));
    assert!(partitions.is_empty());
    assert_eq!(
        actions,
        ["dynamodb:DescribeTable"],
        "/health needs only that"
    );
    let roles: std::collections::BTreeSet<String> = ["projects", "technologies", "meta"]
        .iter()
        .map(|p| template["Resources"][stack::function_id(p)]["Properties"]["Role"].to_string())
        .collect();
    assert_eq!(roles.len(), 3, "one role per function");
}

/// Least privilege per route: a GET function reads its own partition, a create function writes
/// it, a listing queries it, the health check describes the table, and the rest (the catch-all
/// meta function among them) has nothing of the table at all.
#[test]
fn each_single_purpose_function_may_do_only_what_its_route_does() {
    let template = stack::render(&deployment("dev", Pattern::Single)).unwrap();
    for route in routes::ROUTES {
        let slug = route.operation.slug();
        let (partitions, actions) = table_access(&role_statements(&template, slug));
        let (expected_partitions, expected_actions): (Vec<&str>, Vec<&str>) = match route.operation
        {
            routes::Operation::Collection(collection, op) => (
                vec![collection.name()],
                vec![match op {
                    routes::CollectionOp::List => "dynamodb:Query",
                    routes::CollectionOp::Create => "dynamodb:PutItem",
                    routes::CollectionOp::Get => "dynamodb:GetItem",
                    routes::CollectionOp::Delete => "dynamodb:DeleteItem",
                }],
            ),
            routes::Operation::Meta(routes::MetaOp::Health) => {
                (vec![], vec!["dynamodb:DescribeTable"])
            }
            routes::Operation::Meta(_) => (vec![], vec![]),
        };
        assert_eq!(partitions, expected_partitions, "{slug}");
        assert_eq!(actions, expected_actions, "{slug}");
    }
    assert!(role_statements(&template, "meta").is_empty());
    let roles: std::collections::BTreeSet<String> = Pattern::Single
        .functions()
        .iter()
        .map(|p| template["Resources"][stack::function_id(p)]["Properties"]["Role"].to_string())
        .collect();
    assert_eq!(
        roles.len(),
        routes::ROUTES.len() + 1,
        "one role per function"
    );
}

#[test]
fn the_lith_function_reaches_both_partitions_and_the_health_check() {
    let template = stack::render(&deployment("dev", Pattern::Lith)).unwrap();
    let (partitions, actions) = table_access(&role_statements(&template, "lith"));
    assert_eq!(partitions, ["projects", "technologies"]);
    assert!(actions.contains(&"dynamodb:DescribeTable".to_owned()));
    let variables = &template["Resources"][stack::function_id("lith")]["Properties"]["Environment"]
        ["Variables"];
    assert_eq!(
        variables["STORE_URL"]["Fn::Sub"], "dynamodb://${CatalogTable}",
        "the functions find the table by its name"
    );
}

#[test]
fn only_prod_keeps_its_table_whatever_happens_to_the_stack() {
    for (env, kept) in [("dev", false), ("prod", true)] {
        let template = stack::render(&deployment(env, Pattern::Lith)).unwrap();
        let table = &template["Resources"]["CatalogTable"];
        let policy = if kept { "Retain" } else { "Delete" };
        assert_eq!(table["DeletionPolicy"], policy, "{env}");
        assert_eq!(table["UpdateReplacePolicy"], policy, "{env}");
        assert_eq!(
            table["Properties"]["DeletionProtectionEnabled"], kept,
            "{env}"
        );
        assert_eq!(table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(
            table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true
        );
    }
}

#[test]
fn every_gateway_error_lets_any_origin_read_it() {
    // A browser hides a cross-origin answer without Access-Control-Allow-Origin from the page, so
    // without these the authorizer's 401 reads as a network error (API Gateway's developer guide,
    // "Gateway response types": every 4XX and 5XX type falls back to DEFAULT_4XX / DEFAULT_5XX).
    for pattern in Pattern::ALL {
        let template = stack::render(&deployment("dev", pattern)).unwrap();
        let api = ApiTemplate::read(&template).unwrap();
        for (response_type, status) in [
            ("UNAUTHORIZED", 401),
            ("WAF_FILTERED", 403),
            ("MISSING_AUTHENTICATION_TOKEN", 403),
            ("REQUEST_TOO_LARGE", 413),
            ("INTEGRATION_FAILURE", 500),
            ("INTEGRATION_TIMEOUT", 504),
        ] {
            let response = api
                .gateway_response(response_type, status)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no gateway response for {response_type}",
                        pattern.name()
                    )
                });
            assert_eq!(response.status_code, None, "the status stays AWS's own");
            assert_eq!(
                response.headers,
                [(
                    "Access-Control-Allow-Origin".to_owned(),
                    stack::HeaderValueSource::Static("*".into())
                )]
            );
        }
        // The responses are part of the deployment: it waits for them, and changes with them.
        let resources = template["Resources"].as_object().unwrap();
        let (_, deployment_resource) = resources
            .iter()
            .find(|(_, r)| r["Type"] == "AWS::ApiGateway::Deployment")
            .unwrap();
        let depends_on = deployment_resource["DependsOn"].as_array().unwrap();
        for id in ["GatewayResponseDefault4xx", "GatewayResponseDefault5xx"] {
            assert!(depends_on.contains(&Value::from(id)), "{id}");
        }
    }
}

#[test]
fn reserved_concurrency_reaches_every_api_function_and_only_them() {
    let mut config = EnvConfig::load(&deploy_dir(), "dev").unwrap();
    assert_eq!(config.reserved_concurrency, None);
    let unreserved = stack::render(&Deployment::new(Pattern::Fat, "dev", config.clone())).unwrap();
    let api = ApiTemplate::read(&unreserved).unwrap();
    assert!(
        api.functions
            .values()
            .all(|f| f.reserved_concurrency.is_none())
    );

    config.reserved_concurrency = Some(25);
    let reserved = stack::render(&Deployment::new(Pattern::Fat, "dev", config)).unwrap();
    let api = ApiTemplate::read(&reserved).unwrap();
    let janitor = stack::function_id(stack::JANITOR);
    let (janitors, api_functions): (Vec<_>, Vec<_>) = api
        .functions
        .values()
        .partition(|f| f.logical_id == janitor);
    assert_eq!(api_functions.len(), 3);
    for function in api_functions {
        assert_eq!(
            function.reserved_concurrency,
            Some(25),
            "{}",
            function.logical_id
        );
    }
    assert_eq!(janitors[0].reserved_concurrency, None);
}

fn managed_policies(template: &Value, role: &str) -> Vec<String> {
    template["Resources"][role]["Properties"]["ManagedPolicyArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arn| {
            arn["Fn::Sub"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn vpc_attachment_puts_every_api_function_in_the_subnets_and_lets_its_role_make_interfaces() {
    for pattern in Pattern::ALL {
        let off = stack::render(&deployment("dev", pattern)).unwrap();
        let on = stack::render(&Deployment::new(pattern, "dev", everything_on())).unwrap();
        for package in pattern.functions() {
            let function = stack::function_id(package);
            let role = format!("{}Role", &function[..function.len() - "Function".len()]);
            assert!(
                off["Resources"][&function]["Properties"]
                    .get("VpcConfig")
                    .is_none()
            );
            assert!(
                !managed_policies(&off, &role).contains(&"AWSLambdaVPCAccessExecutionRole".into())
            );
            assert_eq!(
                on["Resources"][&function]["Properties"]["VpcConfig"],
                serde_json::json!({
                    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
                    "SecurityGroupIds": ["sg-0123456789abcdef0"],
                }),
                "{function}"
            );
            // ec2:CreateNetworkInterface and the rest, as AWS's managed policy for it grants.
            assert!(
                managed_policies(&on, &role).contains(&"AWSLambdaVPCAccessExecutionRole".into())
            );
        }
        // The janitor calls WAF's API, which no VPC endpoint serves: it stays outside.
        let janitor = stack::function_id(stack::JANITOR);
        assert!(
            on["Resources"][&janitor]["Properties"]
                .get("VpcConfig")
                .is_none()
        );
        assert!(
            !managed_policies(&on, "JanitorRole")
                .contains(&"AWSLambdaVPCAccessExecutionRole".into())
        );
    }
}

#[test]
fn tracing_turns_on_x_ray_for_every_function_and_the_stage() {
    for pattern in Pattern::ALL {
        let off = stack::render(&deployment("dev", pattern)).unwrap();
        let on = stack::render(&Deployment::new(pattern, "dev", everything_on())).unwrap();
        assert!(
            off["Resources"]["Stage"]["Properties"]
                .get("TracingEnabled")
                .is_none()
        );
        assert_eq!(
            on["Resources"]["Stage"]["Properties"]["TracingEnabled"],
            true
        );
        for (id, function) in resources_of_type(&on, "AWS::Lambda::Function") {
            assert_eq!(
                function["Properties"]["TracingConfig"]["Mode"], "Active",
                "{id}"
            );
            let role = function["Properties"]["Role"]["Fn::GetAtt"][0]
                .as_str()
                .unwrap();
            assert!(
                managed_policies(&on, role).contains(&"AWSXRayDaemonWriteAccess".into()),
                "{role}"
            );
            assert!(
                off["Resources"][id]["Properties"]
                    .get("TracingConfig")
                    .is_none()
            );
        }
    }
}

#[test]
fn alarms_watch_the_api_each_function_of_the_pattern_and_the_table_and_mail_the_team() {
    for pattern in Pattern::ALL {
        let off = stack::render(&deployment("dev", pattern)).unwrap();
        assert!(resources_of_type(&off, "AWS::CloudWatch::Alarm").is_empty());
        assert!(resources_of_type(&off, "AWS::SNS::Topic").is_empty());

        let on = stack::render(&Deployment::new(pattern, "dev", everything_on())).unwrap();
        let topic = &on["Resources"][stack::monitoring::ALARM_TOPIC]["Properties"];
        assert_eq!(
            topic["Subscription"],
            serde_json::json!([{"Protocol": "email", "Endpoint": "team@example.com"}])
        );
        let alarms = resources_of_type(&on, "AWS::CloudWatch::Alarm");
        for (id, alarm) in &alarms {
            let properties = &alarm["Properties"];
            assert_eq!(
                properties["AlarmActions"],
                serde_json::json!([{"Ref": "AlarmTopic"}]),
                "{id}"
            );
            assert_eq!(properties["TreatMissingData"], "notBreaching", "{id}");
        }
        let by_id = |id: &str| &on["Resources"][id]["Properties"];
        assert_eq!(by_id("ApiErrorRateAlarm")["Threshold"], 0.02);
        assert_eq!(by_id("ApiErrorRateAlarm")["MetricName"], "5XXError");
        assert_eq!(by_id("ApiLatencyAlarm")["Threshold"], 800);
        assert_eq!(by_id("ApiLatencyAlarm")["ExtendedStatistic"], "p99");

        // Every function of this pattern, the janitor too, has an errors and a throttles alarm on
        // its own name, and no other function is watched.
        let mut watched: Vec<String> = alarms
            .iter()
            .filter(|(_, a)| a["Properties"]["Namespace"] == "AWS/Lambda")
            .map(|(_, a)| {
                let properties = &a["Properties"];
                format!(
                    "{} {}",
                    properties["Dimensions"][0]["Value"]["Ref"]
                        .as_str()
                        .unwrap(),
                    properties["MetricName"].as_str().unwrap()
                )
            })
            .collect();
        watched.sort();
        let mut expected: Vec<String> = pattern
            .packages()
            .into_iter()
            .flat_map(|package| {
                let id = stack::function_id(package);
                [format!("{id} Errors"), format!("{id} Throttles")]
            })
            .collect();
        expected.sort();
        assert_eq!(watched, expected, "{}", pattern.name());

        let table = by_id("CatalogTableThrottlesAlarm");
        assert_eq!(
            table["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"],
            "CatalogTable"
        );

        // One dashboard, a row per function of the pattern.
        let dashboard = by_id("Dashboard")["DashboardBody"]["Fn::Sub"]
            .as_str()
            .unwrap();
        let body: Value = serde_json::from_str(dashboard).unwrap();
        for package in pattern.functions() {
            let reference = format!("${{{}}}", stack::function_id(package));
            assert!(
                dashboard.contains(&reference),
                "{reference} in the dashboard"
            );
        }
        assert_eq!(
            body["widgets"].as_array().unwrap().len(),
            2 + 2 * pattern.functions().len() + 1
        );
    }
}

#[test]
fn access_logging_off_leaves_out_the_stage_log_and_its_group() {
    let mut config = EnvConfig::load(&deploy_dir(), "dev").unwrap();
    config.apigateway_logging_role = stack::LoggingRole::Off;
    let off = stack::render(&Deployment::new(Pattern::Lith, "dev", config)).unwrap();
    assert!(
        off["Resources"]["Stage"]["Properties"]
            .get("AccessLogSetting")
            .is_none()
    );
    assert!(off["Resources"].get("AccessLogGroup").is_none());
    assert_eq!(ApiTemplate::read(&off).unwrap().access_log_format, None);
    let on = stack::render(&deployment("dev", Pattern::Lith)).unwrap();
    assert!(
        on["Resources"]["Stage"]["Properties"]
            .get("AccessLogSetting")
            .is_some()
    );
}

#[test]
fn every_setting_combination_renders_and_keeps_protected_routes_protected() {
    // render() refuses a template whose protected routes are reachable without the authorizer,
    // so rendering every combination is the protection check on each.
    for (name, config) in support::every_combination() {
        for pattern in Pattern::ALL {
            let template = stack::render(&Deployment::new(pattern, "dev", config.clone()))
                .unwrap_or_else(|e| panic!("{} with {name}: {e}", pattern.name()));
            assert!(stack::check_routes(&ApiTemplate::read(&template).unwrap()).is_empty());
        }
    }
}
