//! CloudFormation change sets: made, waited for, read as a table of changes, and deleted when
//! they change nothing or are not wanted.

use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetType, Parameter, Tag};

use crate::error::{DeployError, aws};

/// One row of a change set: what CloudFormation would do to one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, ...
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// For `Modify`: `True`, `False` or `Conditional` (whether the resource is replaced).
    pub replacement: Option<String>,
}

/// What became of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetOutcome {
    /// Ready to execute, with its changes.
    Ready {
        id: String,
        stack_id: String,
        changes: Vec<ResourceChange>,
    },
    /// The template and parameters are what the stack already has.
    NoChanges,
}

/// What to make a change set of.
pub struct ChangeSetInput<'a> {
    pub stack_name: &'a str,
    pub kind: ChangeSetType,
    pub template_url: &'a str,
    pub parameters: &'a [(String, String)],
    pub tags: &'a [(String, String)],
    pub description: &'a str,
}

/// AWS's words for a change set without changes: the `FAILED` status reason of the change set
/// (what AWS does), or the `ValidationError` that some emulators (moto) raise at once instead.
fn means_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Change set names: a letter, then letters, digits and hyphens, at most 128.
fn change_set_name() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "catalog-{:04}{:02}{:02}-{:02}{:02}{:02}-{:03}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// Creates a change set and waits until it is ready or failed. A change set that changes nothing
/// is deleted and reported as [`ChangeSetOutcome::NoChanges`]; one that fails for another reason
/// is deleted (with the empty stack a CREATE change set made) and returned as an error with
/// CloudFormation's reason. When CreateChangeSet itself is refused, nothing was made and nothing
/// is deleted: a stack of that name may be someone else's.
pub async fn create(
    cfn: &Client,
    input: &ChangeSetInput<'_>,
    poll: Duration,
) -> Result<ChangeSetOutcome, DeployError> {
    let parameters: Vec<Parameter> = input
        .parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(value)
                .build()
        })
        .collect();
    let tags: Vec<Tag> = input
        .tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect();
    let created = cfn
        .create_change_set()
        .stack_name(input.stack_name)
        .change_set_name(change_set_name())
        .change_set_type(input.kind.clone())
        .template_url(input.template_url)
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .capabilities(Capability::CapabilityIam)
        .description(input.description)
        .send()
        .await;
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            let message = aws_session::explain(&error);
            if means_no_changes(&message) {
                return Ok(ChangeSetOutcome::NoChanges);
            }
            return Err(DeployError::ChangeSetFailed { reason: message });
        }
    };
    let id = created.id().unwrap_or_default().to_owned();
    let stack_id = created.stack_id().unwrap_or_default().to_owned();

    loop {
        let described = cfn
            .describe_change_set()
            .change_set_name(&id)
            .send()
            .await
            .map_err(aws("reading the change set"))?;
        let status = described.status().map(|s| s.as_str()).unwrap_or_default();
        match status {
            "CREATE_COMPLETE" => break,
            "FAILED" => {
                let reason = described
                    .status_reason()
                    .unwrap_or("no reason given")
                    .to_owned();
                delete(cfn, &id).await?;
                if means_no_changes(&reason) {
                    return Ok(ChangeSetOutcome::NoChanges);
                }
                if input.kind == ChangeSetType::Create {
                    discard_review_stack(cfn, &stack_id).await;
                }
                return Err(DeployError::ChangeSetFailed { reason });
            }
            _ => tokio::time::sleep(poll).await,
        }
    }
    let changes = changes(cfn, &id).await?;
    Ok(ChangeSetOutcome::Ready {
        id,
        stack_id,
        changes,
    })
}

/// Every change of a change set, across its pages.
async fn changes(cfn: &Client, id: &str) -> Result<Vec<ResourceChange>, DeployError> {
    let mut rows = Vec::new();
    let mut next = None;
    loop {
        let page = cfn
            .describe_change_set()
            .change_set_name(id)
            .set_next_token(next)
            .send()
            .await
            .map_err(aws("reading the change set's changes"))?;
        for change in page.changes() {
            let Some(resource) = change.resource_change() else {
                continue;
            };
            rows.push(ResourceChange {
                action: resource
                    .action()
                    .map(|a| a.as_str().to_owned())
                    .unwrap_or_default(),
                logical_id: resource
                    .logical_resource_id()
                    .unwrap_or_default()
                    .to_owned(),
                resource_type: resource.resource_type().unwrap_or_default().to_owned(),
                replacement: resource.replacement().map(|r| r.as_str().to_owned()),
            });
        }
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            return Ok(rows);
        }
    }
}

/// After a CREATE change set that is not executed, CloudFormation leaves an empty stack in
/// REVIEW_IN_PROGRESS; it is removed (by its id, so only that very stack) so that nothing is left
/// behind. Best effort: a stack left there is reused by the next deploy anyway.
pub async fn discard_review_stack(cfn: &Client, stack_id: &str) {
    let _ = cfn.delete_stack().stack_name(stack_id).send().await;
}

/// Deletes a change set (it changed nothing, failed, or was declined).
pub async fn delete(cfn: &Client, id: &str) -> Result<(), DeployError> {
    cfn.delete_change_set()
        .change_set_name(id)
        .send()
        .await
        .map_err(aws("deleting the change set"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_no_changes_are_recognised() {
        assert!(means_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(means_no_changes(
            "ValidationError: No updates are to be performed."
        ));
        assert!(!means_no_changes("Template format error"));
    }

    #[test]
    fn change_set_names_are_valid() {
        let name = change_set_name();
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphabetic()),
            "{name}"
        );
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{name}"
        );
        assert!(name.len() <= 128);
    }
}
