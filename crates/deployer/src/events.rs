//! Following a stack operation through its events, as the CloudFormation console does: each new
//! event shown once, in order, until the stack settles; resource failures kept with their reasons.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::Client;

use crate::error::{DeployError, aws};
use crate::progress::Progress;

/// One stack event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackEvent {
    pub id: String,
    /// `HH:MM:SS` (UTC).
    pub time: String,
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
}

/// A resource that failed, and CloudFormation's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

/// A stack status that no longer changes by itself.
pub fn is_settled(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Follows one stack's events from a point on.
pub struct Follower<'a> {
    cfn: &'a Client,
    stack_id: String,
    seen: HashSet<String>,
    poll: Duration,
    /// Resources the template keeps when the stack goes (`DELETE_SKIPPED`).
    retained: Vec<String>,
}

impl<'a> Follower<'a> {
    /// Starts following `stack_id` (an ARN, so a deleted stack can still be read): the events
    /// already there are old news and will not be shown.
    pub async fn start(
        cfn: &'a Client,
        stack_id: &str,
        poll: Duration,
    ) -> Result<Follower<'a>, DeployError> {
        let mut follower = Follower {
            cfn,
            stack_id: stack_id.to_owned(),
            seen: HashSet::new(),
            poll,
            retained: Vec::new(),
        };
        let old = follower.new_events().await?;
        follower.seen.extend(old.into_iter().map(|e| e.id));
        Ok(follower)
    }

    /// Events not seen yet, oldest first. Events come newest first, a page at a time, so pages
    /// are read until one holds an event already seen.
    async fn new_events(&self) -> Result<Vec<StackEvent>, DeployError> {
        let mut fresh = Vec::new();
        let mut next = None;
        loop {
            let page = match self
                .cfn
                .describe_stack_events()
                .stack_name(&self.stack_id)
                .set_next_token(next)
                .send()
                .await
            {
                Ok(page) => page,
                // A stack that is gone has no events left to read.
                Err(error) if is_missing_stack(&aws_session::explain(&error)) => break,
                Err(error) => return Err(aws("reading the stack's events")(error)),
            };
            let mut reached_seen = false;
            for event in page.stack_events() {
                let id = event.event_id().unwrap_or_default().to_owned();
                if self.seen.contains(&id) {
                    reached_seen = true;
                    break;
                }
                fresh.push(StackEvent {
                    id,
                    time: event
                        .timestamp()
                        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
                        .map(|t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))
                        .unwrap_or_else(|| "--:--:--".into()),
                    logical_id: event.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: event.resource_type().unwrap_or_default().to_owned(),
                    status: event
                        .resource_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    reason: event.resource_status_reason().map(str::to_owned),
                });
            }
            next = page.next_token().map(str::to_owned);
            if reached_seen || next.is_none() {
                break;
            }
        }
        fresh.reverse();
        Ok(fresh)
    }

    /// The stack's status now; `DELETE_COMPLETE` when it no longer exists.
    pub async fn status(&self) -> Result<String, DeployError> {
        match self
            .cfn
            .describe_stacks()
            .stack_name(&self.stack_id)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "DELETE_COMPLETE".into())),
            Err(error) if is_missing_stack(&aws_session::explain(&error)) => {
                Ok("DELETE_COMPLETE".into())
            }
            Err(error) => Err(aws("reading the stack's status")(error)),
        }
    }

    /// Shows every new event until the stack settles; returns its final status and the resource
    /// failures seen on the way (the first one is usually the cause, the rest its consequences).
    pub async fn follow(
        &mut self,
        stack_name: &str,
        progress: &mut dyn Progress,
    ) -> Result<(String, Vec<Failure>), DeployError> {
        let mut failures = Vec::new();
        let mut latest: BTreeMap<String, String> = BTreeMap::new();
        loop {
            // Status first, events second: events written before the status settled are then
            // all read in this same round.
            let status = self.status().await?;
            for event in self.new_events().await? {
                self.seen.insert(event.id.clone());
                progress.event(&event);
                let is_stack = event.logical_id == stack_name
                    && event.resource_type == "AWS::CloudFormation::Stack";
                if is_stack && event.status.ends_with("ROLLBACK_IN_PROGRESS") {
                    progress.step(&format!(
                        "{stack_name} failed: CloudFormation is rolling it back"
                    ));
                }
                if !is_stack {
                    if event.status.ends_with("_FAILED") {
                        failures.push(Failure {
                            logical_id: event.logical_id.clone(),
                            resource_type: event.resource_type.clone(),
                            status: event.status.clone(),
                            reason: event.reason.clone().unwrap_or_default(),
                        });
                    }
                    if event.status == "DELETE_SKIPPED" {
                        self.retained.push(event.logical_id.clone());
                    }
                    latest.insert(event.logical_id.clone(), event.status.clone());
                    let done = latest
                        .values()
                        .filter(|s| s.ends_with("_COMPLETE") || s.ends_with("_SKIPPED"))
                        .count();
                    progress.advance(done);
                }
            }
            if is_settled(&status) {
                return Ok((status, failures));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

impl Follower<'_> {
    /// The resources kept when the followed stack was deleted.
    pub fn retained(&self) -> Vec<String> {
        self.retained.clone()
    }
}

/// CloudFormation's answer for a stack that does not exist: a `ValidationError` saying so.
pub fn is_missing_stack(message: &str) -> bool {
    message.contains("does not exist")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_progress_statuses_are_not_settled() {
        for status in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert!(!is_settled(status), "{status}");
        }
        for status in [
            "CREATE_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
        ] {
            assert!(is_settled(status), "{status}");
        }
    }
}
