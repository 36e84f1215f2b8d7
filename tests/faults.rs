//! Fault injection end to end (issue 12): function processes killed mid-request or while idle,
//! an init that fails, a function that never answers, the SQLite file locked by another process
//! or read-only, corrupt state files. Each test does the harm for real (a signal, another
//! process's lock, a file's mode, a file's bytes) and holds the stack to what AWS, or a careful
//! operator, would expect. The real packaged functions run on every pattern wherever a function
//! is involved; the Python fixture only where a function must misbehave on cue.
//!
//! Also covered elsewhere: a function that crashes or hangs mid-invocation (the fixture, in
//! tests/local_stack.rs), a corrupt IP set or key file at the unit level (crates/waf,
//! crates/devstack/tests/cognito.rs), log rotation (crates/devstack/src/log.rs).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devstack::Report;
use devstack::local_stack::{LocalStack, LocalStackConfig};
use devstack::pool::FunctionPool;
use e2e::local_stack::{
    LOCALHOST, Reply, StackOptions, TestStack, allow_ip, dev_config, log_lines, rendered_template,
    seed_key, wait_for_lines, write_fixture_package,
};
use serde_json::{Value, json};
use stack::{ApiTemplate, Pattern};

e2e::all_patterns!(
    a_function_killed_mid_request_fails_that_request_only_and_loses_no_acknowledged_write,
    a_process_killed_while_idle_never_costs_a_request,
    a_failing_init_is_a_502_logged_every_time_with_one_start_per_request,
    a_function_that_never_answers_times_out_and_the_next_request_is_served,
    a_sqlite_file_locked_by_another_process_is_a_503_with_retry_after_until_freed,
);

fn project(name: &str) -> Value {
    json!({ "name": name, "description": "from the fault tests" })
}

/// API Gateway's answer to a failed invocation.
fn assert_internal_error(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 502, "{what}: {}", reply.text);
    assert_eq!(
        reply.json()["message"],
        "Internal server error",
        "{what}: {}",
        reply.text
    );
}

/// The platform reports of a log (the dev template's functions log JSON records).
fn reports(lines: &[String]) -> Vec<Report> {
    devstack::reports_in(&lines.join("\n"))
}

/// The platform records of one type in a log: `platform.start`, `platform.initReport`...
fn count(lines: &[String], record_type: &str) -> usize {
    let marker = format!("\"type\":\"{record_type}\"");
    lines.iter().filter(|line| line.contains(&marker)).count()
}

/// The functions' SQLite file in the stack's state directory (see `e2e::sqlite_url`).
fn database(stack: &TestStack) -> PathBuf {
    stack.state_dir().join("catalog.db")
}

/// The pool of the function deployed as `function`.
fn pool<'a>(stack: &'a TestStack, function: &str) -> &'a FunctionPool {
    stack
        .local()
        .pools()
        .find(|pool| pool.config().name == function)
        .unwrap_or_else(|| panic!("no pool runs {function}"))
}

/// The processes of `function`'s execution environments: each runs in its task directory,
/// `<state>/runtime/<function>-<id>`.
fn function_pids(stack: &TestStack, function: &str) -> Vec<u32> {
    let runtime = stack.state_dir().canonicalize().unwrap().join("runtime");
    let prefix = format!("{function}-");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // Gone meanwhile, or a zombie: no working directory to read.
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        let in_runtime = cwd.parent() == Some(runtime.as_path());
        let of_function = cwd
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with(&prefix));
        if in_runtime && of_function {
            pids.push(pid);
        }
    }
    pids
}

fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -KILL {pid}");
}

/// Another process's write transaction on the database, held until dropped (a rollback). In WAL
/// mode readers go on; writers wait for SQLite's busy timeout (5 s), then fail.
fn hold_write_lock(database: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(database).unwrap();
    connection.busy_timeout(Duration::from_secs(10)).unwrap();
    connection.execute_batch("BEGIN EXCLUSIVE").unwrap();
    connection
}

/// Sets `name` to `value` in the variables of every Lambda function of the template.
fn set_function_variable(template: &mut Value, name: &str, value: &str) {
    let resources = template["Resources"].as_object_mut().unwrap();
    for resource in resources.values_mut() {
        if resource["Type"] == "AWS::Lambda::Function" {
            resource["Properties"]["Environment"]["Variables"][name] = value.into();
        }
    }
}

/// Sets `Timeout` (seconds) of every Lambda function of the template.
fn set_function_timeouts(template: &mut Value, seconds: u64) {
    let resources = template["Resources"].as_object_mut().unwrap();
    for resource in resources.values_mut() {
        if resource["Type"] == "AWS::Lambda::Function" {
            resource["Properties"]["Timeout"] = seconds.into();
        }
    }
}

/// Killed while it handles a write: that request fails (502) and only it; the next request gets
/// a new environment; every write acknowledged (201) before the kill is still listed. The
/// request is held inside the function by another process's lock on the database, so the kill
/// lands mid-invocation every time.
async fn a_function_killed_mid_request_fails_that_request_only_and_loses_no_acknowledged_write(
    pattern: Pattern,
) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let function = stack.function_for("create_project");
    let log = stack.log_path(&function);
    let mut acknowledged = Vec::new();
    for index in 0..5 {
        let name = format!("Kept-{index}");
        let created = stack
            .post("/dev/api/v0/projects", Some(&token), &project(&name))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        acknowledged.push(name);
    }

    let lock = hold_write_lock(&database(&stack));
    let started = count(&log_lines(&log), "platform.start");
    let doomed = {
        let (client, url, token) = (
            stack.client.clone(),
            stack.url("/dev/api/v0/projects"),
            token.clone(),
        );
        tokio::spawn(async move {
            let sent = client
                .post(url)
                .header("authorization", token)
                .json(&project("Doomed"))
                .send()
                .await
                .unwrap();
            Reply::read(sent).await
        })
    };
    // The runtime has taken the event: the function is inside the request.
    wait_for_lines(&log, |lines| count(lines, "platform.start") > started).await;
    let pids = function_pids(&stack, &function);
    assert_eq!(
        pids.len(),
        1,
        "one environment serves these sequential requests"
    );
    kill(pids[0]);
    assert_internal_error(&doomed.await.unwrap(), "the request in flight");
    drop(lock);

    let after = stack
        .post("/dev/api/v0/projects", Some(&token), &project("After"))
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
    acknowledged.push("After".to_owned());
    let mut listed = stack.names("projects").await;
    listed.sort();
    acknowledged.sort();
    assert_eq!(
        listed, acknowledged,
        "every acknowledged write, nothing else"
    );

    // The five creates, the doomed one and "After" (the listing may be another function's).
    let lines = wait_for_lines(&log, |lines| reports(lines).len() >= 7).await;
    let reports = reports(&lines);
    let killed = &reports[5];
    assert_eq!(killed.status.as_deref(), Some("error"), "{killed:?}");
    assert!(reports[6].is_cold(), "a new environment: {:?}", reports[6]);
    stack.stop().await;
}

/// A process that dies while its environment is idle never costs a request: the next one,
/// sent at once, is served by a new environment (whether the pool sees the death first, or hands
/// the event to the dying process, which never takes it).
async fn a_process_killed_while_idle_never_costs_a_request(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let function = stack.function_for("list_projects");
    for round in 0..5 {
        let warm = stack.get("/dev/api/v0/projects").await;
        assert_eq!(warm.status, 200, "round {round}: {}", warm.text);
        for pid in function_pids(&stack, &function) {
            kill(pid);
        }
        let next = stack.get("/dev/api/v0/projects").await;
        assert_eq!(next.status, 200, "round {round}: {}", next.text);
    }
    let log = stack.log_path(&function);
    let lines = wait_for_lines(&log, |lines| reports(lines).len() >= 10).await;
    let reports = reports(&lines);
    assert_eq!(reports.len(), 10, "{}", lines.join("\n"));
    for (index, report) in reports.iter().enumerate() {
        assert_eq!(report.status, None, "{report:?}");
        if index % 2 == 1 {
            assert!(report.is_cold(), "after a kill: {report:?}");
        }
    }
    stack.stop().await;
}

/// An init that fails (a setting the function refuses) fails each request with 502, logs why
/// each time, and starts one environment per request: no retry storm.
async fn a_failing_init_is_a_502_logged_every_time_with_one_start_per_request(pattern: Pattern) {
    let mut options = StackOptions::new(pattern);
    options.edit_template = Some(Box::new(|template: &mut Value| {
        set_function_variable(template, "CORS_CREDENTIALED_ORIGINS", "*");
    }));
    let stack = TestStack::start_with(options).await;
    let function = stack.function_for("list_projects");
    let log = stack.log_path(&function);
    for attempt in 1..=3 {
        let reply = stack.get("/dev/api/v0/projects").await;
        assert_internal_error(&reply, &format!("attempt {attempt}"));
        let lines =
            wait_for_lines(&log, |lines| count(lines, "platform.initReport") >= attempt).await;
        let why = lines
            .iter()
            .filter(|line| line.contains("CORS_CREDENTIALED_ORIGINS must not contain"))
            .count();
        assert!(why >= attempt, "attempt {attempt}:\n{}", lines.join("\n"));
        assert_eq!(
            pool(&stack, &function).stats().cold_starts,
            attempt as u64,
            "one environment start per request"
        );
    }
    let lines = log_lines(&log);
    assert_eq!(
        count(&lines, "platform.initReport"),
        3,
        "{}",
        lines.join("\n")
    );
    stack.stop().await;
}

/// A function stuck past its timeout (here a write waiting on another process's lock longer than
/// the function may run) is ended: 502, a REPORT with `Status: timeout`, and the next request
/// is served by a new environment.
async fn a_function_that_never_answers_times_out_and_the_next_request_is_served(pattern: Pattern) {
    let mut options = StackOptions::new(pattern);
    options.edit_template = Some(Box::new(|template: &mut Value| {
        set_function_timeouts(template, 2);
    }));
    let stack = TestStack::start_with(options).await;
    let token = stack.token("alice");
    let function = stack.function_for("create_project");
    let created = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Before"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let lock = hold_write_lock(&database(&stack));
    let started = Instant::now();
    let stuck = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Stuck"))
        .await;
    assert_internal_error(&stuck, "a function past its timeout");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "ended by the timeout"
    );
    drop(lock);

    let after = stack
        .post("/dev/api/v0/projects", Some(&token), &project("After"))
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
    let log = stack.log_path(&function);
    let lines = wait_for_lines(&log, |lines| reports(lines).len() >= 3).await;
    let reports = reports(&lines);
    assert_eq!(
        reports[1].status.as_deref(),
        Some("timeout"),
        "{:?}",
        reports[1]
    );
    assert!(reports[2].is_cold(), "{:?}", reports[2]);
    assert!(
        lines
            .iter()
            .any(|line| line.contains("Task timed out after 2.00 seconds")),
        "{}",
        lines.join("\n")
    );
    stack.stop().await;
}

/// Fails unless `reply` is the API's 503 asking the client to retry.
fn assert_retry_later(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 503, "{what}: {}", reply.text);
    assert_eq!(reply.header("retry-after"), Some("1"), "{what}");
    assert_eq!(reply.json()["code"], "store_unavailable", "{what}");
}

/// Another process holding the database's write lock: writes get 503 with Retry-After once
/// SQLite's busy timeout passes, reads go on (WAL), and writes work again once it lets go.
async fn a_sqlite_file_locked_by_another_process_is_a_503_with_retry_after_until_freed(
    pattern: Pattern,
) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let created = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Before"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let lock = hold_write_lock(&database(&stack));
    let refused = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Locked"))
        .await;
    assert_retry_later(&refused, "a write while another process holds the lock");
    assert_eq!(stack.names("projects").await, ["Before"], "reads go on");
    drop(lock);

    let after = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Locked"))
        .await;
    assert_eq!(after.status, 201, "{}", after.text);
    assert_eq!(stack.names("projects").await, ["Before", "Locked"]);
    let log = stack.log_path(&stack.function_for("create_project"));
    wait_for_lines(&log, |lines| {
        lines.iter().any(|line| line.contains("held a write lock"))
    })
    .await;
    stack.stop().await;
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// The database made read-only (its mode, with the functions unable to override it): writes get
/// 503 with Retry-After and the function's log says what to fix; reads go on; the first write
/// after the fix succeeds.
async fn a_read_only_sqlite_file_is_a_503_with_retry_after_until_fixed(pattern: Pattern) {
    let stack = TestStack::start(pattern).await;
    let token = stack.token("alice");
    let created = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Before"))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // Connections opened before the change keep the access they had: end the environments,
    // and with them every connection, as a restart or a reclaim would.
    for pool in stack.local().pools() {
        pool.shutdown().await;
    }
    set_mode(&database(&stack), 0o444);

    let refused = stack
        .post("/dev/api/v0/projects", Some(&token), &project("Refused"))
        .await;
    assert_retry_later(&refused, "a write to a read-only file");
    assert_eq!(stack.names("projects").await, ["Before"], "reads go on");
    let log = stack.log_path(&stack.function_for("create_project"));
    wait_for_lines(&log, |lines| {
        lines.iter().any(|line| {
            line.contains("is read-only for this process") && line.contains("write permission")
        })
    })
    .await;

    // The fix: write permission on the database and the WAL files SQLite made beside it.
    for file in std::fs::read_dir(stack.state_dir()).unwrap() {
        let path = file.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("catalog.db")
        {
            set_mode(&path, 0o644);
        }
    }
    let after = stack
        .post("/dev/api/v0/projects", Some(&token), &project("After"))
        .await;
    assert_eq!(
        after.status, 201,
        "the first write after the fix: {}",
        after.text
    );
    assert_eq!(stack.names("projects").await, ["After", "Before"]);
    stack.stop().await;
}

/// Runs `scenario` on a runtime whose threads (and the function processes they start) cannot
/// override file modes; see [`store_contract::without_root_file_override`].
fn run_without_root_file_override<F: Future<Output = ()>>(
    scenario: impl FnOnce() -> F + Send + 'static,
) {
    std::thread::spawn(move || {
        store_contract::without_root_file_override();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario());
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

mod a_read_only_sqlite_file_is_a_503_with_retry_after_until_fixed {
    #[test]
    fn lith() {
        super::run_without_root_file_override(|| {
            super::a_read_only_sqlite_file_is_a_503_with_retry_after_until_fixed(
                stack::Pattern::Lith,
            )
        });
    }

    #[test]
    fn fat() {
        super::run_without_root_file_override(|| {
            super::a_read_only_sqlite_file_is_a_503_with_retry_after_until_fixed(
                stack::Pattern::Fat,
            )
        });
    }

    #[test]
    fn single() {
        super::run_without_root_file_override(|| {
            super::a_read_only_sqlite_file_is_a_503_with_retry_after_until_fixed(
                stack::Pattern::Single,
            )
        });
    }
}

/// The race of issue 12, made exact with the fixture: a request handed to an idle environment
/// whose process then dies without ever asking for the event. Its runtime never took it, so it
/// runs in a new environment, as Lambda would place it, and the client never sees a 502.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_given_to_a_process_that_dies_before_taking_it_runs_in_a_new_environment() {
    let artifacts = tempfile::tempdir().unwrap();
    write_fixture_package(artifacts.path(), "lith");
    let mut options = StackOptions::new(Pattern::Lith);
    options.artifacts_dir = artifacts.path().to_owned();
    let stack = TestStack::start_with(options).await;
    let function = "catalog-dev-lith";
    let pool = pool(&stack, function);

    let lingering = stack.get("/dev/linger").await;
    assert_eq!(lingering.status, 200, "{}", lingering.text);
    let pid: u32 = lingering.text.parse().expect("the fixture answers its pid");
    assert_eq!(pool.idle_count().await, 1);

    let next = {
        let (client, url) = (stack.client.clone(), stack.url("/dev/ok"));
        tokio::spawn(async move { Reply::read(client.get(url).send().await.unwrap()).await })
    };
    // The pool takes the idle environment and queues the event in one step: once it is no
    // longer idle, the event waits for a runtime that will never ask for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.idle_count().await > 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the pool"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    kill(pid);

    let reply = next.await.unwrap();
    assert_eq!((reply.status, reply.text.as_str()), (200, "ok"));
    let log = stack.log_path(function);
    let lines = wait_for_lines(&log, |lines| reports(lines).len() >= 2).await;
    assert!(
        lines
            .iter()
            .any(|line| line.contains("before its runtime took the next event")),
        "{}",
        lines.join("\n")
    );
    let reports = reports(&lines);
    assert_eq!(
        reports.len(),
        2,
        "no REPORT for the untaken event: {}",
        lines.join("\n")
    );
    assert!(reports[1].is_cold(), "{:?}", reports[1]);
    stack.stop().await;
}

/// A stack configured as [`TestStack`] configures it, for the tests that need to see it refuse
/// to start; `spoil` damages the state directory first.
async fn start_on_spoiled_state(spoil: impl FnOnce(&Path)) -> Result<LocalStack, String> {
    let config = dev_config();
    let template = ApiTemplate::read(&rendered_template(Pattern::Lith, &config)).unwrap();
    let state = tempfile::tempdir().unwrap();
    for pool in &config.user_pools {
        seed_key(state.path(), pool);
    }
    allow_ip(state.path(), LOCALHOST);
    spoil(state.path());
    let mut stack_config = LocalStackConfig::new(
        template,
        config.user_pools.clone(),
        e2e::lambda_dir(),
        state.path().to_owned(),
    );
    stack_config.listen = std::net::SocketAddr::new(LOCALHOST, 0);
    let started = LocalStack::start(stack_config).await;
    started.map_err(|error| error.to_string())
}

/// A corrupt signing key: the stack refuses to start (so nothing is ever authorized with a key
/// nobody can check), naming the file and the fix.
#[tokio::test]
async fn a_corrupt_cognito_key_file_stops_the_stack_naming_the_file_and_the_fix() {
    let mut spoiled = PathBuf::new();
    let refused = start_on_spoiled_state(|state| {
        let pool = &dev_config().user_pools[0];
        spoiled = devstack::cognito::key_file(state, pool);
        std::fs::write(&spoiled, "-----BEGIN PRIVATE KEY-----\nnope\n").unwrap();
    })
    .await;
    let Err(message) = refused else {
        panic!("the stack started on a corrupt key");
    };
    assert!(
        message.contains(&spoiled.display().to_string()),
        "{message}"
    );
    assert!(message.contains("delete it"), "{message}");
}

/// A corrupt IP set file at start: the stack refuses to start, naming the file and the fix.
#[tokio::test]
async fn a_corrupt_ip_set_file_stops_the_stack_naming_the_file_and_the_fix() {
    let mut spoiled = PathBuf::new();
    let refused = start_on_spoiled_state(|state| {
        let backend = waf::LocalBackend::new(state, waf::IpSetNames::for_env("dev").unwrap());
        spoiled = backend.set_path(waf::IpVersion::V4);
        std::fs::write(&spoiled, "{\"entries\": [").unwrap();
    })
    .await;
    let Err(message) = refused else {
        panic!("the stack started on a corrupt IP set");
    };
    assert!(
        message.contains(&spoiled.display().to_string()),
        "{message}"
    );
    assert!(message.contains("cargo xtask ip allow"), "{message}");
}

/// An IP set file corrupted (or unreadable) while the stack runs: the WAF blocks everyone it
/// covers (403, never allow-all), `gateway.log` names the file and the fix, and following the
/// fix restores access.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_set_file_corrupted_while_running_blocks_and_names_itself() {
    let stack = TestStack::start(Pattern::Lith).await;
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    let backend =
        waf::LocalBackend::new(stack.state_dir(), waf::IpSetNames::for_env("dev").unwrap());
    let file = backend.set_path(waf::IpVersion::V4);
    std::fs::write(&file, "not json").unwrap();

    let blocked = stack.get("/dev/api/v0/projects").await;
    assert_eq!(
        (blocked.status, blocked.json()),
        (403, json!({"message": "Forbidden"})),
        "{}",
        blocked.text
    );
    let lines = wait_for_lines(&stack.log_path("gateway"), |lines| {
        lines
            .iter()
            .any(|line| line.contains("WAF cannot read its IP set"))
    })
    .await;
    let note = lines
        .iter()
        .find(|line| line.contains("WAF cannot read its IP set"))
        .unwrap();
    assert!(note.contains(&file.display().to_string()), "{note}");
    assert!(note.contains("cargo xtask ip allow"), "{note}");

    std::fs::remove_file(&file).unwrap();
    allow_ip(stack.state_dir(), LOCALHOST);
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);

    // Unreadable rather than corrupt (a directory where the file belongs): blocked too.
    let kept = file.with_extension("kept");
    std::fs::rename(&file, &kept).unwrap();
    std::fs::create_dir(&file).unwrap();
    let blocked = stack.get("/dev/api/v0/projects").await;
    assert_eq!(blocked.status, 403, "{}", blocked.text);
    let unreadable = format!("could not read {}", file.display());
    wait_for_lines(&stack.log_path("gateway"), |lines| {
        lines.iter().any(|line| line.contains(&unreadable))
    })
    .await;
    std::fs::remove_dir(&file).unwrap();
    std::fs::rename(&kept, &file).unwrap();
    assert_eq!(stack.get("/dev/api/v0/projects").await.status, 200);
    stack.stop().await;
}
