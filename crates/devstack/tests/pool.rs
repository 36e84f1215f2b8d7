//! A function's pool of execution environments, with the Python fixture bootstrap (see
//! environment.rs) as the function: warm reuse, one environment per concurrent invocation, the
//! concurrency limit, failed environments replaced, idle ones reclaimed, shutdown.
//!
//! The tests run on tokio's current-thread runtime, where an invocation's task only runs when the
//! test yields: polling an invocation once reserves its slot and spawns its task, and nothing of
//! that task has run yet when the test makes its next call. That is what makes "while the first
//! invocation is in flight" exact here rather than a matter of timing.

mod support;

use support::{fixture_package, package_without_bootstrap, process_exists};

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use devstack::pool::{FunctionPool, PoolError};
use devstack::{FunctionConfig, Invocation, InvokeError, LogLine, LogSink, LogStream};
use serde_json::json;
use tempfile::TempDir;

struct Harness {
    pool: Arc<FunctionPool>,
    logs: Arc<Mutex<Vec<LogLine>>>,
    work_dir: PathBuf,
    _dir: TempDir,
}

impl Harness {
    /// A pool of the fixture with a 1 s invocation timeout and at most `limit` environments.
    fn new(limit: usize) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = FunctionConfig::new("fixture", fixture_package(dir.path()));
        config.timeout = Duration::from_secs(1);
        config.init_timeout = Duration::from_secs(5);
        let logs = Arc::new(Mutex::new(Vec::new()));
        let work_dir = dir.path().join("tasks");
        let pool = FunctionPool::new(
            config,
            work_dir.clone(),
            LogSink::collect(logs.clone()),
            limit,
        );
        Harness {
            pool,
            logs,
            work_dir,
            _dir: dir,
        }
    }

    async fn invoke(&self, action: &str) -> Result<Invocation, PoolError> {
        self.pool.invoke(json!({ "action": action })).await
    }

    /// An `echo` invocation that must succeed; returns it and the pid of the process that ran it.
    async fn echo(&self) -> (Invocation, u32) {
        let invocation = self.invoke("echo").await.expect("echo succeeds");
        let pid = pid_of(&invocation);
        (invocation, pid)
    }

    fn platform(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.stream == LogStream::Platform)
            .map(|l| l.text.clone())
            .collect()
    }

    /// Task directories left under the pool's work directory.
    fn task_dirs(&self) -> usize {
        std::fs::read_dir(&self.work_dir).map_or(0, |dir| dir.count())
    }
}

/// The fixture's `echo` answers with the pid of the process that ran it.
fn pid_of(invocation: &Invocation) -> u32 {
    let pid = invocation.response["pid"]
        .as_u64()
        .expect("echo reports its pid");
    u32::try_from(pid).unwrap()
}

/// Polls `future` once and says whether it is still pending (see the file's header).
async fn poll_once<F: Future + Unpin>(future: &mut F) -> bool {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx).is_pending())).await
}

#[tokio::test]
async fn a_second_sequential_invocation_reuses_the_warm_environment() {
    let h = Harness::new(10);
    let (first, first_pid) = h.echo().await;
    assert!(first.cold && first.report.is_cold(), "{:?}", first.report);
    assert_eq!(h.pool.idle_count().await, 1);

    let (second, second_pid) = h.echo().await;
    assert!(!second.cold);
    assert_eq!(second.report.init_duration_ms, None, "{:?}", second.report);
    assert_eq!(second_pid, first_pid, "the same process served both");
    assert_eq!(h.pool.idle_count().await, 1);
    assert_eq!(h.task_dirs(), 1, "one environment was ever started");
}

#[tokio::test]
async fn concurrent_invocations_start_one_environment_each() {
    let h = Harness::new(10);
    let (a, b) = tokio::join!(h.echo(), h.echo());
    assert!(a.0.cold && b.0.cold, "{:?} / {:?}", a.0.report, b.0.report);
    assert_ne!(a.1, b.1, "two processes");
    assert_eq!(h.pool.idle_count().await, 2);
    assert_eq!(h.pool.idle_peak_rss_kb().await.len(), 2);

    // Both stay warm for later invocations.
    let (third, third_pid) = h.echo().await;
    assert!(!third.cold);
    assert!([a.1, b.1].contains(&third_pid), "{third_pid}");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_an_invocation_is_throttled_until_the_slot_frees() {
    let h = Harness::new(1);
    let mut hanging = Box::pin(h.invoke("hang"));
    assert!(poll_once(&mut hanging).await);

    let throttled = h.invoke("echo").await.unwrap_err();
    assert!(
        matches!(&throttled, PoolError::Throttled { function, limit: 1 } if function == "fixture"),
        "{throttled:?}"
    );

    let timed_out = hanging.await.unwrap_err();
    assert!(
        matches!(timed_out, PoolError::Invoke(InvokeError::Timeout { .. })),
        "{timed_out:?}"
    );
    // The slot is free again, and the environment that timed out is not the one serving.
    let (next, _) = h.echo().await;
    assert!(next.cold, "{:?}", next.report);
}

#[tokio::test]
async fn a_limit_of_zero_still_allows_one_environment() {
    let h = Harness::new(0);
    let mut hanging = Box::pin(h.invoke("hang"));
    assert!(poll_once(&mut hanging).await);
    let throttled = h.invoke("echo").await.unwrap_err();
    assert!(
        matches!(throttled, PoolError::Throttled { limit: 1, .. }),
        "{throttled:?}"
    );
    drop(hanging);
}

#[tokio::test]
async fn a_failed_start_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = package_without_bootstrap(dir.path());
    let pool = FunctionPool::new(
        FunctionConfig::new("nothing", &zip_path),
        dir.path().join("tasks"),
        LogSink::discard(),
        1,
    );
    // With one slot, a second attempt is throttled unless the first gave its slot back.
    for attempt in 1..=2 {
        let error = pool.invoke(json!({})).await.unwrap_err();
        assert!(
            matches!(error, PoolError::Start(_)),
            "attempt {attempt}: {error:?}"
        );
    }
    assert_eq!(pool.idle_count().await, 0);
}

/// A warm environment fails with `action`; the pool drops it, and the next invocation is a cold
/// start in another process.
async fn a_failed_environment_is_replaced(action: &str, fails: impl Fn(&InvokeError) -> bool) {
    let h = Harness::new(10);
    let (_, pid) = h.echo().await;
    assert_eq!(h.pool.idle_count().await, 1);

    let error = h.invoke(action).await.unwrap_err();
    assert!(
        matches!(&error, PoolError::Invoke(e) if fails(e)),
        "{error:?}"
    );
    assert_eq!(
        h.pool.idle_count().await,
        0,
        "the failed environment is dropped"
    );
    assert!(!process_exists(pid));
    assert_eq!(h.task_dirs(), 0, "its task directory is removed");

    let (next, next_pid) = h.echo().await;
    assert!(next.cold, "{:?}", next.report);
    assert_ne!(next_pid, pid);
}

#[tokio::test]
async fn a_crashed_environment_is_not_reused() {
    a_failed_environment_is_replaced("crash", |e| matches!(e, InvokeError::Crashed { .. })).await;
}

#[tokio::test]
async fn a_timed_out_environment_is_not_reused() {
    a_failed_environment_is_replaced("hang", |e| matches!(e, InvokeError::Timeout { .. })).await;
}

#[tokio::test]
async fn a_function_error_keeps_the_environment_warm() {
    let h = Harness::new(10);
    let (_, pid) = h.echo().await;
    let error = h.invoke("error").await.unwrap_err();
    assert!(
        matches!(&error, PoolError::Invoke(InvokeError::FunctionError { error_type, .. })
            if error_type == "Fixture.Boom"),
        "{error:?}"
    );
    assert_eq!(h.pool.idle_count().await, 1);
    let (next, next_pid) = h.echo().await;
    assert!(!next.cold);
    assert_eq!(next_pid, pid);
}

#[tokio::test]
async fn an_environment_whose_process_exited_while_idle_is_not_reused() {
    let h = Harness::new(10);
    let (_, pid) = h.echo().await;
    h.invoke("respond_then_exit")
        .await
        .expect("the response came before the exit");
    // The process has exited (a zombie until reaped) before the next request arrives.
    let exited = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    };
    for _ in 0..200 {
        if exited() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(exited(), "the fixture exits after responding");
    let (next, next_pid) = h.echo().await;
    assert!(next.cold, "the next request starts a new environment");
    assert_ne!(next_pid, pid);
}

/// The race the check above leaves: a request handed to an idle environment whose process was
/// still running when the pool looked, and died before its runtime asked for the event. The
/// runtime never took it, so nothing ran: it goes to a new environment, as Lambda would place it,
/// instead of failing.
#[tokio::test]
async fn a_request_given_to_an_idle_environment_whose_process_dies_before_taking_it_runs_anew() {
    let h = Harness::new(10);
    let lingering = h
        .invoke("respond_then_linger")
        .await
        .expect("it answers before lingering");
    let pid = pid_of(&lingering);
    assert_eq!(h.pool.idle_count().await, 1);

    let mut next = Box::pin(h.invoke("echo"));
    assert!(poll_once(&mut next).await);
    // The invocation's task takes the idle environment and queues the event in its first run.
    for _ in 0..100 {
        if h.pool.idle_count().await == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(
        h.pool.idle_count().await,
        0,
        "the request went to the idle one"
    );
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let invocation = next.await.expect("served by a new environment, not failed");
    assert!(invocation.cold, "{:?}", invocation.report);
    assert_ne!(pid_of(&invocation), pid);
    assert!(
        h.platform()
            .iter()
            .any(|l| l.contains("before its runtime took the next event")),
        "{:#?}",
        h.platform()
    );
}

#[tokio::test]
async fn reclaim_idle_shuts_down_environments_idle_for_long_enough() {
    let h = Harness::new(10);
    let (_, pid) = h.echo().await;

    // Not idle for an hour: kept.
    assert_eq!(h.pool.reclaim_idle(Duration::from_secs(3600)).await, 0);
    assert_eq!(h.pool.idle_count().await, 1);
    assert!(process_exists(pid));

    assert_eq!(h.pool.reclaim_idle(Duration::ZERO).await, 1);
    assert_eq!(h.pool.idle_count().await, 0);
    assert!(!process_exists(pid), "the reclaimed process is gone");
    assert_eq!(h.task_dirs(), 0);
    let platform = h.platform();
    assert!(
        platform
            .iter()
            .any(|l| l.starts_with("environment ") && l.ends_with(" reclaimed after 0ns idle")),
        "{platform:#?}"
    );

    let (next, next_pid) = h.echo().await;
    assert!(next.cold);
    assert_ne!(next_pid, pid);
}

#[tokio::test]
async fn shutdown_stops_every_idle_environment_and_the_pool_stays_usable() {
    let h = Harness::new(10);
    let ((_, a), (_, b)) = tokio::join!(h.echo(), h.echo());
    assert_ne!(a, b);
    assert_eq!(h.pool.idle_count().await, 2);

    h.pool.shutdown().await;
    assert_eq!(h.pool.idle_count().await, 0);
    assert!(!process_exists(a) && !process_exists(b));
    assert_eq!(h.task_dirs(), 0);

    // `cargo xtask coldstart` shuts a pool down to force the next request to start cold.
    let (next, next_pid) = h.echo().await;
    assert!(next.cold);
    assert!(![a, b].contains(&next_pid));
    assert_eq!(h.pool.idle_count().await, 1);

    // What `cargo xtask load` reports: three cold starts, two environments at most, one left.
    let stats = h.pool.stats();
    assert_eq!(
        (stats.cold_starts, stats.peak_alive, stats.alive),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn an_environment_busy_at_shutdown_stops_when_its_invocation_ends() {
    let h = Harness::new(10);
    let mut busy = Box::pin(h.echo());
    assert!(poll_once(&mut busy).await);

    h.pool.shutdown().await;
    let (invocation, pid) = busy.await;
    assert!(invocation.cold);
    assert_eq!(
        h.pool.idle_count().await,
        0,
        "an environment of an invocation accepted before shutdown does not go back to the pool"
    );
    assert!(!process_exists(pid));
    assert_eq!(h.task_dirs(), 0);
}
