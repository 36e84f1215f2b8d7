//! One Lambda execution environment: a function's `bootstrap` unpacked from its zip, run as a
//! real process, and fed one event at a time through its own Runtime API.
//!
//! Starting one is a cold start; everything after the first invocation is warm, until a timeout,
//! a crash or an init error ends the environment, as in AWS.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::log::{LogLine, LogSink, LogStream};
use crate::platform_log::{PlatformEvent, PlatformLog, rfc3339_millis};
use crate::runtime_api::{
    ErrorReport, MAX_PAYLOAD_BYTES, QueuedInvocation, RuntimeApi, RuntimeApiConfig, RuntimeEvent,
};
use platform_report::Report;
use stack::{FunctionLogging, LogFormat};

/// How long Lambda lets an on-demand environment spend in its init phase.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// CloudWatch splits longer log events; so does this, which also bounds memory per line.
const MAX_LOG_LINE_BYTES: u64 = 256 * 1024;

/// How one function is deployed: what AWS::Lambda::Function would say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    pub name: String,
    /// The deployment package, with an executable `bootstrap` at its root.
    pub zip: PathBuf,
    pub memory_mb: u32,
    /// Limit for one invocation, counted from the moment the runtime receives the event.
    pub timeout: Duration,
    /// Limit for the init phase (process start until its first request for an event).
    pub init_timeout: Duration,
    pub region: String,
    /// The function's environment variables; they override the ones Lambda sets.
    pub env: BTreeMap<String, String>,
    /// `LoggingConfig`: the format of the platform records and the levels kept.
    pub logging: FunctionLogging,
}

impl FunctionConfig {
    /// A function with Lambda's defaults: 128 MB, 3 s timeout, us-east-1, no variables, text logs.
    pub fn new(name: impl Into<String>, zip: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            zip: zip.into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            init_timeout: DEFAULT_INIT_TIMEOUT,
            region: "us-east-1".to_owned(),
            env: BTreeMap::new(),
            logging: FunctionLogging::text(),
        }
    }

    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:000000000000:function:{}",
            self.region, self.name
        )
    }

    pub fn log_group(&self) -> String {
        format!("/aws/lambda/{}", self.name)
    }
}

/// A completed invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    pub request_id: String,
    /// The response payload as JSON (`null` when the runtime posted an empty body).
    pub response: Value,
    /// The response payload exactly as the runtime posted it.
    pub raw: Vec<u8>,
    pub report: Report,
    /// This invocation started the environment; its report carries the init duration.
    pub cold: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("reading deployment package {}: {source}", path.display())]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("zip entry {0:?} would land outside the task directory")]
    UnsafeZipEntry(String),
    #[error("deployment package {} has no `bootstrap` at its root", .0.display())]
    MissingBootstrap(PathBuf),
    #[error("starting the Runtime API server: {0}")]
    RuntimeApi(io::Error),
    #[error("starting {}: {source}", path.display())]
    Spawn { path: PathBuf, source: io::Error },
}

/// Why an invocation did not produce a response. After `Timeout`, `InitTimeout`, `Crashed`,
/// `ExitedBeforeTaking`, `InitError` and `Io` the environment is dead (see
/// [`InvokeError::is_fatal`]); the others leave it ready for the next event, as in AWS.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("task timed out after {:.2} seconds", after.as_secs_f64())]
    Timeout { after: Duration },
    #[error("init did not finish within {:.2} seconds", after.as_secs_f64())]
    InitTimeout { after: Duration },
    #[error("function process exited ({status}){}", init_error.as_ref().map(|e| format!(" after reporting init error {}: {}", e.error_type, e.message)).unwrap_or_default())]
    Crashed {
        status: ExitStatus,
        init_error: Option<ErrorReport>,
    },
    #[error("init failed: {error_type}: {message}")]
    InitError { error_type: String, message: String },
    #[error("function error: {error_type}: {message}")]
    FunctionError { error_type: String, message: String },
    #[error("response of {} bytes exceeds the {limit}-byte limit", size.map_or("too many".to_owned(), |s| s.to_string()))]
    ResponseTooLarge { size: Option<u64>, limit: usize },
    #[error("event of {size} bytes exceeds the {limit}-byte limit")]
    RequestTooLarge { size: usize, limit: usize },
    #[error("response is not JSON: {source}")]
    MalformedResponse {
        raw: Vec<u8>,
        source: serde_json::Error,
    },
    /// The process of a warm environment exited before its runtime took the event (it never
    /// received it): the invocation did not run, so it may run in another environment, as
    /// Lambda would place it.
    #[error("function process exited ({status}) before its runtime took the event")]
    ExitedBeforeTaking { status: ExitStatus },
    #[error("the execution environment is no longer alive")]
    Dead,
    #[error("watching the function process: {0}")]
    Io(#[from] io::Error),
}

impl InvokeError {
    /// The environment cannot serve another event; start a new one.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            Self::FunctionError { .. }
                | Self::ResponseTooLarge { .. }
                | Self::RequestTooLarge { .. }
                | Self::MalformedResponse { .. }
        )
    }

    /// Values for the REPORT line's `Status` and `Error Type` when the error ends the environment.
    fn report_status(&self) -> (Option<&'static str>, Option<String>) {
        match self {
            Self::Timeout { .. } | Self::InitTimeout { .. } => (Some("timeout"), None),
            Self::Crashed { .. } | Self::ExitedBeforeTaking { .. } => {
                (Some("error"), Some("Runtime.ExitError".to_owned()))
            }
            Self::InitError { error_type, .. } => (Some("error"), Some(error_type.clone())),
            Self::Io(_) | Self::Dead => (Some("error"), Some("Runtime.Unknown".to_owned())),
            _ => (None, None),
        }
    }
}

/// One running function process and its Runtime API. Dropping it kills the process and removes
/// its task directory; [`ExecutionEnvironment::shutdown`] does the same without blocking.
#[derive(Debug)]
pub struct ExecutionEnvironment {
    config: FunctionConfig,
    id: String,
    task_dir: PathBuf,
    platform: PlatformLog,
    api: RuntimeApi,
    /// In a mutex only so that `is_alive(&self)` can poll it; every other use has `&mut self`.
    child: Mutex<Child>,
    pid: u32,
    spawned_at: Instant,
    init_done_at: Option<Instant>,
    invocations: u64,
    dead: bool,
    /// An invocation started and never finished: its caller dropped it mid-way.
    busy: bool,
    task_dir_removed: bool,
    output: Vec<JoinHandle<()>>,
    max_memory_used_mb: Option<u32>,
    /// `/proc/<pid>/status`, kept open: every REPORT reads VmHWM from it, and re-reading an open
    /// procfs file from offset 0 saves the path lookup, open and close of each invocation.
    status_file: Option<fs::File>,
}

enum Step {
    Event(RuntimeEvent),
    Exited(io::Result<ExitStatus>),
    Deadline,
}

enum Outcome {
    Response { body: Vec<u8>, at: Instant },
    FunctionError { error: ErrorReport, at: Instant },
    TooLarge { size: Option<u64>, at: Instant },
    InitError { error: ErrorReport, at: Instant },
    Exited(io::Result<ExitStatus>),
    Timeout { at: Instant },
}

impl ExecutionEnvironment {
    /// Cold-starts an environment: unpacks the zip into a fresh directory under `work_dir`,
    /// starts a Runtime API and spawns `bootstrap`. It returns once the process runs; its init
    /// phase goes on concurrently (see [`Self::wait_initialized`]).
    pub async fn start(
        config: FunctionConfig,
        work_dir: &Path,
        log: LogSink,
    ) -> Result<Self, EnvironmentError> {
        let id = Uuid::new_v4().simple().to_string();
        // Relative paths would leave `bootstrap` and LAMBDA_TASK_ROOT depending on the cwd.
        let work_dir = std::path::absolute(work_dir).map_err(|source| EnvironmentError::Io {
            action: "resolving",
            path: work_dir.to_owned(),
            source,
        })?;
        let task_dir = work_dir.join(format!("{}-{}", config.name, &id[..12]));

        let (zip, dir) = (config.zip.clone(), task_dir.clone());
        let unpacked = tokio::task::spawn_blocking(move || unpack(&zip, &dir))
            .await
            .unwrap_or_else(|join| {
                Err(EnvironmentError::Io {
                    action: "unpacking into",
                    path: task_dir.clone(),
                    source: io::Error::other(join),
                })
            });
        if let Err(error) = unpacked {
            let _ = fs::remove_dir_all(&task_dir);
            return Err(error);
        }

        match Self::launch(config, id, task_dir.clone(), log).await {
            Ok(environment) => Ok(environment),
            Err(error) => {
                let _ = fs::remove_dir_all(&task_dir);
                Err(error)
            }
        }
    }

    async fn launch(
        config: FunctionConfig,
        id: String,
        task_dir: PathBuf,
        log: LogSink,
    ) -> Result<Self, EnvironmentError> {
        let platform = PlatformLog::new(&config, log);
        let api = RuntimeApi::start(RuntimeApiConfig {
            function_arn: config.arn(),
            platform: platform.clone(),
        })
        .await
        .map_err(EnvironmentError::RuntimeApi)?;

        let bootstrap = task_dir.join("bootstrap");
        let mut command = Command::new(&bootstrap);
        command
            .current_dir(&task_dir)
            .env_clear()
            .envs(process_env(&config, &id, &task_dir, &api))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let (mut child, spawned_at) =
            spawn(&mut command)
                .await
                .map_err(|source| EnvironmentError::Spawn {
                    path: bootstrap,
                    source,
                })?;
        let pid = child.id().unwrap_or_default();
        api.watch_process(pid);
        platform.emit(PlatformEvent::InitStart);

        let mut output = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            output.push(forward_lines(
                stdout,
                LogStream::Stdout,
                &config.name,
                &platform,
            ));
        }
        if let Some(stderr) = child.stderr.take() {
            output.push(forward_lines(
                stderr,
                LogStream::Stderr,
                &config.name,
                &platform,
            ));
        }
        Ok(Self {
            config,
            id,
            task_dir,
            platform,
            api,
            child: Mutex::new(child),
            pid,
            spawned_at,
            init_done_at: None,
            invocations: 0,
            dead: false,
            busy: false,
            task_dir_removed: false,
            output,
            max_memory_used_mb: None,
            status_file: fs::File::open(format!("/proc/{pid}/status")).ok(),
        })
    }

    /// Waits for the end of the init phase (the process's first request for an event) and
    /// returns its duration. `invoke` does this itself; call it to warm an environment up front.
    pub async fn wait_initialized(&mut self) -> Result<Duration, InvokeError> {
        if let Some(done) = self.init_duration() {
            return Ok(done);
        }
        if self.dead {
            return Err(InvokeError::Dead);
        }
        let deadline = self.spawned_at + self.config.init_timeout;
        loop {
            match self.step(deadline).await {
                Step::Event(RuntimeEvent::InitDone { at }) => {
                    self.init_done_at = Some(at);
                    return Ok(at.saturating_duration_since(self.spawned_at));
                }
                Step::Event(RuntimeEvent::InitError { error, at }) => {
                    self.init_report(at, "error", Some(&error.error_type));
                    self.kill().await;
                    return Err(InvokeError::InitError {
                        error_type: error.error_type,
                        message: error.message,
                    });
                }
                Step::Event(_) => {}
                Step::Exited(status) => {
                    let (error, _) = self.exited(status, None).await;
                    self.init_report(Instant::now(), "error", Some("Runtime.ExitError"));
                    return Err(error);
                }
                Step::Deadline => {
                    self.init_report(deadline, "timeout", None);
                    self.kill().await;
                    return Err(InvokeError::InitTimeout {
                        after: self.config.init_timeout,
                    });
                }
            }
        }
    }

    /// Runs one event through the function and waits for its answer, within the timeout.
    ///
    /// Not cancel-safe: Lambda finishes an invocation whoever stops waiting for it, so an
    /// invocation dropped half-way leaves the process busy with it. The environment then counts
    /// as dead; run invocations to completion (e.g. in a spawned task) to keep it warm.
    pub async fn invoke(&mut self, event: Value) -> Result<Invocation, InvokeError> {
        self.invoke_ref(&event).await
    }

    /// [`Self::invoke`] on a borrowed event, which the caller keeps: after
    /// [`InvokeError::ExitedBeforeTaking`] it can send the same event to another environment.
    pub async fn invoke_ref(&mut self, event: &Value) -> Result<Invocation, InvokeError> {
        if self.busy {
            self.kill().await;
        }
        if self.dead {
            return Err(InvokeError::Dead);
        }
        self.busy = true;
        let result = self.run(event).await;
        self.busy = false;
        result
    }

    async fn run(&mut self, event: &Value) -> Result<Invocation, InvokeError> {
        let payload = serde_json::to_vec(event).expect("a JSON value always serializes");
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(InvokeError::RequestTooLarge {
                size: payload.len(),
                limit: MAX_PAYLOAD_BYTES,
            });
        }
        let request_id = crate::random_uuid().to_string();
        let cold = self.invocations == 0;
        self.invocations += 1;
        let called_at = Instant::now();

        if let Err(error) = self.wait_initialized().await {
            // AWS closes the invocation that hit a failed init with its own START/END/REPORT.
            let (status, error_type) = error.report_status();
            self.platform.emit(PlatformEvent::Start {
                request_id: &request_id,
            });
            self.close(
                &request_id,
                cold,
                called_at,
                Instant::now(),
                status,
                error_type,
            );
            return Err(error);
        }

        self.api.enqueue(QueuedInvocation {
            request_id: request_id.clone(),
            payload,
            timeout: self.config.timeout,
        });
        let queued_at = Instant::now();
        let mut delivered_at = None;
        let outcome = loop {
            let deadline = delivered_at.unwrap_or(queued_at) + self.config.timeout;
            match self.step(deadline).await {
                Step::Event(event) => match event {
                    RuntimeEvent::Delivered { request_id: id, at } if id == request_id => {
                        delivered_at = Some(at);
                    }
                    RuntimeEvent::Response {
                        request_id: id,
                        body,
                        at,
                    } if id == request_id => {
                        break Outcome::Response {
                            body: body.to_vec(),
                            at,
                        };
                    }
                    RuntimeEvent::Error {
                        request_id: id,
                        error,
                        at,
                    } if id == request_id => {
                        break Outcome::FunctionError { error, at };
                    }
                    RuntimeEvent::ResponseTooLarge {
                        request_id: id,
                        size,
                        at,
                    } if id == request_id => {
                        break Outcome::TooLarge { size, at };
                    }
                    RuntimeEvent::InitError { error, at } => {
                        break Outcome::InitError { error, at };
                    }
                    // Late answers to earlier invocations: the runtime API already refused them.
                    _ => {}
                },
                Step::Exited(status) => break Outcome::Exited(status),
                Step::Deadline => break Outcome::Timeout { at: deadline },
            }
        };
        if let Outcome::Exited(status) = outcome {
            let (error, taken) = self.exited(status, Some(&request_id)).await;
            return Err(match error {
                // A warm process was dying when the event came (it had not asked for it):
                // nothing of this invocation ran here, so it leaves no START or REPORT. (A cold
                // one that dies so is closed as a crash: its init is what failed.)
                InvokeError::Crashed { status, .. }
                    if !cold && taken.is_none() && delivered_at.is_none() =>
                {
                    InvokeError::ExitedBeforeTaking { status }
                }
                error => {
                    let delivered_at = delivered_at.or(taken);
                    self.crashed_during(error, &request_id, cold, delivered_at, queued_at)
                }
            });
        }
        if delivered_at.is_none() {
            self.platform.emit(PlatformEvent::Start {
                request_id: &request_id,
            });
        }
        let started_at = delivered_at.unwrap_or(queued_at);

        match outcome {
            Outcome::Response { body, at } => {
                let report = self.close(&request_id, cold, started_at, at, None, None);
                let response = if body.is_empty() {
                    Value::Null
                } else {
                    match serde_json::from_slice(&body) {
                        Ok(value) => value,
                        Err(source) => {
                            return Err(InvokeError::MalformedResponse { raw: body, source });
                        }
                    }
                };
                Ok(Invocation {
                    request_id,
                    response,
                    raw: body,
                    report,
                    cold,
                })
            }
            Outcome::FunctionError { error, at } => {
                self.close(&request_id, cold, started_at, at, None, None);
                Err(InvokeError::FunctionError {
                    error_type: error.error_type,
                    message: error.message,
                })
            }
            Outcome::TooLarge { size, at } => {
                self.close(&request_id, cold, started_at, at, None, None);
                Err(InvokeError::ResponseTooLarge {
                    size,
                    limit: MAX_PAYLOAD_BYTES,
                })
            }
            Outcome::InitError { error, at } => {
                let error_type = Some(error.error_type.clone());
                self.close(&request_id, cold, started_at, at, Some("error"), error_type);
                self.kill().await;
                Err(InvokeError::InitError {
                    error_type: error.error_type,
                    message: error.message,
                })
            }
            // Ended above, before START was logged.
            Outcome::Exited(_) => unreachable!("an exit is handled before this match"),
            Outcome::Timeout { at } => {
                let now = OffsetDateTime::now_utc();
                self.platform.emit(PlatformEvent::Message(&format!(
                    "{} {request_id} Task timed out after {:.2} seconds",
                    rfc3339_millis(now),
                    self.config.timeout.as_secs_f64()
                )));
                self.close(&request_id, cold, started_at, at, Some("timeout"), None);
                self.kill().await;
                Err(InvokeError::Timeout {
                    after: self.config.timeout,
                })
            }
        }
    }

    /// Closes an invocation whose process died during it: START when the Runtime API did not
    /// log one (it does when it hands the event out), the exit, END and REPORT.
    fn crashed_during(
        &mut self,
        error: InvokeError,
        request_id: &str,
        cold: bool,
        delivered_at: Option<Instant>,
        queued_at: Instant,
    ) -> InvokeError {
        if delivered_at.is_none() {
            self.platform.emit(PlatformEvent::Start { request_id });
        }
        if let InvokeError::Crashed { status, .. } = &error {
            self.platform.emit(PlatformEvent::Message(&format!(
                "RequestId: {request_id} Error: Runtime exited with error: {}",
                describe_exit(*status)
            )));
            self.platform
                .emit(PlatformEvent::Message("Runtime.ExitError"));
        }
        let (status, error_type) = error.report_status();
        self.close(
            request_id,
            cold,
            delivered_at.unwrap_or(queued_at),
            Instant::now(),
            status,
            error_type,
        );
        error
    }

    /// False once the environment died or was ended; it then serves no more events.
    pub fn is_alive(&self) -> bool {
        if self.dead || self.busy {
            return false;
        }
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        matches!(child.try_wait(), Ok(None))
    }

    /// Kills the process, waits for it, and removes the task directory.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.kill().await;
        self.task_dir_removed = true;
        match tokio::fs::remove_dir_all(&self.task_dir).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Spawn until the first request for an event; `None` while init is still running.
    pub fn init_duration(&self) -> Option<Duration> {
        self.init_done_at
            .map(|at| at.saturating_duration_since(self.spawned_at))
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Unique per environment; also the tail of its log stream name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the package was unpacked: the process's cwd and LAMBDA_TASK_ROOT.
    pub fn task_dir(&self) -> &Path {
        &self.task_dir
    }

    /// The value of AWS_LAMBDA_RUNTIME_API given to the process.
    pub fn runtime_api_addr(&self) -> std::net::SocketAddr {
        self.api.addr()
    }

    /// Invocations attempted so far, failed ones included.
    pub fn invocations(&self) -> u64 {
        self.invocations
    }

    async fn step(&mut self, deadline: Instant) -> Step {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        tokio::select! {
            // Events first: a runtime that posts an error and then exits must be seen to have
            // posted it.
            biased;
            Some(event) = self.api.next_event() => Step::Event(event),
            status = child.wait() => Step::Exited(status),
            () = tokio::time::sleep_until(deadline.into()) => Step::Deadline,
        }
    }

    /// The process ended on its own: the environment is dead, and the error says why. Also
    /// says when the runtime took the event of `request_id`, if it did: the server announces an
    /// event before writing it, so before the process could read it and die, and the
    /// announcement is in the channel by the time the exit is seen.
    async fn exited(
        &mut self,
        status: io::Result<ExitStatus>,
        request_id: Option<&str>,
    ) -> (InvokeError, Option<Instant>) {
        self.dead = true;
        let mut init_error = None;
        let mut taken = None;
        while let Some(event) = self.api.try_next_event() {
            match event {
                RuntimeEvent::InitError { error, .. } => init_error = Some(error),
                RuntimeEvent::Delivered { request_id: id, at } if request_id == Some(&*id) => {
                    taken = Some(at);
                }
                _ => {}
            }
        }
        self.drain_output().await;
        let error = match status {
            Ok(status) => InvokeError::Crashed { status, init_error },
            Err(error) => InvokeError::Io(error),
        };
        (error, taken)
    }

    async fn kill(&mut self) {
        self.dead = true;
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Ok(None) = child.try_wait() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.drain_output().await;
    }

    /// Lets the output readers pass on what the dead process wrote last (a panic message, a
    /// traceback) before the platform lines that close the invocation.
    async fn drain_output(&mut self) {
        let readers = std::mem::take(&mut self.output);
        let drained = async {
            for reader in readers {
                let _ = reader.await;
            }
        };
        // A child the function forked may hold the pipes open; don't wait for it.
        let _ = tokio::time::timeout(Duration::from_millis(500), drained).await;
    }

    /// Logs END and REPORT and returns the report.
    fn close(
        &mut self,
        request_id: &str,
        cold: bool,
        start: Instant,
        end: Instant,
        status: Option<&str>,
        error_type: Option<String>,
    ) -> Report {
        // Rounded as printed, so that the report returned equals the one read back from the log.
        let duration_ms = round2(millis(end.saturating_duration_since(start)));
        let init_duration_ms = cold.then(|| {
            round2(millis(
                self.init_done_at
                    .unwrap_or(end)
                    .saturating_duration_since(self.spawned_at),
            ))
        });
        // Custom runtimes pay for their init phase: a cold REPORT bills init plus duration.
        let billed = (duration_ms + init_duration_ms.unwrap_or(0.0))
            .ceil()
            .max(1.0) as u64;
        if !self.dead {
            // VmHWM is the process's peak, which is what Lambda reports: never less than before.
            let peak_kb = match &self.status_file {
                Some(file) => peak_rss_kb_of(file),
                None => peak_rss_kb(self.pid),
            };
            if let Some(used) = peak_kb.and_then(|kb| u32::try_from(kb.div_ceil(1024)).ok()) {
                self.max_memory_used_mb = Some(self.max_memory_used_mb.unwrap_or(0).max(used));
            }
        }
        let report = Report {
            request_id: request_id.to_owned(),
            duration_ms,
            billed_duration_ms: Some(billed),
            memory_size_mb: Some(self.config.memory_mb),
            max_memory_used_mb: self.max_memory_used_mb,
            init_duration_ms,
            status: status.map(str::to_owned),
            error_type,
        };
        self.platform
            .emit(PlatformEvent::End { request_id, status });
        self.platform.emit(PlatformEvent::Report(&report));
        report
    }

    fn init_report(&self, at: Instant, status: &str, error_type: Option<&str>) {
        self.platform.emit(PlatformEvent::InitReport {
            duration_ms: millis(at.saturating_duration_since(self.spawned_at)),
            status,
            error_type,
        });
    }
}

impl Drop for ExecutionEnvironment {
    /// Never blocks: a drop may run on the async runtime's threads (a dropped pool, a cancelled
    /// task). The process gets SIGKILL here and tokio's orphan reaper collects it (the child was
    /// spawned with `kill_on_drop`); the task directory is removed on the blocking pool when a
    /// runtime is there, else at once.
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Ok(None) = child.try_wait() {
            let _ = child.start_kill();
        }
        if !self.task_dir_removed {
            let dir = std::mem::take(&mut self.task_dir);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn_blocking(move || {
                        let _ = fs::remove_dir_all(dir);
                    });
                }
                Err(_) => {
                    let _ = fs::remove_dir_all(dir);
                }
            }
        }
    }
}

/// The environment Lambda gives a provided-runtime process, and nothing of ours but PATH.
fn process_env(
    config: &FunctionConfig,
    id: &str,
    task_dir: &Path,
    api: &RuntimeApi,
) -> BTreeMap<String, String> {
    let task_root = task_dir.to_string_lossy().into_owned();
    let today = OffsetDateTime::now_utc().date();
    let log_stream = format!(
        "{:04}/{:02}/{:02}/[$LATEST]{id}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".to_owned());
    let mut env = BTreeMap::from([
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), api.addr().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), config.name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(),
            config.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_VERSION".to_owned(),
            "$LATEST".to_owned(),
        ),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".to_owned(),
            "on-demand".to_owned(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME".to_owned(), config.log_group()),
        // Lambda passes the advanced logging settings to custom runtimes in these two (the
        // level only with JSON, where it applies).
        (
            "AWS_LAMBDA_LOG_FORMAT".to_owned(),
            config.logging.format.as_str().to_owned(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".to_owned(), log_stream),
        ("AWS_REGION".to_owned(), config.region.clone()),
        ("AWS_DEFAULT_REGION".to_owned(), config.region.clone()),
        ("LAMBDA_TASK_ROOT".to_owned(), task_root.clone()),
        // On provided runtimes the runtime is the bootstrap in the task root.
        ("LAMBDA_RUNTIME_DIR".to_owned(), task_root),
        ("_HANDLER".to_owned(), "bootstrap".to_owned()),
        ("TZ".to_owned(), ":UTC".to_owned()),
        ("LANG".to_owned(), "en_US.UTF-8".to_owned()),
        ("PATH".to_owned(), path),
    ]);
    if config.logging.format == LogFormat::Json {
        env.insert(
            "AWS_LAMBDA_LOG_LEVEL".to_owned(),
            config.logging.application_level.as_str().to_owned(),
        );
    }
    env.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Spawns, retrying ETXTBSY: a `bootstrap` written a moment ago can still be open for writing in
/// a process another thread is forking, until that process execs.
async fn spawn(command: &mut Command) -> io::Result<(Child, Instant)> {
    const ETXTBSY: i32 = 26;
    let mut attempts = 0;
    loop {
        let at = Instant::now();
        match command.spawn() {
            Err(error) if error.raw_os_error() == Some(ETXTBSY) && attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            result => return result.map(|child| (child, at)),
        }
    }
}

fn forward_lines(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    stream: LogStream,
    function: &str,
    platform: &PlatformLog,
) -> JoinHandle<()> {
    let (function, platform) = (function.to_owned(), platform.clone());
    tokio::spawn(async move {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader)
                .take(MAX_LOG_LINE_BYTES)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if line.ends_with(b"\n") {
                        line.pop();
                    }
                    if line.ends_with(b"\r") {
                        line.pop();
                    }
                    let text = String::from_utf8_lossy(&line).into_owned();
                    if platform.keeps_application_line(&text) {
                        platform.sink().emit(LogLine::new(&function, stream, text));
                    }
                }
            }
        }
    })
}

/// Unpacks a deployment package, keeping the unix modes that make `bootstrap` executable.
fn unpack(zip_path: &Path, dest: &Path) -> Result<(), EnvironmentError> {
    let io_error = |action, path: &Path| {
        let path = path.to_owned();
        move |source| EnvironmentError::Io {
            action,
            path,
            source,
        }
    };
    let zip_error = |source| EnvironmentError::Zip {
        path: zip_path.to_owned(),
        source,
    };
    let file = fs::File::open(zip_path).map_err(io_error("opening", zip_path))?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).map_err(zip_error)?;
    fs::create_dir_all(dest).map_err(io_error("creating", dest))?;

    // Directory modes go on last: a read-only directory must still receive its files.
    let mut dir_modes = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(zip_error)?;
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| EnvironmentError::UnsafeZipEntry(entry.name().to_owned()))?;
        let path = dest.join(relative);
        let mode = entry.unix_mode().map(|m| m & 0o7777);
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(io_error("creating", &path))?;
            if let Some(mode) = mode {
                dir_modes.push((path, mode));
            }
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error("creating", parent))?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            io::Read::read_to_string(&mut entry, &mut target)
                .map_err(io_error("reading", Path::new(entry.name())))?;
            std::os::unix::fs::symlink(&target, &path).map_err(io_error("linking", &path))?;
            continue;
        }
        let mut out = fs::File::create(&path).map_err(io_error("creating", &path))?;
        io::copy(&mut entry, &mut out).map_err(io_error("writing", &path))?;
        drop(out);
        if let Some(mode) = mode {
            set_mode(&path, mode)?;
        }
    }
    for (path, mode) in dir_modes.into_iter().rev() {
        set_mode(&path, mode)?;
    }

    let bootstrap = dest.join("bootstrap");
    if !bootstrap.is_file() {
        return Err(EnvironmentError::MissingBootstrap(zip_path.to_owned()));
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<(), EnvironmentError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
        EnvironmentError::Io {
            action: "setting the mode of",
            path: path.to_owned(),
            source,
        }
    })
}

/// Peak resident memory of a live process in kB (VmHWM), from /proc (Linux only).
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    vm_hwm_kb(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// [`peak_rss_kb`] from an open `/proc/<pid>/status`, read again from its start (procfs makes
/// the text anew for each read at offset 0).
fn peak_rss_kb_of(status: &fs::File) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let mut buffer = [0u8; 4096];
    let mut filled = 0;
    while filled < buffer.len() {
        match status.read_at(&mut buffer[filled..], filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(_) => return None,
        }
    }
    vm_hwm_kb(std::str::from_utf8(&buffer[..filled]).ok()?)
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// Words as Lambda's Go-based platform prints an exit: `exit status 3`, `signal: killed`.
fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".to_owned(),
        (None, Some(11)) => "signal: segmentation fault".to_owned(),
        (None, Some(6)) => "signal: aborted".to_owned(),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => status.to_string(),
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn round2(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_config_defaults_follow_lambda() {
        let config = FunctionConfig::new("lith", "/tmp/lith.zip");
        assert_eq!(config.memory_mb, 128);
        assert_eq!(config.timeout, Duration::from_secs(3));
        assert_eq!(
            config.arn(),
            "arn:aws:lambda:us-east-1:000000000000:function:lith"
        );
        assert_eq!(config.log_group(), "/aws/lambda/lith");
    }

    #[test]
    fn peak_memory_reads_the_same_from_an_open_status_file() {
        let file = fs::File::open(format!("/proc/{}/status", std::process::id())).unwrap();
        let open = peak_rss_kb_of(&file).expect("VmHWM on Linux");
        let fresh = peak_rss_kb(std::process::id()).unwrap();
        assert!(open > 0 && fresh >= open, "{open} / {fresh}");
        assert_eq!(vm_hwm_kb("Name:\tx\nVmHWM:\t  1234 kB\n"), Some(1234));
        assert_eq!(vm_hwm_kb("Name:\tx\n"), None);
    }

    #[test]
    fn peak_memory_of_this_process_is_readable() {
        let kb = peak_rss_kb(std::process::id()).expect("VmHWM on Linux");
        assert!(kb > 0);
        assert_eq!(peak_rss_kb(u32::MAX), None);
    }

    #[test]
    fn exits_are_described_like_lambda() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "signal: killed");
    }
}
