//! The operations: deploy (bucket, uploads, change set, confirmation, execution followed to the
//! end), destroy and status.

use std::time::Duration;

use aws_sdk_cloudformation::Client as CloudFormation;
use aws_sdk_cloudformation::types::ChangeSetType;
use aws_session::Session;
use packaging::Artifact;
use serde_json::Value;
use stack::{Deployment, LoggingRole};

use crate::alarms::{self, AlarmState};
use crate::artifacts::{self, artifact_bucket_name, package_key, template_key};
use crate::changeset::{self, ChangeSetInput, ChangeSetOutcome};
use crate::error::{DeployError, aws};
use crate::events::{Follower, is_missing_stack};
use crate::logging_role::{self, LOGGING_ROLE_STACK};
use crate::progress::Progress;
use crate::summary::{self, StackSummary};
use crate::{ARCHITECTURE_TAG, PATTERN_TAG};

/// What to deploy: the deployment (pattern, environment), its rendered template, and the
/// packages of its functions, built for the environment's architecture.
pub struct DeployRequest<'a> {
    pub deployment: &'a Deployment,
    pub template: &'a Value,
    pub artifacts: &'a [Artifact],
}

/// Where an uploaded package is: `s3://<bucket>/<key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageLocation {
    pub bucket: String,
    pub key: String,
}

/// How a deploy ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deployed {
    /// The change set was executed; the stack as it is now.
    Changed(StackSummary),
    /// The stack already was what the template says.
    NoChanges(StackSummary),
    /// The change set was shown and not wanted; it was deleted and nothing changed.
    Declined,
}

/// How a destroy ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destroyed {
    /// The stack is gone; the artifact bucket is kept, and so is whatever the template retains.
    Deleted {
        artifact_bucket: String,
        retained: Vec<String>,
    },
    /// There was no such stack.
    NothingThere,
    Declined,
}

/// Where a stack stands before a change.
enum Existing {
    /// No stack: a change set of type CREATE.
    None,
    /// A stack that takes an UPDATE change set.
    Updatable,
    /// An empty stack that a change set made and nobody executed: CREATE again.
    InReview,
    /// Its creation failed and was rolled back: it must be deleted before it is created again.
    FailedCreation { id: String },
}

pub struct Deployer {
    session: Session,
    cfn: CloudFormation,
    s3: aws_sdk_s3::Client,
    apigw: aws_sdk_apigateway::Client,
    poll: Duration,
}

impl Deployer {
    pub fn new(session: Session) -> Deployer {
        // Path-style S3 addresses where requests go to an endpoint of one's own (moto,
        // LocalStack, MinIO): a bucket name cannot become a host name there.
        let s3_config = aws_sdk_s3::config::Builder::from(&session.config)
            .force_path_style(session.endpoint.is_some())
            .build();
        Deployer {
            cfn: CloudFormation::new(&session.config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            apigw: aws_sdk_apigateway::Client::new(&session.config),
            session,
            poll: Duration::from_secs(3),
        }
    }

    /// How often a change set and a running operation are polled (3 s by default, which is
    /// about how often CloudFormation's console refreshes).
    pub fn poll_every(mut self, poll: Duration) -> Deployer {
        self.poll = poll;
        self
    }

    /// Deploys `request`: see the crate's documentation for the steps.
    pub async fn deploy(
        &self,
        request: &DeployRequest<'_>,
        progress: &mut dyn Progress,
    ) -> Result<Deployed, DeployError> {
        let deployment = request.deployment;
        let stack_name = deployment.stack_name();
        let env = deployment.env_name.as_str();
        let architecture = deployment.config.architecture;
        let parameters_of_packages = self.package_parameters(request)?;

        progress.step(&format!(
            "deploying stack {stack_name} ({} pattern, {}) to {}",
            deployment.pattern.name(),
            architecture.as_str(),
            self.session.destination()
        ));
        let caller = self.session.caller().await?;
        progress.note(&format!("account {} as {}", caller.account, caller.arn));
        // Nothing is changed before it is known that the stack can take a change.
        let existing = self.existing(&stack_name, env).await?;

        // The logging role is checked before the bucket is made, so that a missing one leaves
        // everything as it was.
        let logging_role_wanted = self
            .check_logging_role(deployment.config.apigateway_logging_role, env, progress)
            .await?;

        let bucket = artifact_bucket_name(&caller.account, &self.session.region);
        artifacts::ensure_bucket(&self.s3, &bucket, &self.session.region, progress).await?;
        if logging_role_wanted {
            self.set_up_logging_role(&bucket, env, progress).await?;
        }

        progress.step(&format!("uploading packages to s3://{bucket}"));
        let mut parameters = vec![("ArtifactBucket".to_owned(), bucket.clone())];
        for (parameter, artifact) in parameters_of_packages {
            let key = self.upload_package(&bucket, artifact, progress).await?;
            parameters.push((parameter, key));
        }

        let mut tags: Vec<(String, String)> = deployment
            .config
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.push((PATTERN_TAG.into(), deployment.pattern.name().into()));
        tags.push((ARCHITECTURE_TAG.into(), architecture.as_str().into()));
        let description = format!(
            "cargo xtask deploy --pattern {} --env {env} ({})",
            deployment.pattern.name(),
            architecture.as_str()
        );
        let applied = self
            .apply(
                &Apply {
                    stack_name: &stack_name,
                    template: request.template,
                    bucket: &bucket,
                    parameters: &parameters,
                    tags: &tags,
                    description: &description,
                    confirm: true,
                },
                existing,
                progress,
            )
            .await?;
        let summary = || async {
            summary::describe(&self.cfn, &stack_name, &self.session.region)
                .await?
                .ok_or_else(|| DeployError::Aws {
                    action: format!("reading stack {stack_name} after the deploy"),
                    message: "the stack is not there".into(),
                })
        };
        Ok(match applied {
            Applied::Done => Deployed::Changed(summary().await?),
            Applied::NoChanges => Deployed::NoChanges(summary().await?),
            Applied::Declined => Deployed::Declined,
        })
    }

    /// Uploads one package under its content hash (only when absent) and says so; returns its key.
    async fn upload_package(
        &self,
        bucket: &str,
        artifact: &Artifact,
        progress: &mut dyn Progress,
    ) -> Result<String, DeployError> {
        let key = package_key(artifact.function.name(), &artifact.sha256);
        let body = std::fs::read(&artifact.zip).map_err(|source| DeployError::Package {
            path: artifact.zip.clone(),
            source,
        })?;
        let uploaded =
            artifacts::upload_if_absent(&self.s3, bucket, &key, body, "application/zip").await?;
        progress.note(&format!(
            "{:<13} {:>8} kB  {}  {}",
            artifact.function.name(),
            artifact.zip_size / 1000,
            &artifact.sha256[..12],
            if uploaded {
                "uploaded"
            } else {
                "already in the bucket"
            }
        ));
        Ok(key)
    }

    /// Uploads packages the way a deploy does, for a tool that makes functions of its own (the
    /// cold-start measurement in AWS): the account's artifact bucket, made when missing, each
    /// package under its content hash, only when absent. Returns where each one is, in order.
    pub async fn upload_packages(
        &self,
        packages: &[Artifact],
        progress: &mut dyn Progress,
    ) -> Result<Vec<PackageLocation>, DeployError> {
        let caller = self.session.caller().await?;
        let bucket = artifact_bucket_name(&caller.account, &self.session.region);
        artifacts::ensure_bucket(&self.s3, &bucket, &self.session.region, progress).await?;
        progress.step(&format!("uploading packages to s3://{bucket}"));
        let mut locations = Vec::new();
        for artifact in packages {
            let key = self.upload_package(&bucket, artifact, progress).await?;
            locations.push(PackageLocation {
                bucket: bucket.clone(),
                key,
            });
        }
        Ok(locations)
    }

    /// The `<Function>CodeKey` parameter of each function of the deployment, with its package.
    fn package_parameters<'r>(
        &self,
        request: &'r DeployRequest<'_>,
    ) -> Result<Vec<(String, &'r Artifact)>, DeployError> {
        let architecture = request.deployment.config.architecture;
        request
            .deployment
            .all_functions()
            .map(|function| {
                let artifact = request
                    .artifacts
                    .iter()
                    .find(|a| {
                        a.function.name() == function.package && a.architecture == architecture
                    })
                    .ok_or_else(|| {
                        DeployError::MissingPackage(format!(
                            "{} ({})",
                            function.package,
                            architecture.as_str()
                        ))
                    })?;
                Ok((
                    stack::render::code_key_parameter(function.package),
                    artifact,
                ))
            })
            .collect()
    }

    /// Where the stack stands, refusing the states in which it cannot take a change.
    async fn existing(&self, stack_name: &str, env: &str) -> Result<Existing, DeployError> {
        let stacks = match self
            .cfn
            .describe_stacks()
            .stack_name(stack_name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(error) if is_missing_stack(&aws_session::explain(&error)) => {
                return Ok(Existing::None);
            }
            Err(error) => return Err(aws(format!("looking for stack {stack_name}"))(error)),
        };
        let Some(stack) = stacks.stacks().first() else {
            return Ok(Existing::None);
        };
        let id = stack.stack_id().unwrap_or(stack_name).to_owned();
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        let stuck = |hint| DeployError::Stuck {
            stack: stack_name.to_owned(),
            env: env.to_owned(),
            status: status.clone(),
            hint,
        };
        match status.as_str() {
            "REVIEW_IN_PROGRESS" => Ok(Existing::InReview),
            "ROLLBACK_COMPLETE" => Ok(Existing::FailedCreation { id }),
            "UPDATE_ROLLBACK_FAILED" => Err(stuck(
                " until its rollback is continued (aws cloudformation continue-update-rollback)",
            )),
            "ROLLBACK_FAILED" | "DELETE_FAILED" => {
                Err(stuck(": some of its resources could not be deleted"))
            }
            busy if busy.ends_with("_IN_PROGRESS") => Err(DeployError::Busy {
                stack: stack_name.to_owned(),
                env: env.to_owned(),
                status: busy.to_owned(),
            }),
            _ => Ok(Existing::Updatable),
        }
    }

    /// Checks API Gateway's account-level logging role as the environment's
    /// `apigateway_logging_role` says: `Ok(true)` when it is to be made (`create`, and the account
    /// has none); a missing one under `existing` is an error (the stage's access log cannot be
    /// made without it); under `off` the stage has no access log and nothing is checked.
    async fn check_logging_role(
        &self,
        choice: LoggingRole,
        env: &str,
        progress: &mut dyn Progress,
    ) -> Result<bool, DeployError> {
        if choice == LoggingRole::Off {
            progress.note(
                "warning: the stage writes no access log (apigateway_logging_role = \"off\"); \
                 requests leave no trace but the functions' own logs",
            );
            return Ok(false);
        }
        if let Some(role) = logging_role::current_role(&self.apigw).await? {
            progress.note(&format!("API Gateway logs to CloudWatch with {role}"));
            return Ok(false);
        }
        let region = &self.session.region;
        match choice {
            LoggingRole::Create => {
                progress.step(&format!(
                    "API Gateway in {region} has no CloudWatch Logs role for the account, which the \
                     stage's access log needs: making it (apigateway_logging_role = \"create\"; \
                     stack {LOGGING_ROLE_STACK}, kept on destroy)"
                ));
                Ok(true)
            }
            _ => Err(self.no_logging_role(env)),
        }
    }

    fn no_logging_role(&self, env: &str) -> DeployError {
        DeployError::NoLoggingRole {
            region: self.session.region.clone(),
            stack: LOGGING_ROLE_STACK.into(),
            env: env.to_owned(),
        }
    }

    /// Deploys the logging role's stack (agreed to already) and checks that it took.
    async fn set_up_logging_role(
        &self,
        bucket: &str,
        env: &str,
        progress: &mut dyn Progress,
    ) -> Result<(), DeployError> {
        let existing = self.existing(LOGGING_ROLE_STACK, env).await?;
        self.apply(
            &Apply {
                stack_name: LOGGING_ROLE_STACK,
                template: &stack::logging_role_template(),
                bucket,
                parameters: &[],
                tags: &[("project".into(), "catalog".into())],
                description: "API Gateway's account-level CloudWatch Logs role",
                confirm: false,
            },
            existing,
            progress,
        )
        .await?;
        match logging_role::current_role(&self.apigw).await? {
            Some(role) => {
                progress.note(&format!("API Gateway now logs to CloudWatch with {role}"));
                Ok(())
            }
            None => Err(self.no_logging_role(env)),
        }
    }

    /// Makes a stack what `apply` says: upload its template, make a change set, show it, ask
    /// (when `confirm`), execute it and follow it to the end.
    async fn apply(
        &self,
        apply: &Apply<'_>,
        existing: Existing,
        progress: &mut dyn Progress,
    ) -> Result<Applied, DeployError> {
        let stack_name = apply.stack_name;
        let text = stack::to_file_text(apply.template);
        let key = template_key(stack_name, &packaging::sha256_hex(text.as_bytes()));
        artifacts::upload_if_absent(
            &self.s3,
            apply.bucket,
            &key,
            text.into_bytes(),
            "application/json",
        )
        .await?;
        let template_url = format!(
            "https://{}.s3.{}.amazonaws.com/{key}",
            apply.bucket, self.session.region
        );

        let kind = match existing {
            Existing::None | Existing::InReview => ChangeSetType::Create,
            Existing::Updatable => ChangeSetType::Update,
            Existing::FailedCreation { id } => {
                progress.step(&format!(
                    "stack {stack_name} is in ROLLBACK_COMPLETE: its creation failed earlier and \
                     it cannot be updated; deleting it to create it again"
                ));
                self.delete_and_follow(&id, stack_name, 0, progress).await?;
                ChangeSetType::Create
            }
        };

        progress.step(&format!(
            "creating a change set for {stack_name} ({})",
            kind.as_str()
        ));
        let outcome = changeset::create(
            &self.cfn,
            &ChangeSetInput {
                stack_name,
                kind: kind.clone(),
                template_url: &template_url,
                parameters: apply.parameters,
                tags: apply.tags,
                description: apply.description,
            },
            self.poll,
        )
        .await?;
        let (change_set, stack_id, changes) = match outcome {
            ChangeSetOutcome::NoChanges => {
                progress.step(&format!(
                    "no changes: stack {stack_name} already is what the template says"
                ));
                return Ok(Applied::NoChanges);
            }
            ChangeSetOutcome::Ready {
                id,
                stack_id,
                changes,
            } => (id, stack_id, changes),
        };
        progress.changes(&changes);
        if apply.confirm && !progress.confirm("Deploy this change set?") {
            changeset::delete(&self.cfn, &change_set).await?;
            if kind == ChangeSetType::Create {
                changeset::discard_review_stack(&self.cfn, &stack_id).await;
            }
            progress.step("not deployed: the change set was deleted and nothing changed");
            return Ok(Applied::Declined);
        }

        let mut follower = Follower::start(&self.cfn, &stack_id, self.poll).await?;
        self.cfn
            .execute_change_set()
            .change_set_name(&change_set)
            .send()
            .await
            .map_err(aws("executing the change set"))?;
        progress.begin("deploying", changes.len());
        let followed = follower.follow(stack_name, progress).await;
        progress.end();
        let (status, failures) = followed?;
        match status.as_str() {
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" => {
                progress.step(&format!("stack {stack_name}: {status}"));
                Ok(Applied::Done)
            }
            _ => Err(DeployError::Failed {
                operation: "the deployment",
                stack: stack_name.to_owned(),
                status,
                failures,
            }),
        }
    }

    /// Deletes a stack and follows the deletion to the end.
    async fn delete_and_follow(
        &self,
        stack_id: &str,
        stack_name: &str,
        resources: usize,
        progress: &mut dyn Progress,
    ) -> Result<Vec<String>, DeployError> {
        let mut follower = Follower::start(&self.cfn, stack_id, self.poll).await?;
        self.cfn
            .delete_stack()
            .stack_name(stack_id)
            .send()
            .await
            .map_err(aws(format!("deleting stack {stack_name}")))?;
        progress.begin("deleting", resources);
        let followed = follower.follow(stack_name, progress).await;
        progress.end();
        let (status, failures) = followed?;
        if status != "DELETE_COMPLETE" {
            return Err(DeployError::Failed {
                operation: "the deletion",
                stack: stack_name.to_owned(),
                status,
                failures,
            });
        }
        Ok(follower.retained())
    }

    /// Deletes the stack of an environment, after asking; the artifact bucket stays.
    pub async fn destroy(
        &self,
        stack_name: &str,
        env: &str,
        progress: &mut dyn Progress,
    ) -> Result<Destroyed, DeployError> {
        progress.step(&format!(
            "destroying stack {stack_name} in {}",
            self.session.destination()
        ));
        let caller = self.session.caller().await?;
        progress.note(&format!("account {} as {}", caller.account, caller.arn));
        let Some(summary) = summary::describe(&self.cfn, stack_name, &self.session.region).await?
        else {
            progress.step(&format!(
                "nothing to destroy: there is no stack {stack_name}"
            ));
            return Ok(Destroyed::NothingThere);
        };
        if summary.status.ends_with("_IN_PROGRESS") && summary.status != "REVIEW_IN_PROGRESS" {
            return Err(DeployError::Busy {
                stack: stack_name.to_owned(),
                env: env.to_owned(),
                status: summary.status,
            });
        }
        let resources = summary::resources(&self.cfn, &summary.id).await?.len();
        progress.note(&format!(
            "{} ({} pattern, {}), {resources} resources, {}",
            summary.status,
            summary.pattern.as_deref().unwrap_or("unknown"),
            summary
                .architecture
                .as_deref()
                .unwrap_or("unknown architecture"),
            summary.url.as_deref().unwrap_or("no URL")
        ));
        if !progress.confirm(&format!(
            "Delete stack {stack_name} and its {resources} resources?"
        )) {
            progress.step("not destroyed: nothing changed");
            return Ok(Destroyed::Declined);
        }
        let retained = self
            .delete_and_follow(&summary.id, stack_name, resources, progress)
            .await?;
        progress.step(&format!("stack {stack_name}: DELETE_COMPLETE"));
        Ok(Destroyed::Deleted {
            artifact_bucket: artifact_bucket_name(&caller.account, &self.session.region),
            retained,
        })
    }

    /// The stack as it is, or `None` when there is none.
    pub async fn status(&self, stack_name: &str) -> Result<Option<StackSummary>, DeployError> {
        summary::describe(&self.cfn, stack_name, &self.session.region).await
    }

    /// The states of the stack's alarms (none when the environment sets no `alarms`).
    pub async fn alarm_states(
        &self,
        summary: &StackSummary,
    ) -> Result<Vec<AlarmState>, DeployError> {
        if summary.alarms.is_empty() {
            return Ok(Vec::new());
        }
        let client = aws_sdk_cloudwatch::Client::new(&self.session.config);
        alarms::alarm_states(&client, &summary.alarms).await
    }

    pub fn session(&self) -> &Session {
        &self.session
    }
}

/// One stack change to make.
struct Apply<'a> {
    stack_name: &'a str,
    template: &'a Value,
    bucket: &'a str,
    parameters: &'a [(String, String)],
    tags: &'a [(String, String)],
    description: &'a str,
    /// Ask before executing (the API's stack); the logging role was agreed to already.
    confirm: bool,
}

enum Applied {
    Done,
    NoChanges,
    Declined,
}
