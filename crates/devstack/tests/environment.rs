//! Execution environments running a real process: a Python custom-runtime bootstrap, zipped at
//! test time, whose behaviour each event chooses.

mod support;

use support::{fixture_package, package_without_bootstrap, process_exists};

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devstack::{
    ExecutionEnvironment, FunctionConfig, InvokeError, LogLine, LogSink, LogStream, Report,
};
use serde_json::{Value, json};
use tempfile::TempDir;

struct Harness {
    env: ExecutionEnvironment,
    logs: Arc<Mutex<Vec<LogLine>>>,
    dir: TempDir,
}

impl Harness {
    fn lines(&self) -> Vec<LogLine> {
        self.logs.lock().unwrap().clone()
    }

    fn platform(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.stream == LogStream::Platform)
            .map(|l| l.text)
            .collect()
    }

    /// Function output travels through pipes apart from the response, so it may trail it a bit.
    async fn wait_for_line(&self, stream: LogStream, text: &str) -> LogLine {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self
                .lines()
                .into_iter()
                .find(|l| l.stream == stream && l.text == text)
            {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {stream:?} line {text:?} in {:#?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn config(dir: &Path, vars: &[(&str, &str)]) -> FunctionConfig {
    let mut config = FunctionConfig::new("fixture", fixture_package(dir));
    config.timeout = Duration::from_secs(1);
    config.init_timeout = Duration::from_secs(5);
    config.region = "eu-west-1".into();
    config.env = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    config
}

async fn start_with(config: impl FnOnce(&Path) -> FunctionConfig) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let config = config(dir.path());
    let env = ExecutionEnvironment::start(
        config,
        &dir.path().join("tasks"),
        LogSink::collect(logs.clone()),
    )
    .await
    .expect("environment starts");
    Harness { env, logs, dir }
}

async fn start(vars: &[(&str, &str)]) -> Harness {
    start_with(|dir| config(dir, vars)).await
}

/// Milliseconds as a REPORT line prints them.
fn report_ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

#[tokio::test]
async fn echo_round_trip_is_logged_like_lambda() {
    let mut h = start(&[]).await;
    let event = json!({"action": "echo", "path": "/api/v0/projects"});
    let inv = h.env.invoke(event.clone()).await.unwrap();

    assert!(inv.cold);
    assert_eq!(inv.response["event"], event);
    assert_eq!(
        serde_json::from_slice::<Value>(&inv.raw).unwrap(),
        inv.response
    );
    let headers = &inv.response["headers"];
    assert_eq!(
        headers["lambda-runtime-aws-request-id"],
        inv.request_id.as_str()
    );
    assert_eq!(
        headers["lambda-runtime-invoked-function-arn"],
        "arn:aws:lambda:eu-west-1:000000000000:function:fixture"
    );
    assert!(
        headers["lambda-runtime-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert_eq!(inv.response["pid"], h.env.pid());
    assert_eq!(
        Path::new(inv.response["cwd"].as_str().unwrap()),
        h.env.task_dir()
    );

    let id = &inv.request_id;
    let platform = h.platform();
    let start = format!("START RequestId: {id} Version: $LATEST");
    let end = format!("END RequestId: {id}");
    let position = |text: &str| platform.iter().position(|l| l == text);
    let (start_at, end_at) = (position(&start).unwrap(), position(&end).unwrap());
    assert!(start_at < end_at, "{platform:#?}");
    assert_eq!(
        platform.len(),
        end_at + 2,
        "REPORT closes the invocation: {platform:#?}"
    );
    let report = Report::parse(&platform[end_at + 1]).unwrap();
    assert_eq!(report, inv.report);
    assert_eq!(platform[end_at + 1], inv.report.to_string());

    assert_eq!(report.request_id, *id);
    assert_eq!(report.memory_size_mb, Some(128));
    assert!(report.max_memory_used_mb.unwrap() > 0);
    let init = report
        .init_duration_ms
        .expect("a cold start reports its init");
    assert_eq!(Some(init), h.env.init_duration().map(report_ms));
    // Custom runtimes are billed for init too.
    assert_eq!(
        report.billed_duration_ms,
        Some((report.duration_ms + init).ceil() as u64)
    );
    h.wait_for_line(LogStream::Stdout, "fixture initialized")
        .await;
}

#[tokio::test]
async fn only_the_first_invocation_is_cold() {
    let mut h = start(&[]).await;
    let first = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    let second = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    assert!(first.cold && first.report.is_cold());
    assert!(!second.cold);
    assert_eq!(second.report.init_duration_ms, None);
    assert!(!h.platform().last().unwrap().contains("Init Duration"));
    assert_eq!(first.response["pid"], second.response["pid"]);
    assert_ne!(first.request_id, second.request_id);
    assert!(second.report.max_memory_used_mb >= first.report.max_memory_used_mb);
    assert_eq!(h.env.invocations(), 2);
}

#[tokio::test]
async fn the_process_sees_lambdas_environment_not_ours() {
    let mut h = start(&[("STORE", "sqlite"), ("TZ", "Europe/Paris")]).await;
    let inv = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    let env = inv.response["env"].as_object().unwrap();
    let var = |name: &str| {
        env.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };

    assert_eq!(
        var("AWS_LAMBDA_RUNTIME_API"),
        h.env.runtime_api_addr().to_string()
    );
    assert_eq!(var("AWS_LAMBDA_FUNCTION_NAME"), "fixture");
    assert_eq!(var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "128");
    assert_eq!(var("AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
    assert_eq!(var("AWS_LAMBDA_LOG_GROUP_NAME"), "/aws/lambda/fixture");
    let stream = var("AWS_LAMBDA_LOG_STREAM_NAME");
    assert!(
        stream.ends_with(&format!("/[$LATEST]{}", h.env.id())),
        "{stream}"
    );
    assert_eq!(stream.len(), "2026/11/28/[$LATEST]".len() + 32, "{stream}");
    assert_eq!(var("AWS_REGION"), "eu-west-1");
    assert_eq!(var("AWS_DEFAULT_REGION"), "eu-west-1");
    assert_eq!(Path::new(&var("LAMBDA_TASK_ROOT")), h.env.task_dir());
    assert_eq!(var("_HANDLER"), "bootstrap");
    assert_eq!(var("STORE"), "sqlite");
    assert_eq!(
        var("TZ"),
        "Europe/Paris",
        "the function's own variables win"
    );
    // A pyenv shim running the fixture puts its own directories in front.
    assert!(
        var("PATH").ends_with(&std::env::var("PATH").unwrap()),
        "{}",
        var("PATH")
    );

    // Nothing of the test process but PATH gets through. (A pyenv shim, itself a shell script,
    // may stand between the bootstrap and Python and set a few variables of its own.)
    let shell = ["PATH", "PWD", "OLDPWD", "SHLVL", "_"];
    let set_by_lambda = |name: &str| {
        name.starts_with("AWS_") || name.starts_with("LAMBDA_") || ["LANG", "TZ"].contains(&name)
    };
    let leaked: Vec<_> = std::env::vars()
        .filter(|(k, _)| !shell.contains(&k.as_str()) && !k.starts_with("PYENV_"))
        .filter(|(k, _)| !set_by_lambda(k))
        .filter(|(k, v)| env.get(k).and_then(Value::as_str) == Some(v))
        .map(|(k, _)| k)
        .collect();
    assert!(leaked.is_empty(), "leaked from the parent: {leaked:?}");
}

#[tokio::test]
async fn the_package_keeps_its_unix_modes() {
    let h = start(&[]).await;
    let mode = |relative: &str| {
        std::fs::metadata(h.env.task_dir().join(relative))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("bootstrap"), 0o755);
    assert_eq!(mode("data"), 0o750);
    assert_eq!(mode("data/config.txt"), 0o640);
    assert!(h.env.task_dir().starts_with(h.dir.path()));
}

#[tokio::test]
async fn a_timeout_kills_the_process_and_ends_the_environment() {
    let mut h = start(&[]).await;
    h.env.wait_initialized().await.unwrap();
    let pid = h.env.pid();
    let began = Instant::now();
    let error = h.env.invoke(json!({"action": "hang"})).await.unwrap_err();
    let took = began.elapsed();

    assert!(matches!(error, InvokeError::Timeout { after } if after == Duration::from_secs(1)));
    assert!(error.is_fatal());
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!h.env.is_alive());
    assert!(
        !process_exists(pid),
        "the timed-out process is killed and reaped"
    );

    let platform = h.platform();
    let timed_out = platform
        .iter()
        .position(|l| l.ends_with("Task timed out after 1.00 seconds"));
    let timed_out = timed_out.expect("a timeout line");
    assert!(platform[timed_out + 1].starts_with("END RequestId: "));
    let report = Report::parse(&platform[timed_out + 2]).unwrap();
    assert_eq!(report.status.as_deref(), Some("timeout"));
    assert!(report.duration_ms >= 1000.0);

    assert!(matches!(
        h.env.invoke(json!({"action": "echo"})).await,
        Err(InvokeError::Dead)
    ));
}

#[tokio::test]
async fn a_crash_reports_the_exit_and_ends_the_environment() {
    let mut h = start(&[]).await;
    let pid = h.env.pid();
    let error = h.env.invoke(json!({"action": "crash"})).await.unwrap_err();
    match &error {
        InvokeError::Crashed { status, init_error } => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(*init_error, None);
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    assert!(error.is_fatal());
    assert!(!h.env.is_alive());
    assert!(!process_exists(pid));

    // What the process wrote before dying comes before the lines that close the invocation.
    let lines = h.lines();
    let said = lines
        .iter()
        .position(|l| l.stream == LogStream::Stderr && l.text == "about to crash");
    let exited = lines
        .iter()
        .position(|l| l.text.ends_with("Runtime exited with error: exit status 3"));
    assert!(said.unwrap() < exited.unwrap(), "{lines:#?}");
    let report = Report::parse(&h.platform().last().unwrap().clone()).unwrap();
    assert_eq!(report.status.as_deref(), Some("error"));
    assert_eq!(report.error_type.as_deref(), Some("Runtime.ExitError"));
    assert!(report.is_cold());

    assert!(matches!(
        h.env.invoke(json!({"action": "echo"})).await,
        Err(InvokeError::Dead)
    ));
}

#[tokio::test]
async fn a_function_error_leaves_the_environment_warm() {
    let mut h = start(&[]).await;
    let error = h.env.invoke(json!({"action": "error"})).await.unwrap_err();
    match &error {
        InvokeError::FunctionError {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "Fixture.Boom");
            assert_eq!(message, "boom");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert!(!error.is_fatal());
    assert!(h.env.is_alive());
    let report = Report::parse(h.platform().last().unwrap()).unwrap();
    assert!(report.is_cold());
    assert_eq!(report.status, None);

    let next = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    assert!(!next.cold);
    assert_eq!(next.response["pid"], h.env.pid());
}

#[tokio::test]
async fn an_init_error_ends_the_environment() {
    let mut h = start(&[("FIXTURE_INIT", "error")]).await;
    let pid = h.env.pid();
    let error = h.env.invoke(json!({"action": "echo"})).await.unwrap_err();
    match &error {
        InvokeError::InitError {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "Fixture.InitFailed");
            assert_eq!(message, "no config");
        }
        other => panic!("expected an init error, got {other:?}"),
    }
    assert!(!h.env.is_alive());
    assert!(
        !process_exists(pid),
        "a runtime lingering after its init error is killed"
    );
    let platform = h.platform();
    assert!(
        platform[0].starts_with("INIT_REPORT Init Duration: "),
        "{platform:#?}"
    );
    assert!(platform[0].ends_with("Status: error\tError Type: Fixture.InitFailed"));
    let report = Report::parse(platform.last().unwrap()).unwrap();
    assert_eq!(report.error_type.as_deref(), Some("Fixture.InitFailed"));
}

#[tokio::test]
async fn a_process_dying_during_init_is_a_crash() {
    let mut h = start(&[("FIXTURE_INIT", "crash")]).await;
    let error = h.env.wait_initialized().await.unwrap_err();
    assert!(
        matches!(&error, InvokeError::Crashed { status, init_error: None } if status.code() == Some(4)),
        "{error:?}"
    );
    assert!(!h.env.is_alive());
    assert_eq!(h.env.init_duration(), None);
    h.wait_for_line(LogStream::Stderr, "crashing during init")
        .await;
    assert!(matches!(
        h.env.invoke(json!({"action": "echo"})).await,
        Err(InvokeError::Dead)
    ));
}

#[tokio::test]
async fn init_time_does_not_count_against_the_timeout() {
    // Init takes longer than the whole invocation timeout, as Lambda allows.
    let mut h = start(&[("FIXTURE_INIT_SLEEP", "1.2")]).await;
    let inv = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    assert!(inv.report.init_duration_ms.unwrap() >= 1200.0);
    assert!(h.env.init_duration().unwrap() >= Duration::from_millis(1200));
}

#[tokio::test]
async fn an_init_that_never_ends_times_out() {
    let mut h = start_with(|dir| {
        let mut config = config(dir, &[("FIXTURE_INIT_SLEEP", "30")]);
        config.init_timeout = Duration::from_millis(300);
        config
    })
    .await;
    let pid = h.env.pid();
    let error = h.env.invoke(json!({"action": "echo"})).await.unwrap_err();
    assert!(
        matches!(error, InvokeError::InitTimeout { .. }),
        "{error:?}"
    );
    assert!(!process_exists(pid));
    let report = Report::parse(h.platform().last().unwrap()).unwrap();
    assert_eq!(report.status.as_deref(), Some("timeout"));
}

#[tokio::test]
async fn stdout_and_stderr_reach_the_log_sink() {
    let mut h = start(&[]).await;
    h.env
        .invoke(json!({"action": "print", "out": "to stdout", "err": "to stderr"}))
        .await
        .unwrap();
    let out = h.wait_for_line(LogStream::Stdout, "to stdout").await;
    assert_eq!(out.function, "fixture");
    h.wait_for_line(LogStream::Stderr, "to stderr").await;
}

#[tokio::test]
async fn oversized_and_malformed_responses_are_function_errors() {
    let mut h = start(&[]).await;
    let error = h.env.invoke(json!({"action": "big"})).await.unwrap_err();
    assert!(
        matches!(error, InvokeError::ResponseTooLarge { size: Some(size), limit }
            if size > limit as u64 && limit == devstack::MAX_PAYLOAD_BYTES),
        "{error:?}"
    );
    h.wait_for_line(LogStream::Stderr, "response refused: 413")
        .await;
    assert!(h.env.is_alive());

    let error = h.env.invoke(json!({"action": "raw"})).await.unwrap_err();
    assert!(
        matches!(&error, InvokeError::MalformedResponse { raw, .. } if raw == b"not json"),
        "{error:?}"
    );
    assert!(h.env.invoke(json!({"action": "echo"})).await.is_ok());
}

#[tokio::test]
async fn oversized_events_are_refused_before_reaching_the_function() {
    let mut h = start(&[]).await;
    let big = "x".repeat(devstack::MAX_PAYLOAD_BYTES);
    let error = h
        .env
        .invoke(json!({"action": "echo", "pad": big}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, InvokeError::RequestTooLarge { .. }),
        "{error:?}"
    );
    assert!(h.env.is_alive());
}

/// The next event was never taken: the error says so (the pool then runs it elsewhere), and the
/// environment logs no invocation that did not happen.
#[tokio::test]
async fn a_process_that_exits_between_invocations_fails_the_next_one_untaken() {
    let mut h = start(&[]).await;
    let inv = h
        .env
        .invoke(json!({"action": "respond_then_exit"}))
        .await
        .unwrap();
    assert_eq!(inv.response, json!({"bye": true}));
    let error = h.env.invoke(json!({"action": "echo"})).await.unwrap_err();
    assert!(
        matches!(&error, InvokeError::ExitedBeforeTaking { status } if status.success()),
        "{error:?}"
    );
    assert!(!h.env.is_alive());
    let starts = h
        .platform()
        .iter()
        .filter(|l| l.starts_with("START "))
        .count();
    assert_eq!(starts, 1, "{:#?}", h.platform());
}

#[tokio::test]
async fn wait_initialized_warms_up_ahead_of_the_first_event() {
    let mut h = start(&[]).await;
    let init = h.env.wait_initialized().await.unwrap();
    assert_eq!(h.env.init_duration(), Some(init));
    assert_eq!(h.env.wait_initialized().await.unwrap(), init);
    let inv = h.env.invoke(json!({"action": "echo"})).await.unwrap();
    assert!(inv.cold);
    assert_eq!(inv.report.init_duration_ms, Some(report_ms(init)));
}

#[tokio::test]
async fn shutdown_kills_the_process_and_removes_the_task_dir() {
    let mut h = start(&[]).await;
    h.env.invoke(json!({"action": "echo"})).await.unwrap();
    let (pid, task_dir) = (h.env.pid(), h.env.task_dir().to_owned());
    assert!(process_exists(pid));
    h.env.shutdown().await.unwrap();
    assert!(!process_exists(pid));
    assert!(!task_dir.exists());
}

#[tokio::test]
async fn dropping_kills_the_process_and_removes_the_task_dir() {
    let h = start(&[]).await;
    let (pid, task_dir) = (h.env.pid(), h.env.task_dir().to_owned());
    assert!(process_exists(pid));
    drop(h.env);
    // The drop never blocks the runtime: the kill is sent at once, the reaping and the removal
    // of the task directory happen just after, on the runtime.
    for _ in 0..500 {
        if !process_exists(pid) && !task_dir.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!process_exists(pid));
    assert!(!task_dir.exists());
}

#[tokio::test]
async fn a_package_without_bootstrap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = package_without_bootstrap(dir.path());
    let work = dir.path().join("tasks");
    let error = ExecutionEnvironment::start(
        FunctionConfig::new("nothing", &zip_path),
        &work,
        LogSink::discard(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, devstack::EnvironmentError::MissingBootstrap(_)),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(&work).unwrap().count(),
        0,
        "no task dir is left behind"
    );
}

#[tokio::test]
async fn an_invocation_dropped_half_way_ends_the_environment() {
    let mut h = start(&[]).await;
    h.env.wait_initialized().await.unwrap();
    let pid = h.env.pid();
    let abandoned = h.env.invoke(json!({"action": "hang"}));
    assert!(
        tokio::time::timeout(Duration::from_millis(200), abandoned)
            .await
            .is_err()
    );
    assert!(
        !h.env.is_alive(),
        "the process is still busy with the abandoned event"
    );
    assert!(matches!(
        h.env.invoke(json!({"action": "echo"})).await,
        Err(InvokeError::Dead)
    ));
    assert!(!process_exists(pid));
}
