//! The measurement: read the environment's stack (its role and data store per route group),
//! upload the packages, then for each architecture, pattern and route group a temporary function
//! whose every sample is a forced cold start (a configuration change, waited for until Lambda says
//! it is done, then one synchronous Invoke with the API Gateway event of the group); and, whatever
//! happens, every function it created deleted at the end.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    ApplicationLogLevel, Environment, FunctionCode, InvocationType, LastUpdateStatus, LogFormat,
    LogType, LoggingConfig, Runtime, State, SystemLogLevel,
};
use aws_session::Session;
use aws_types::request_id::RequestId;
use base64::Engine;
use deployer::Deployer;
use measure::coldstart::{
    ColdstartRun, ForceColdStart, GroupResult, PatternResult, probe_function, probe_path,
};
use packaging::{Architecture, Artifact};
use platform_report::Report;
use proxy_event::ProxyRequest;
use serde::Serialize;
use stack::{ApiTemplate, Deployment, EnvConfig, Pattern};

use crate::cost::{Cost, Usage};
use crate::error::{ColdstartError, aws};
use crate::interrupt::Interrupt;
use crate::progress::{Progress, Upload};

/// The variable whose change forces each cold start.
pub const SAMPLE_VARIABLE: &str = "COLDSTART_SAMPLE";
/// The tag every temporary function carries, with the run's id: how to find leftovers.
pub const RUN_TAG: &str = "catalog:coldstart-run";

/// What to measure.
pub struct Plan {
    pub env: String,
    /// The environment's settings (stage, region, pools, ...), as the stack was rendered from.
    pub config: EnvConfig,
    pub patterns: Vec<Pattern>,
    pub architectures: Vec<Architecture>,
    pub memory_mb: Vec<u32>,
    /// Cold starts per pattern, architecture, memory size and route group.
    pub samples: usize,
    /// The packages of every pattern's functions, for every architecture.
    pub packages: Vec<Artifact>,
    /// The command line, recorded in the JSON file.
    pub command: String,
}

impl Plan {
    /// Cold starts the plan forces in all.
    pub fn cold_starts(&self) -> usize {
        let groups = routes::Group::ALL.len();
        self.patterns.len()
            * self.architectures.len()
            * self.memory_mb.len()
            * groups
            * self.samples
    }

    fn check(&self) -> Result<(), ColdstartError> {
        let plan = |why: String| Err(ColdstartError::Plan(why));
        if self.samples == 0 {
            return plan("--samples must be at least 1".into());
        }
        if self.patterns.is_empty() || self.architectures.is_empty() || self.memory_mb.is_empty() {
            return plan("name at least one pattern, architecture and memory size".into());
        }
        // Lambda's bounds for MemorySize.
        if let Some(bad) = self.memory_mb.iter().find(|m| !(128..=10240).contains(*m)) {
            return plan(format!("--memory {bad}: Lambda takes 128 to 10240 MB"));
        }
        Ok(())
    }
}

/// How often and how long to wait on Lambda.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Between two looks at a function's state or at CloudWatch Logs.
    pub poll: Duration,
    /// The longest a creation or a configuration update may take.
    pub max_update: Duration,
    /// The longest to wait for a report in CloudWatch Logs when the log tail lacks it.
    pub max_log_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(500),
            max_update: Duration::from_secs(300),
            max_log_wait: Duration::from_secs(60),
        }
    }
}

/// What the run created and what it deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Cleanup {
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    /// Functions that could not be deleted, with why.
    pub left_behind: Vec<(String, String)>,
}

impl Cleanup {
    /// One line: `created 12 functions, deleted 12`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "created {} temporary function(s), deleted {}",
            self.created.len(),
            self.deleted.len()
        );
        if !self.left_behind.is_empty() {
            let names: Vec<String> = self
                .left_behind
                .iter()
                .map(|(name, why)| format!("{name} ({why})"))
                .collect();
            line.push_str(&format!(
                "; NOT deleted: {}. Delete them with `aws lambda delete-function --function-name NAME`",
                names.join(", ")
            ));
        }
        line
    }
}

/// A whole run, as written to the JSON file: the results (as the local command writes them, with
/// the region) and what was created, deleted and used.
#[derive(Debug, Clone, Serialize)]
pub struct AwsRun {
    #[serde(flatten)]
    pub run: ColdstartRun,
    pub stack: String,
    pub run_id: String,
    pub cost: Cost,
    pub functions: Cleanup,
}

impl AwsRun {
    /// The table and the lith/fat ratios, as the local command prints them, with the
    /// architecture and the memory size as columns.
    pub fn table(&self) -> String {
        measure::coldstart::render_tables(&self.run)
    }

    /// Writes `coldstart.json` (this run, every raw sample, what was created and what it cost),
    /// `coldstart.svg` and `coldstart.txt` into `dir`; returns their paths by kind.
    pub fn write(
        &self,
        dir: &std::path::Path,
    ) -> std::io::Result<BTreeMap<&'static str, std::path::PathBuf>> {
        measure::coldstart::write_outputs_with(self, &self.run, dir)
    }
}

/// A run that failed or was interrupted, with what it cleaned up.
#[derive(Debug, thiserror::Error)]
#[error("{error}; {}", cleanup.summary())]
pub struct RunError {
    pub error: ColdstartError,
    pub cleanup: Cleanup,
    /// What it used before it stopped.
    pub cost: Cost,
}

/// A function of the stack, and what a measurement function copies from it.
#[derive(Debug, Clone)]
struct StackFunction {
    name: String,
    role: String,
    variables: HashMap<String, String>,
    timeout: Option<i32>,
    log_format: Option<LogFormat>,
    /// What the function's own records are filtered at (JSON only), which the measured
    /// functions keep so that they log as the stack's do.
    application_log_level: Option<ApplicationLogLevel>,
}

/// What the measurement takes from the deployed stack.
struct StackFacts {
    name: String,
    /// By route group: the stack's function that serves it.
    by_group: BTreeMap<String, StackFunction>,
    functions: Vec<String>,
    /// The REST API's id, for the events' `requestContext`.
    api_id: Option<String>,
}

/// A measurement function, what it is like, and the event it is invoked with.
struct Subject<'a> {
    name: &'a str,
    like: &'a StackFunction,
    event: &'a [u8],
}

/// The AWS way to force a cold start: a configuration change (the memory size, and the sample's
/// number in a variable, so that every sample changes it), waited for until LastUpdateStatus is
/// Successful; Lambda then starts the next invocation in a new execution environment.
struct ConfigurationChange<'a> {
    measurement: &'a Measurement,
    subject: &'a Subject<'a>,
    memory: u32,
}

impl ForceColdStart for ConfigurationChange<'_> {
    type Error = ColdstartError;

    async fn force_cold_start(&mut self, sample: usize) -> Result<(), ColdstartError> {
        let (name, memory) = (self.subject.name, self.memory);
        self.measurement
            .lambda
            .update_function_configuration()
            .function_name(name)
            .memory_size(memory as i32)
            .environment(environment(
                &self.subject.like.variables,
                &format!("{memory}-{sample}"),
            ))
            .send()
            .await
            .map_err(aws(format!("changing the configuration of {name}")))?;
        self.measurement
            .wait_until_ready(name, "the configuration update")
            .await
    }
}

/// One function to measure: a pattern's function serving one group, built for one architecture.
struct Target<'p> {
    pattern: Pattern,
    architecture: Architecture,
    group: String,
    package: &'p Artifact,
    template: ApiTemplate,
}

/// The measurement, on one session.
pub struct Measurement {
    session: Session,
    lambda: aws_sdk_lambda::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    deployer: Deployer,
    timing: Timing,
    run_id: String,
}

impl Measurement {
    pub fn new(session: Session) -> Measurement {
        Measurement {
            lambda: aws_sdk_lambda::Client::new(&session.config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&session.config),
            deployer: Deployer::new(session.clone()),
            session,
            timing: Timing::default(),
            run_id: run_id(),
        }
    }

    pub fn timing(mut self, timing: Timing) -> Measurement {
        self.timing = timing;
        self
    }

    /// The run's id, in every function's name and tag.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Measures `plan`. Every function it creates is deleted before it returns, whether the
    /// measurement ended, failed, or was interrupted through `interrupt`.
    pub async fn run(
        &self,
        plan: &Plan,
        progress: &mut dyn Progress,
        interrupt: &Interrupt,
    ) -> Result<AwsRun, RunError> {
        let mut ledger = Ledger::default();
        let mut usage = Usage::default();
        let measured = tokio::select! {
            result = self.measure(plan, progress, &mut ledger, &mut usage) => result,
            () = interrupt.wait() => Err(ColdstartError::Interrupted),
        };
        progress.end();
        if matches!(measured, Err(ColdstartError::Interrupted)) {
            progress.step("interrupted: deleting what this run created");
        }
        let cleanup = self.clean_up(&mut ledger, progress).await;
        let cost = usage.cost();
        match measured {
            Ok((stack, patterns)) => Ok(AwsRun {
                run: ColdstartRun {
                    machine: measure::machine::Machine::read(),
                    command: plan.command.clone(),
                    finished_at: measure::machine::now_rfc3339(),
                    samples: plan.samples,
                    burst: 0,
                    aws_region: Some(self.session.region.clone()),
                    floor: None,
                    patterns,
                },
                stack,
                run_id: self.run_id.clone(),
                cost,
                functions: cleanup,
            }),
            Err(error) => Err(RunError {
                error,
                cleanup,
                cost,
            }),
        }
    }

    async fn measure(
        &self,
        plan: &Plan,
        progress: &mut dyn Progress,
        ledger: &mut Ledger,
        usage: &mut Usage,
    ) -> Result<(String, Vec<PatternResult>), ColdstartError> {
        plan.check()?;
        let facts = self.read_stack(plan, progress).await?;
        let targets = targets(plan)?;

        let packages: Vec<Artifact> = {
            let mut unique: Vec<Artifact> = Vec::new();
            for target in &targets {
                if !unique.iter().any(|a| a.zip == target.package.zip) {
                    unique.push(target.package.clone());
                }
            }
            unique
        };
        let locations = self
            .deployer
            .upload_packages(&packages, &mut Upload(progress))
            .await?;
        let location_of = |artifact: &Artifact| {
            packages
                .iter()
                .position(|a| a.zip == artifact.zip)
                .map(|i| locations[i].clone())
                .expect("every target's package was uploaded")
        };

        progress.step(&format!(
            "{} cold starts: {} sample(s) per pattern, architecture, memory size ({}) and route group",
            plan.cold_starts(),
            plan.samples,
            plan.memory_mb
                .iter()
                .map(|m| format!("{m} MB"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        progress.begin(plan.cold_starts());
        let mut done = 0;
        // (architecture, pattern, memory) -> its result, in the order measured.
        let mut results: Vec<PatternResult> = Vec::new();
        for target in &targets {
            let stack_function =
                facts
                    .by_group
                    .get(&target.group)
                    .ok_or_else(|| ColdstartError::NoFunctionFor {
                        stack: facts.name.clone(),
                        env: plan.env.clone(),
                        pattern: "lith".into(),
                        group: target.group.clone(),
                    })?;
            let name = self.function_name(plan, target)?;
            if facts.functions.contains(&name) {
                return Err(ColdstartError::Plan(format!(
                    "{name} is a function of stack {}: refusing to touch it",
                    facts.name
                )));
            }
            let location = location_of(target.package);
            let label = |memory: u32| {
                format!(
                    "{} {} {memory} MB · {}",
                    target.pattern.name(),
                    target.architecture.as_str(),
                    target.group
                )
            };
            self.create(
                &name,
                target,
                stack_function,
                &location,
                plan.memory_mb[0],
                ledger,
            )
            .await?;
            let event = event_for(target, facts.api_id.as_deref(), &self.session.region)?;
            for &memory in &plan.memory_mb {
                let mut group =
                    GroupResult::new(&target.group, &name, target.package.function.name());
                group.zip_bytes = Some(target.package.zip_size);
                group.binary_bytes = Some(target.package.binary_size);
                for sample in 1..=plan.samples {
                    let (report, round_trip) = self
                        .cold_start(
                            &Subject {
                                name: &name,
                                like: stack_function,
                                event: &event,
                            },
                            (memory, sample),
                            progress,
                            usage,
                        )
                        .await?;
                    usage.billed(
                        target.architecture,
                        memory,
                        report.billed_duration_ms.unwrap_or_else(|| {
                            (report.duration_ms + report.init_duration_ms.unwrap_or(0.0)).ceil()
                                as u64
                        }),
                    );
                    if !group.record(report, round_trip, None) {
                        progress.note(&format!(
                            "{name} sample {sample}: the report has no Init Duration, so it is not counted as a cold start"
                        ));
                    }
                    done += 1;
                    progress.sample(
                        done,
                        &format!("{} {sample}/{}", label(memory), plan.samples),
                    );
                }
                let key = (target.architecture.as_str(), target.pattern.name(), memory);
                match results.iter_mut().find(|r| {
                    (r.architecture.as_deref(), r.pattern.as_str(), r.memory_mb)
                        == (Some(key.0), key.1, Some(key.2))
                }) {
                    Some(result) => result.groups.push(group),
                    None => results.push(PatternResult {
                        pattern: key.1.to_owned(),
                        architecture: Some(key.0.to_owned()),
                        memory_mb: Some(memory),
                        deployment: None,
                        groups: vec![group],
                    }),
                }
            }
            // Done with it: deleted now, so that at most one is alive at a time.
            self.delete(&name, ledger).await;
        }
        progress.end();
        Ok((facts.name, results))
    }

    /// `catalog-<env>-cs<run>-<pattern>-<group>-<x86|arm>`: the stack's functions are
    /// `catalog-<env>-<function>`, so the `cs<run>` part keeps these apart from them and from
    /// other runs.
    fn function_name(&self, plan: &Plan, target: &Target<'_>) -> Result<String, ColdstartError> {
        let architecture = match target.architecture {
            Architecture::X86_64 => "x86",
            Architecture::Arm64 => "arm",
        };
        let name = format!(
            "catalog-{}-cs{}-{}-{}-{architecture}",
            plan.env,
            self.run_id,
            target.pattern.name(),
            target.group
        );
        if name.len() > 64 {
            return Err(ColdstartError::Plan(format!(
                "{name} is longer than Lambda's 64 characters: use a shorter environment name"
            )));
        }
        Ok(name)
    }

    /// The stack of the environment, and for each route group the role, variables and timeout
    /// of the function that serves it.
    async fn read_stack(
        &self,
        plan: &Plan,
        progress: &mut dyn Progress,
    ) -> Result<StackFacts, ColdstartError> {
        let stack_name = stack::stack_name(&plan.env);
        progress.step(&format!(
            "reading stack {stack_name} in {}",
            self.session.destination()
        ));
        let summary =
            self.deployer
                .status(&stack_name)
                .await?
                .ok_or_else(|| ColdstartError::NoStack {
                    stack: stack_name.clone(),
                    env: plan.env.clone(),
                })?;
        let settled = matches!(
            summary.status.as_str(),
            "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_COMPLETE"
        );
        if !settled {
            return Err(ColdstartError::StackNotReady {
                stack: stack_name,
                env: plan.env.clone(),
                status: summary.status,
            });
        }
        let pattern: Pattern = match summary.pattern.as_deref().map(str::parse) {
            Some(Ok(pattern)) => pattern,
            // No tag (made by hand?): the functions say which.
            _ => pattern_of_functions(&plan.env, &plan.config, &summary.functions),
        };
        let template = render(pattern, plan, None)?;
        let mut by_group = BTreeMap::new();
        // Each group's measurement function copies the stack's function of the group's probe
        // (its role allows what the probe does, even with one function per route).
        for group in routes::Group::ALL {
            let Some(function) = probe_function(&template, group.name()) else {
                continue;
            };
            if !summary.functions.contains(&function.function_name) {
                continue;
            }
            let configuration = self
                .lambda
                .get_function_configuration()
                .function_name(&function.function_name)
                .send()
                .await
                .map_err(aws(format!(
                    "reading the configuration of {}",
                    function.function_name
                )))?;
            let found = StackFunction {
                name: function.function_name.clone(),
                role: configuration.role().unwrap_or_default().to_owned(),
                variables: configuration
                    .environment()
                    .and_then(|e| e.variables())
                    .cloned()
                    .unwrap_or_default(),
                timeout: configuration.timeout(),
                log_format: configuration
                    .logging_config()
                    .and_then(|l| l.log_format())
                    .cloned(),
                application_log_level: configuration
                    .logging_config()
                    .and_then(|l| l.application_log_level())
                    .cloned(),
            };
            by_group.insert(group.name().to_owned(), found);
        }
        for group in routes::Group::ALL {
            if !by_group.contains_key(group.name()) {
                return Err(ColdstartError::NoFunctionFor {
                    stack: stack_name,
                    env: plan.env.clone(),
                    pattern: pattern.name().into(),
                    group: group.name().into(),
                });
            }
        }
        progress.note(&format!(
            "{} ({} pattern), roles and store of {}",
            summary.status,
            pattern.name(),
            by_group
                .values()
                .map(|f| f.name.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        ));
        if let Some(store) = by_group.values().find_map(|f| f.variables.get("STORE_URL")) {
            progress.note(&format!("data store {store}"));
        }
        let api_id = summary.url.as_deref().and_then(|url| {
            url.strip_prefix("https://")?
                .split('.')
                .next()
                .map(str::to_owned)
        });
        Ok(StackFacts {
            name: stack_name,
            by_group,
            functions: summary.functions,
            api_id,
        })
    }

    /// Creates a measurement function like the stack's (role, variables, timeout, log format),
    /// and waits until it is Active. Its name is in the ledger before it is asked for, so an
    /// interruption during the request still deletes it.
    async fn create(
        &self,
        name: &str,
        target: &Target<'_>,
        like: &StackFunction,
        location: &deployer::PackageLocation,
        memory: u32,
        ledger: &mut Ledger,
    ) -> Result<(), ColdstartError> {
        let mut logging = LoggingConfig::builder();
        if let Some(format) = &like.log_format {
            logging = logging.log_format(format.clone());
            // The platform report is an INFO record: kept whatever the stack's level is.
            if *format == LogFormat::Json {
                logging = logging
                    .system_log_level(SystemLogLevel::Info)
                    .set_application_log_level(like.application_log_level.clone());
            }
        }
        ledger.asked(name);
        let mut create = self
            .lambda
            .create_function()
            .function_name(name)
            .description(format!(
                "cold-start measurement {} of stack {} (deleted at its end)",
                self.run_id, like.name
            ))
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(&like.role)
            .architectures(match target.architecture {
                Architecture::X86_64 => aws_sdk_lambda::types::Architecture::X8664,
                Architecture::Arm64 => aws_sdk_lambda::types::Architecture::Arm64,
            })
            .code(
                FunctionCode::builder()
                    .s3_bucket(&location.bucket)
                    .s3_key(&location.key)
                    .build(),
            )
            .memory_size(memory as i32)
            .environment(environment(&like.variables, "0"))
            .logging_config(logging.build())
            .tags(RUN_TAG, &self.run_id)
            .tags("project", "catalog");
        if let Some(timeout) = like.timeout {
            create = create.timeout(timeout);
        }
        create
            .send()
            .await
            .map_err(aws(format!("creating function {name}")))?;
        ledger.created(name);
        self.wait_until_ready(name, "its creation").await
    }

    /// Waits until the function is Active and its last update Successful.
    async fn wait_until_ready(&self, name: &str, what: &'static str) -> Result<(), ColdstartError> {
        let started = Instant::now();
        loop {
            let configuration = self
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(aws(format!("reading the state of {name}")))?;
            let state = configuration.state();
            let update = configuration.last_update_status();
            if state == Some(&State::Failed) {
                return Err(ColdstartError::UpdateFailed {
                    function: name.to_owned(),
                    what,
                    reason: configuration
                        .state_reason()
                        .unwrap_or("no reason given")
                        .to_owned(),
                });
            }
            if update == Some(&LastUpdateStatus::Failed) {
                return Err(ColdstartError::UpdateFailed {
                    function: name.to_owned(),
                    what,
                    reason: configuration
                        .last_update_status_reason()
                        .unwrap_or("no reason given")
                        .to_owned(),
                });
            }
            let active = matches!(state, None | Some(State::Active));
            let updated = matches!(update, None | Some(LastUpdateStatus::Successful));
            if active && updated {
                return Ok(());
            }
            if started.elapsed() > self.timing.max_update {
                return Err(ColdstartError::Timeout {
                    function: name.to_owned(),
                    what,
                    seconds: self.timing.max_update.as_secs(),
                });
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    /// One forced cold start ([`ConfigurationChange`]), then the Invoke. Returns the report and
    /// the Invoke's round trip in ms.
    async fn cold_start(
        &self,
        subject: &Subject<'_>,
        (memory, sample): (u32, usize),
        progress: &mut dyn Progress,
        usage: &mut Usage,
    ) -> Result<(Report, f64), ColdstartError> {
        let Subject { name, event, .. } = *subject;
        ConfigurationChange {
            measurement: self,
            subject,
            memory,
        }
        .force_cold_start(sample)
        .await?;

        let started = Instant::now();
        let output = self
            .lambda
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::RequestResponse)
            .log_type(LogType::Tail)
            .payload(Blob::new(event.to_vec()))
            .send()
            .await
            .map_err(aws(format!("invoking {name}")))?;
        usage.invoked();
        let round_trip = started.elapsed().as_secs_f64() * 1000.0;
        let tail = output
            .log_result()
            .and_then(|encoded| {
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
            })
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let payload = output
            .payload()
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default();
        if let Some(kind) = output.function_error() {
            return Err(ColdstartError::FunctionError {
                function: name.to_owned(),
                kind: kind.to_owned(),
                detail: function_error_detail(&payload),
                log: tail,
            });
        }
        if let Some(status) = serde_json::from_str::<serde_json::Value>(&payload)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64))
            .filter(|status| *status >= 500)
        {
            progress.note(&format!(
                "warning: {name} answered {status}: the first request did not do its usual work \
                 (see its log: the role may lack a permission on the store)"
            ));
        }
        let request_id = output.request_id().map(str::to_owned);
        if let Some(report) = pick(platform_report::reports_in(&tail), request_id.as_deref()) {
            return Ok((report, round_trip));
        }
        let report = self
            .report_from_cloudwatch(name, request_id.as_deref())
            .await?;
        Ok((report, round_trip))
    }

    /// The report of `request_id` from the function's log group, for when the 4 KB log tail
    /// had no room for it; polled, since logs arrive a little after the invocation.
    async fn report_from_cloudwatch(
        &self,
        name: &str,
        request_id: Option<&str>,
    ) -> Result<Report, ColdstartError> {
        let log_group = format!("/aws/lambda/{name}");
        let started = Instant::now();
        loop {
            let mut request = self.logs.filter_log_events().log_group_name(&log_group);
            if let Some(id) = request_id {
                request = request.filter_pattern(format!("\"{id}\""));
            }
            match request.send().await {
                Ok(found) => {
                    let text: Vec<&str> =
                        found.events().iter().filter_map(|e| e.message()).collect();
                    if let Some(report) =
                        pick(platform_report::reports_in(&text.join("\n")), request_id)
                    {
                        return Ok(report);
                    }
                }
                // The group appears with the function's first log line.
                Err(error)
                    if aws_session::error_code(&error) == Some("ResourceNotFoundException") => {}
                Err(error) => {
                    return Err(aws(format!("reading {log_group}"))(error));
                }
            }
            if started.elapsed() > self.timing.max_log_wait {
                return Err(ColdstartError::NoReport {
                    function: name.to_owned(),
                    request_id: request_id.unwrap_or("(unknown)").to_owned(),
                    log_group,
                    seconds: self.timing.max_log_wait.as_secs(),
                });
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    /// Deletes a function (and its log group); what happened goes in the ledger.
    async fn delete(&self, name: &str, ledger: &mut Ledger) {
        match self
            .lambda
            .delete_function()
            .function_name(name)
            .send()
            .await
        {
            Ok(_) => ledger.deleted(name),
            // Asked for and never made (an interruption during the creation), or gone already.
            Err(error) if aws_session::error_code(&error) == Some("ResourceNotFoundException") => {
                ledger.never_made(name)
            }
            Err(error) => ledger.failed(name, aws_session::explain(&error)),
        }
        // Its log group holds the run's logs: a few kB, deleted with it.
        let _ = self
            .logs
            .delete_log_group()
            .log_group_name(format!("/aws/lambda/{name}"))
            .send()
            .await;
    }

    /// Deletes every function still alive, and says what was created and deleted.
    async fn clean_up(&self, ledger: &mut Ledger, progress: &mut dyn Progress) -> Cleanup {
        let alive: Vec<String> = ledger.alive.clone();
        if !alive.is_empty() {
            progress.step(&format!("deleting {} temporary function(s)", alive.len()));
        }
        for name in alive {
            self.delete(&name, ledger).await;
            progress.note(&format!("deleted {name}"));
        }
        let cleanup = ledger.cleanup();
        progress.step(&cleanup.summary());
        cleanup
    }
}

/// The functions to measure, in order: per architecture, per pattern, per route group.
fn targets(plan: &Plan) -> Result<Vec<Target<'_>>, ColdstartError> {
    let mut targets = Vec::new();
    for &architecture in &plan.architectures {
        for &pattern in &plan.patterns {
            let template = render(pattern, plan, Some(architecture))?;
            for group in routes::Group::ALL {
                let function = probe_function(&template, group.name()).ok_or_else(|| {
                    ColdstartError::Plan(format!(
                        "the {} template has no function for {}",
                        pattern.name(),
                        group.name()
                    ))
                })?;
                let package = plan
                    .packages
                    .iter()
                    .find(|a| {
                        a.function.name() == function.package && a.architecture == architecture
                    })
                    .ok_or_else(|| {
                        ColdstartError::MissingPackage(format!(
                            "{} ({})",
                            function.package,
                            architecture.as_str()
                        ))
                    })?;
                targets.push(Target {
                    pattern,
                    architecture,
                    group: group.name().to_owned(),
                    package,
                    template: template.clone(),
                });
            }
        }
    }
    Ok(targets)
}

/// The pattern's template for the environment, read back as the local stack reads it.
/// The pattern whose every function a stack has, by the deployment model's names; fat when none
/// has them all.
fn pattern_of_functions(env: &str, config: &EnvConfig, functions: &[String]) -> Pattern {
    Pattern::ALL
        .into_iter()
        .find(|&pattern| {
            Deployment::new(pattern, env, config.clone())
                .functions
                .iter()
                .all(|function| functions.contains(&function.function_name))
        })
        .unwrap_or(Pattern::Fat)
}

fn render(
    pattern: Pattern,
    plan: &Plan,
    architecture: Option<Architecture>,
) -> Result<ApiTemplate, ColdstartError> {
    let mut config = plan.config.clone();
    if let Some(architecture) = architecture {
        config.architecture = architecture;
    }
    let deployment = Deployment::new(pattern, &plan.env, config);
    let rendered = stack::render(&deployment).map_err(|e| {
        ColdstartError::Plan(format!("rendering the {} template: {e}", pattern.name()))
    })?;
    ApiTemplate::read(&rendered)
        .map_err(|e| ColdstartError::Plan(format!("reading the {} template: {e}", pattern.name())))
}

/// The event API Gateway sends the group's function for its probe (`GET /api/v0/projects?limit=1`,
/// `GET /health`), matched against the pattern's template as the local gateway matches it, with
/// the headers API Gateway adds.
fn event_for(
    target: &Target<'_>,
    api_id: Option<&str>,
    region: &str,
) -> Result<Vec<u8>, ColdstartError> {
    let path = probe_path(&target.group);
    let mut request = ProxyRequest::for_route(&target.template, "GET", &path).map_err(|_| {
        ColdstartError::Plan(format!(
            "GET {path} matches no method of the {} template",
            target.pattern.name()
        ))
    })?;
    let api_id = api_id.unwrap_or("coldstart");
    request.api_id = api_id.to_owned();
    let request = request
        .header(
            "Host",
            &format!("{api_id}.execute-api.{region}.amazonaws.com"),
        )
        .header("User-Agent", "catalog-coldstart")
        .header("Accept", "application/json")
        .header("X-Forwarded-Port", "443")
        .header("X-Forwarded-Proto", "https");
    Ok(request.to_event().to_string().into_bytes())
}

/// The stack function's variables, and the sample marker.
fn environment(variables: &HashMap<String, String>, sample: &str) -> Environment {
    let mut variables = variables.clone();
    variables.insert(SAMPLE_VARIABLE.into(), sample.into());
    Environment::builder()
        .set_variables(Some(variables))
        .build()
}

/// The report of `request_id`, or without an id the last one.
fn pick(reports: Vec<Report>, request_id: Option<&str>) -> Option<Report> {
    match request_id {
        Some(id) => reports.into_iter().find(|r| r.request_id == id),
        None => reports.into_iter().last(),
    }
}

/// `errorType: errorMessage` of a function error's payload, or the payload.
fn function_error_detail(payload: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    match (
        value.get("errorType").and_then(serde_json::Value::as_str),
        value
            .get("errorMessage")
            .and_then(serde_json::Value::as_str),
    ) {
        (Some(kind), Some(message)) => format!("{kind}: {message}"),
        (None, Some(message)) => message.to_owned(),
        _ if payload.is_empty() => "no payload".into(),
        _ => payload.to_owned(),
    }
}

/// A short id for the run: the time's low digits and the process, in hex.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{:06x}",
        ((nanos / 1000) as u64 ^ u64::from(std::process::id())) & 0xff_ffff
    )
}

/// The functions of a run: asked for, created, deleted. Dropped with functions still alive (the
/// clean-up never ran: a panic), it says which, so they can be deleted by hand.
#[derive(Debug, Default)]
struct Ledger {
    alive: Vec<String>,
    created: Vec<String>,
    deleted: Vec<String>,
    left_behind: Vec<(String, String)>,
}

impl Ledger {
    fn asked(&mut self, name: &str) {
        self.alive.push(name.to_owned());
    }

    fn created(&mut self, name: &str) {
        self.created.push(name.to_owned());
    }

    fn deleted(&mut self, name: &str) {
        self.alive.retain(|n| n != name);
        if !self.created.iter().any(|n| n == name) {
            // Made by a creation whose answer never came (interrupted): made all the same.
            self.created.push(name.to_owned());
        }
        self.deleted.push(name.to_owned());
    }

    fn never_made(&mut self, name: &str) {
        self.alive.retain(|n| n != name);
        if self.created.iter().any(|n| n == name) {
            // Created, and gone already: nothing is left of it.
            self.deleted.push(name.to_owned());
        }
    }

    fn failed(&mut self, name: &str, why: String) {
        self.alive.retain(|n| n != name);
        if !self.created.iter().any(|n| n == name) {
            self.created.push(name.to_owned());
        }
        self.left_behind.push((name.to_owned(), why));
    }

    fn cleanup(&self) -> Cleanup {
        Cleanup {
            created: self.created.clone(),
            deleted: self.deleted.clone(),
            left_behind: self.left_behind.clone(),
        }
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if !self.alive.is_empty() {
            eprintln!(
                "error: the cold-start measurement stopped before deleting its functions: {}. \
                 Delete them with `aws lambda delete-function --function-name NAME` (they carry \
                 the tag {RUN_TAG})",
                self.alive.join(", ")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untagged_stack_is_the_pattern_whose_functions_it_has() {
        let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
        let config = EnvConfig::load(&deploy, "dev").unwrap();
        let named = |names: &[&str]| -> Vec<String> {
            names.iter().map(|n| format!("catalog-dev-{n}")).collect()
        };
        let of = |names: &[&str]| pattern_of_functions("dev", &config, &named(names));
        assert_eq!(of(&["lith", "janitor"]), Pattern::Lith);
        assert_eq!(
            of(&["projects", "technologies", "meta", "janitor"]),
            Pattern::Fat
        );
        let mut single: Vec<&str> = routes::ROUTES.iter().map(|r| r.operation.slug()).collect();
        single.extend(["meta", "janitor"]);
        assert_eq!(of(&single), Pattern::Single);
        // Neither whole: fat, as before.
        assert_eq!(of(&["meta", "janitor"]), Pattern::Fat);
    }

    #[test]
    fn the_ledger_tells_created_from_deleted() {
        let mut ledger = Ledger::default();
        ledger.asked("a");
        ledger.created("a");
        ledger.deleted("a");
        // Interrupted during its creation, and never made.
        ledger.asked("b");
        ledger.never_made("b");
        // Interrupted during its creation, made all the same.
        ledger.asked("c");
        ledger.deleted("c");
        ledger.asked("d");
        ledger.created("d");
        ledger.failed("d", "AccessDeniedException".into());
        let cleanup = ledger.cleanup();
        assert_eq!(cleanup.created, ["a", "c", "d"]);
        assert_eq!(cleanup.deleted, ["a", "c"]);
        assert_eq!(
            cleanup.left_behind,
            [("d".to_owned(), "AccessDeniedException".to_owned())]
        );
        assert!(ledger.alive.is_empty());
        assert!(
            cleanup
                .summary()
                .contains("NOT deleted: d (AccessDeniedException)")
        );
    }

    #[test]
    fn function_errors_read_as_lambda_writes_them() {
        assert_eq!(
            function_error_detail(
                r#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 101"}"#
            ),
            "Runtime.ExitError: exit status 101"
        );
        assert_eq!(function_error_detail(""), "no payload");
    }
}
