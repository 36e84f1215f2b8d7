//! What a deployed stack is, read back from CloudFormation: its status, what it carries (from its
//! tags), its outputs, and, where outputs are missing, the same facts from its resources.

use aws_sdk_cloudformation::Client;

use crate::error::{DeployError, aws};
use crate::events::is_missing_stack;
use crate::{ARCHITECTURE_TAG, PATTERN_TAG};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSummary {
    pub name: String,
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub pattern: Option<String>,
    pub architecture: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS UTC` of the last update (or of the creation).
    pub last_updated: Option<String>,
    /// The invoke URL: `https://<api>.execute-api.<region>.amazonaws.com/<stage>`.
    pub url: Option<String>,
    /// Function names.
    pub functions: Vec<String>,
    /// WAF IP sets, as `name (id)`.
    pub ip_sets: Vec<String>,
    /// CloudWatch alarm names (an environment with `alarms` in deploy/envs has them).
    pub alarms: Vec<String>,
    pub outputs: Vec<(String, String)>,
}

pub(crate) fn format_time(time: &aws_smithy_types::DateTime) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(time.secs()).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// One resource of a stack.
pub struct StackResource {
    /// `AWS::Lambda::Function`, ...
    pub kind: String,
    pub physical_id: String,
}

/// Every resource of a stack (by name or id), across the pages of ListStackResources.
pub async fn resources(cfn: &Client, stack: &str) -> Result<Vec<StackResource>, DeployError> {
    let mut resources = Vec::new();
    let mut next = None;
    loop {
        let page = cfn
            .list_stack_resources()
            .stack_name(stack)
            .set_next_token(next)
            .send()
            .await
            .map_err(aws(format!("listing the resources of stack {stack}")))?;
        for resource in page.stack_resource_summaries() {
            resources.push(StackResource {
                kind: resource.resource_type().unwrap_or_default().to_owned(),
                physical_id: resource
                    .physical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
            });
        }
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            return Ok(resources);
        }
    }
}

/// The stack's summary, or `None` when there is no such stack.
pub async fn describe(
    cfn: &Client,
    stack_name: &str,
    region: &str,
) -> Result<Option<StackSummary>, DeployError> {
    let stacks = match cfn.describe_stacks().stack_name(stack_name).send().await {
        Ok(out) => out,
        Err(error) if is_missing_stack(&aws_session::explain(&error)) => return Ok(None),
        Err(error) => return Err(aws(format!("reading stack {stack_name}"))(error)),
    };
    let Some(stack) = stacks.stacks().first() else {
        return Ok(None);
    };
    let tag = |key: &str| {
        stack
            .tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    let outputs: Vec<(String, String)> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let id = stack.stack_id().unwrap_or(stack_name).to_owned();

    let resources = resources(cfn, &id).await?;
    let physical = |kind: &str| -> Vec<String> {
        resources
            .iter()
            .filter(|r| r.kind == kind && !r.physical_id.is_empty())
            .map(|r| r.physical_id.clone())
            .collect()
    };
    // The URL from the outputs, or, when a stack has none (some emulators keep no outputs after
    // a change set), from the REST API's id and its stage's name.
    let output = |key: &str| {
        outputs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let url = output("ApiUrl").or_else(|| {
        let api = physical("AWS::ApiGateway::RestApi").into_iter().next()?;
        let stage = output("StageName")
            .or_else(|| physical("AWS::ApiGateway::Stage").into_iter().next())?;
        Some(format!(
            "https://{api}.execute-api.{region}.amazonaws.com/{stage}"
        ))
    });
    // An IP set's physical id is `name|id|scope`.
    let ip_sets = physical("AWS::WAFv2::IPSet")
        .into_iter()
        .map(|p| match p.split('|').collect::<Vec<_>>()[..] {
            [name, id, _] => format!("{name} ({id})"),
            _ => p,
        })
        .collect();
    Ok(Some(StackSummary {
        name: stack.stack_name().unwrap_or(stack_name).to_owned(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_owned),
        pattern: tag(PATTERN_TAG),
        architecture: tag(ARCHITECTURE_TAG),
        last_updated: stack
            .last_updated_time()
            .or(stack.creation_time())
            .and_then(format_time),
        url,
        functions: physical("AWS::Lambda::Function"),
        ip_sets,
        alarms: physical("AWS::CloudWatch::Alarm"),
        outputs,
        id,
    }))
}
