//! The local measurement: forced cold starts on private local stacks (devstack), and the floor,
//! a hello-world function started directly through its Runtime API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stack::{ApiTemplate, UserPool};

use devstack::ExecutionEnvironment;
use devstack::proxy::ProxyRequest;
use platform_report::ReportTail;

use super::{FLOOR, ForceColdStart, GroupResult, PatternResult, Probe};
use crate::private_stack::{
    MeasureError, function_log, mint_token, read_new, start_private_stack_with, timed_send,
    wait_for_reports,
};

fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// What to measure for one pattern.
pub struct Plan {
    pub pattern: String,
    pub template: ApiTemplate,
    pub user_pools: Vec<UserPool>,
    pub artifacts_dir: PathBuf,
    /// The private stack's state directory.
    pub state_dir: PathBuf,
    /// Variables for every function besides the template's (e.g. another `STORE_URL`).
    pub function_env: BTreeMap<String, String>,
    /// What to measure: each route group's probe, or every route ([`Probe::all`]).
    pub probes: Vec<Probe>,
    /// Forced cold starts per probe.
    pub samples: usize,
    /// Warm requests per probe.
    pub burst: usize,
}

/// Measures one pattern on a private stack; `progress` hears about each sample.
pub async fn measure_pattern(
    plan: Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<PatternResult, MeasureError> {
    let Plan {
        pattern,
        template,
        user_pools,
        artifacts_dir,
        state_dir,
        function_env,
        probes,
        samples,
        burst,
    } = plan;
    let pattern = pattern.as_str();
    let mut targets: Vec<(Probe, String, String)> = Vec::new();
    for probe in probes {
        if let Some(function) = probe.function(&template) {
            targets.push((
                probe,
                function.function_name.clone(),
                function.package.clone(),
            ));
        }
    }
    let deployment = super::DeploymentSize::of(&template, &artifacts_dir);
    // A token of the stack's first pool, for the routes that need one (per-route runs).
    let token = if targets.iter().any(|(probe, ..)| probe.route.is_protected()) {
        Some(mint_token(&user_pools, &state_dir, "coldstart")?)
    } else {
        None
    };
    let stack = start_private_stack_with(
        template,
        user_pools,
        artifacts_dir.clone(),
        state_dir,
        function_env,
        devstack::local_stack::DEFAULT_ACCOUNT_CONCURRENCY,
    )
    .await?;
    let client = reqwest::Client::new();
    let mut groups = Vec::new();
    let mut outcome = Ok(());
    let mut creates = 0_u64;
    for (probe, function, package) in targets {
        let group = probe.label.to_owned();
        let pool = stack.pools().find(|p| p.config().name == function).cloned();
        let log = function_log(stack.logs_dir(), &function);
        let mut tail = ReportTail::from_end(&log).map_err(|source| MeasureError::Io {
            path: log.clone(),
            source,
        })?;
        let url = format!("{}{}", stack.base_url(), probe.path());
        let request = ProbeRequest {
            client: &client,
            probe,
            url: &url,
            token: token.as_deref(),
        };
        let mut result = GroupResult {
            binary_bytes: file_size(&artifacts_dir.join(&package).join("bootstrap")),
            zip_bytes: file_size(&artifacts_dir.join(&package).join("bootstrap.zip")),
            group: group.clone(),
            function: function.clone(),
            package,
            cold: Vec::new(),
            not_cold: Vec::new(),
            warm_ms: Vec::new(),
        };
        let run: Result<(), MeasureError> = async {
            for sample in 1..=samples {
                if let Some(pool) = &pool {
                    let Ok(()) = IdleEnvironments(pool).force_cold_start(sample).await;
                    // Past the reports of earlier requests: the next report is this sample's.
                    read_new(&mut tail)?;
                }
                creates += 1;
                let latency = request.send(creates).await?;
                let found = wait_for_reports(&mut tail, 1).await?;
                let Some(report) = found.first().cloned() else {
                    return Err(MeasureError::MissingReports {
                        function: function.clone(),
                        got: 0,
                        expected: 1,
                        log: log.clone(),
                    });
                };
                let peak_rss_kb = match &pool {
                    Some(pool) => pool.idle_peak_rss_kb().await.into_iter().max(),
                    None => None,
                };
                result.record(report, latency, peak_rss_kb);
                progress(&format!(
                    "{pattern} · {group}: cold start {sample}/{samples}"
                ));
            }
            for _ in 0..burst {
                creates += 1;
                result.warm_ms.push(request.send(creates).await?);
            }
            progress(&format!("{pattern} · {group}: warm burst of {burst} done"));
            Ok(())
        }
        .await;
        groups.push(result);
        if let Err(error) = run {
            outcome = Err(error);
            break;
        }
    }
    stack.stop().await;
    outcome.map(|()| PatternResult {
        pattern: pattern.to_owned(),
        architecture: None,
        memory_mb: None,
        deployment: Some(deployment),
        groups,
    })
}

/// One probe's request through the gateway, timed.
struct ProbeRequest<'a> {
    client: &'a reqwest::Client,
    probe: Probe,
    url: &'a str,
    token: Option<&'a str>,
}

impl ProbeRequest<'_> {
    /// Sends the request (a create names item `n`, so that each is new) and returns the
    /// client's latency in ms; any status but the one the probe expects is an error.
    async fn send(&self, n: u64) -> Result<f64, MeasureError> {
        use routes::{CollectionOp, Operation};
        let route = self.probe.route;
        let method = reqwest::Method::from_bytes(route.method.as_str().as_bytes())
            .expect("the route table's methods are HTTP methods");
        let mut builder = self.client.request(method, self.url);
        if let Some(token) = self.token.filter(|_| route.is_protected()) {
            builder = builder.header("authorization", token);
        }
        if let Operation::Collection(_, CollectionOp::Create) = route.operation {
            builder = builder.json(&serde_json::json!({"name": format!("coldstart-{n}")}));
        }
        timed_send(builder, self.url, Some(self.probe.expected_status())).await
    }
}

/// The local way to force a cold start: stop the function's idle execution environments, as
/// Lambda does after idling, so the next request starts a new process.
struct IdleEnvironments<'a>(&'a devstack::pool::FunctionPool);

impl ForceColdStart for IdleEnvironments<'_> {
    type Error = std::convert::Infallible;

    async fn force_cold_start(&mut self, _sample: usize) -> Result<(), Self::Error> {
        self.0.shutdown().await;
        // Every report of earlier requests into the file (the log writer runs behind the
        // responses), so that reading past them leaves only what comes next.
        let log = self.0.log().clone();
        let _ = tokio::task::spawn_blocking(move || log.flush()).await;
        Ok(())
    }
}

/// What to measure for the floor: a hello-world lambda_http function (crates/coldstart-floor)
/// built in the functions' profile, so its Init Duration is what any such binary needs.
pub struct FloorPlan {
    /// The floor's package: `<dir>/bootstrap.zip` (and `bootstrap` beside it, for its size).
    pub package_dir: PathBuf,
    pub state_dir: PathBuf,
    pub samples: usize,
    pub burst: usize,
}

/// Measures the floor: each sample a new execution environment invoked once, directly through
/// its Runtime API (no gateway: it serves no route of the template), then a warm burst.
pub async fn measure_floor(
    plan: FloorPlan,
    progress: &mut dyn FnMut(&str),
) -> Result<GroupResult, MeasureError> {
    let FloorPlan {
        package_dir,
        state_dir,
        samples,
        burst,
    } = plan;
    let zip = package_dir.join("bootstrap.zip");
    if !zip.is_file() {
        return Err(MeasureError::Setup(format!(
            "{}: the floor's package is missing; `cargo xtask coldstart` builds it",
            zip.display()
        )));
    }
    let work_dir = state_dir.join("runtime");
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| MeasureError::Setup(format!("creating {}: {e}", work_dir.display())))?;
    let config = devstack::FunctionConfig::new("coldstart-floor", &zip);
    let mut result = GroupResult {
        group: FLOOR.into(),
        function: config.name.clone(),
        package: "coldstart-floor".into(),
        binary_bytes: file_size(&package_dir.join("bootstrap")),
        zip_bytes: file_size(&zip),
        cold: Vec::new(),
        not_cold: Vec::new(),
        warm_ms: Vec::new(),
    };
    let event = ProxyRequest::new("GET", "floor", "/").to_event();
    let start = || async {
        ExecutionEnvironment::start(config.clone(), &work_dir, devstack::LogSink::discard())
            .await
            .map_err(|e| MeasureError::Setup(format!("starting the floor: {e}")))
    };
    let mut last = None;
    for sample in 1..=samples {
        let mut environment = start().await?;
        let (invocation, latency) = invoke_floor(&mut environment, &event).await?;
        let peak_rss_kb = devstack::environment::peak_rss_kb(environment.pid());
        result.record(invocation.report, latency, peak_rss_kb);
        progress(&format!("floor: cold start {sample}/{samples}"));
        // The last environment stays for the warm burst.
        if sample < samples {
            let _ = environment.shutdown().await;
        } else {
            last = Some(environment);
        }
    }
    if let Some(mut environment) = last {
        for _ in 0..burst {
            result
                .warm_ms
                .push(invoke_floor(&mut environment, &event).await?.1);
        }
        let _ = environment.shutdown().await;
        progress(&format!("floor: warm burst of {burst} done"));
    }
    Ok(result)
}

/// One invocation of the floor and its latency in ms.
async fn invoke_floor(
    environment: &mut ExecutionEnvironment,
    event: &serde_json::Value,
) -> Result<(devstack::Invocation, f64), MeasureError> {
    let started = std::time::Instant::now();
    let invocation = environment
        .invoke(event.clone())
        .await
        .map_err(|e| MeasureError::Setup(format!("invoking the floor: {e}")))?;
    Ok((invocation, started.elapsed().as_secs_f64() * 1000.0))
}
