//! A function's execution environments, as Lambda manages them: reuse an idle one, start a new
//! one (a cold start) when all are busy, up to a concurrency limit; reclaim idle ones after a
//! while; never reuse one that crashed, timed out or failed its init; run an invocation that an
//! idle environment's dying process never took in a new environment instead of failing it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use crate::environment::{
    EnvironmentError, ExecutionEnvironment, FunctionConfig, Invocation, InvokeError,
};
use crate::log::{LogLine, LogSink, LogStream};

/// What an invocation through the pool can end in, besides a response.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// Every allowed environment is busy: Lambda throttles (API Gateway answers 500).
    #[error("{function}: all {limit} execution environments are busy")]
    Throttled { function: String, limit: usize },
    #[error("starting an execution environment: {0}")]
    Start(#[from] EnvironmentError),
    #[error(transparent)]
    Invoke(#[from] InvokeError),
}

/// A reserved execution slot of a pool, given back when dropped.
struct Slot(Arc<FunctionPool>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Idle {
    environment: ExecutionEnvironment,
    since: Instant,
    alive: Alive,
}

/// Counts one environment as alive until dropped, whichever way the environment ends.
struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a pool has done so far, for measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Environments started (each a cold start).
    pub cold_starts: u64,
    /// Environments alive now, busy or idle.
    pub alive: usize,
    /// The most environments alive at once.
    pub peak_alive: usize,
}

/// The environments of one function.
pub struct FunctionPool {
    config: FunctionConfig,
    work_dir: PathBuf,
    log: LogSink,
    concurrency_limit: usize,
    idle: Mutex<Vec<Idle>>,
    busy: AtomicUsize,
    /// Bumped by [`FunctionPool::shutdown`] (with `idle` locked): an environment serving an
    /// invocation accepted before a shutdown is stopped when the invocation ends instead of going
    /// back to the pool, so a shutdown leaves no environment of its time behind. Compared with
    /// `idle` locked too, so an invocation ending during a shutdown cannot slip one in.
    generation: AtomicU64,
    cold_starts: AtomicU64,
    alive: Arc<AtomicUsize>,
    peak_alive: AtomicUsize,
}

impl FunctionPool {
    pub fn new(
        config: FunctionConfig,
        work_dir: PathBuf,
        log: LogSink,
        concurrency_limit: usize,
    ) -> Arc<FunctionPool> {
        Arc::new(FunctionPool {
            config,
            work_dir,
            log,
            concurrency_limit: concurrency_limit.max(1),
            idle: Mutex::new(Vec::new()),
            busy: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            cold_starts: AtomicU64::new(0),
            alive: Arc::new(AtomicUsize::new(0)),
            peak_alive: AtomicUsize::new(0),
        })
    }

    /// Cold starts so far, environments alive now and at most.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            cold_starts: self.cold_starts.load(Ordering::SeqCst),
            alive: self.alive.load(Ordering::SeqCst),
            peak_alive: self.peak_alive.load(Ordering::SeqCst),
        }
    }

    fn count_new_environment(&self) -> Alive {
        self.cold_starts.fetch_add(1, Ordering::SeqCst);
        let alive = self.alive.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_alive.fetch_max(alive, Ordering::SeqCst);
        Alive(Arc::clone(&self.alive))
    }

    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Where the function's output and platform lines go.
    pub fn log(&self) -> &LogSink {
        &self.log
    }

    /// Invokes the function in an idle environment, or a new one. The invocation runs to its end
    /// in a task of its own even if the caller stops waiting, as Lambda finishes an invocation
    /// whose client went away; the environment then goes back to the pool.
    pub async fn invoke(self: &Arc<Self>, event: Value) -> Result<Invocation, PoolError> {
        // Reserve a slot first, so a burst cannot start more environments than the limit.
        let reserved = self.busy.fetch_add(1, Ordering::SeqCst);
        if reserved >= self.concurrency_limit {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return Err(PoolError::Throttled {
                function: self.config.name.clone(),
                limit: self.concurrency_limit,
            });
        }
        // Taken with the slot: the invocation belongs to the pool as it is now, even if its task
        // only starts after a shutdown.
        let generation = self.generation.load(Ordering::SeqCst);
        let slot = Slot(Arc::clone(self));
        let task = tokio::spawn(async move {
            // The slot is given back when the task ends, however it ends (a panic included).
            let slot = slot;
            slot.0.invoke_reserved(event, generation).await
        });
        task.await.unwrap_or_else(|join| {
            Err(PoolError::Invoke(InvokeError::Io(std::io::Error::other(
                join,
            ))))
        })
    }

    async fn invoke_reserved(
        &self,
        event: Value,
        generation: u64,
    ) -> Result<Invocation, PoolError> {
        if let Some(idle) = self.take_live_idle().await {
            let id = idle.environment.id().to_owned();
            match self
                .run_in(idle.environment, idle.alive, &event, generation)
                .await
            {
                // Its process was alive when checked but dying: the runtime never took the
                // event, so nothing ran. Lambda would have placed the invocation elsewhere; so
                // does this, once, in a new environment (only a warm environment ends so, so a
                // failing init is never retried).
                Err(PoolError::Invoke(InvokeError::ExitedBeforeTaking { status })) => {
                    self.log.emit(LogLine::new(
                        &self.config.name,
                        LogStream::Platform,
                        format!(
                            "environment {id} ended ({status}) before its runtime took the next event; the invocation goes to a new environment"
                        ),
                    ));
                }
                outcome => return outcome,
            }
        }
        let environment =
            ExecutionEnvironment::start(self.config.clone(), &self.work_dir, self.log.clone())
                .await?;
        let alive = self.count_new_environment();
        self.run_in(environment, alive, &event, generation).await
    }

    /// Runs one invocation in `environment`, then gives it back to the pool if it can serve
    /// again, or shuts it down.
    async fn run_in(
        &self,
        mut environment: ExecutionEnvironment,
        alive: Alive,
        event: &Value,
        generation: u64,
    ) -> Result<Invocation, PoolError> {
        let outcome = environment.invoke_ref(event).await;
        let retired = if environment.is_alive() {
            let mut idle = self.idle.lock().await;
            if self.generation.load(Ordering::SeqCst) == generation {
                idle.push(Idle {
                    environment,
                    since: Instant::now(),
                    alive,
                });
                None
            } else {
                // The pool was shut down while this invocation ran.
                Some((environment, alive))
            }
        } else {
            // Crashed, timed out or failed its init: the next request gets a fresh environment.
            Some((environment, alive))
        };
        if let Some((environment, _alive)) = retired {
            let _ = environment.shutdown().await;
        }
        Ok(outcome?)
    }

    /// The most recently used idle environment whose process still runs. One whose process exited
    /// while idle is retired, as Lambda resets an environment whose runtime went away.
    async fn take_live_idle(&self) -> Option<Idle> {
        loop {
            let candidate = self.idle.lock().await.pop()?;
            if candidate.environment.is_alive() {
                return Some(candidate);
            }
            let _ = candidate.environment.shutdown().await;
        }
    }

    /// Shuts down environments idle for longer than `max_idle`; returns how many.
    pub async fn reclaim_idle(&self, max_idle: Duration) -> usize {
        let expired: Vec<Idle> = {
            let mut idle = self.idle.lock().await;
            let (expired, kept) = idle.drain(..).partition(|i| i.since.elapsed() >= max_idle);
            *idle = kept;
            expired
        };
        let count = expired.len();
        for idle in expired {
            let id = idle.environment.id().to_owned();
            let _ = idle.environment.shutdown().await;
            self.log.emit(LogLine::new(
                &self.config.name,
                LogStream::Platform,
                format!("environment {id} reclaimed after {max_idle:?} idle"),
            ));
        }
        count
    }

    /// Peak resident memory (kB) of each idle environment's process.
    pub async fn idle_peak_rss_kb(&self) -> Vec<u64> {
        let idle = self.idle.lock().await;
        idle.iter()
            .filter_map(|i| crate::environment::peak_rss_kb(i.environment.pid()))
            .collect()
    }

    /// Environments waiting for work.
    pub async fn idle_count(&self) -> usize {
        self.idle.lock().await.len()
    }

    /// Stops every idle environment; busy ones stop when their invocation ends. The pool stays
    /// usable: the next invocation starts a new environment (a cold start).
    pub async fn shutdown(&self) {
        let idle: Vec<Idle> = {
            let mut idle = self.idle.lock().await;
            self.generation.fetch_add(1, Ordering::SeqCst);
            idle.drain(..).collect()
        };
        for idle in idle {
            let _ = idle.environment.shutdown().await;
        }
    }
}
