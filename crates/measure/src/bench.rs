//! Measures the local stack itself: the gateway's overhead per warm request (client latency minus
//! the function's own REPORT Duration) and each function's cold start, on a private stack.

use std::path::PathBuf;

use devstack::local_stack::LocalStack;
use platform_report::ReportTail;
use stack::{ApiTemplate, UserPool};

use crate::private_stack::{
    MeasureError, function_log, probe_path, start_private_stack, timed_get, wait_for_reports,
};

/// What one bench run measured.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Per function: name, Init Duration (ms, from its REPORT line), first request latency (ms).
    pub cold_starts: Vec<(String, f64, f64)>,
    /// Gateway overhead of each warm request, in ms.
    pub overheads_ms: Vec<f64>,
    /// Client latency of each warm request, in ms.
    pub latencies_ms: Vec<f64>,
}

/// Starts a private stack from `template` in `state_dir`, measures, and stops it.
pub async fn run(
    template: ApiTemplate,
    user_pools: Vec<UserPool>,
    artifacts_dir: PathBuf,
    state_dir: PathBuf,
    requests: usize,
) -> Result<BenchResult, MeasureError> {
    // Each function that serves a group's probe, once, with the first such group.
    let mut functions: Vec<(String, String)> = Vec::new();
    for group in routes::Group::ALL {
        if let Some(function) = crate::coldstart::probe_function(&template, group.name())
            && !functions
                .iter()
                .any(|(name, _)| *name == function.function_name)
        {
            functions.push((function.function_name.clone(), group.name().to_owned()));
        }
    }
    let stack = start_private_stack(template, user_pools, artifacts_dir, state_dir).await?;
    let outcome = measure(&stack, &functions, requests).await;
    stack.stop().await;
    outcome
}

async fn measure(
    stack: &LocalStack,
    functions: &[(String, String)],
    requests: usize,
) -> Result<BenchResult, MeasureError> {
    let client = reqwest::Client::new();
    let mut cold_starts = Vec::new();
    let mut tails = Vec::new();
    for (function, group) in functions {
        let log = function_log(stack.logs_dir(), function);
        let mut tail = ReportTail::from_start(&log);
        let latency = timed_get(
            &client,
            &format!("{}{}", stack.base_url(), probe_path(group)),
        )
        .await?;
        let found = wait_for_reports(&mut tail, 1).await?;
        let init = found
            .first()
            .and_then(|r| r.init_duration_ms)
            .ok_or_else(|| MeasureError::MissingReports {
                function: function.clone(),
                got: found.len(),
                expected: 1,
                log: log.clone(),
            })?;
        cold_starts.push((function.clone(), init, latency));
        tails.push(tail);
    }

    let (function, group) = &functions[0];
    let tail = &mut tails[0];
    let url = format!("{}{}", stack.base_url(), probe_path(group));
    let mut latencies_ms = Vec::with_capacity(requests);
    for _ in 0..requests {
        latencies_ms.push(timed_get(&client, &url).await?);
    }
    // The log writer runs behind the responses: every report in the file before reading them.
    if let Some(pool) = stack.pools().find(|p| p.config().name == *function) {
        let log = pool.log().clone();
        let _ = tokio::task::spawn_blocking(move || log.flush()).await;
    }
    let found = wait_for_reports(tail, requests).await?;
    if found.len() < requests {
        return Err(MeasureError::MissingReports {
            function: function.clone(),
            got: found.len(),
            expected: requests,
            log: function_log(stack.logs_dir(), function),
        });
    }
    // Sequential requests to one warm environment: the k-th REPORT is the k-th request's.
    let overheads_ms = latencies_ms
        .iter()
        .zip(&found)
        .map(|(latency, report)| latency - report.duration_ms)
        .collect();
    Ok(BenchResult {
        cold_starts,
        overheads_ms,
        latencies_ms,
    })
}
