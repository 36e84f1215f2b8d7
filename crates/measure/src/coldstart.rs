//! Cold starts compared between packaging patterns: for each pattern and route group, N forced
//! cold starts (a fresh execution environment each), their Init Duration (from the REPORT line)
//! and first-request latency through the gateway, then warm latencies over a burst, sizes and
//! peak RSS. Results are raw samples first; tables, ratios and the chart are derived from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use stack::{ApiTemplate, UserPool};

use devstack::ExecutionEnvironment;
use devstack::proxy::ProxyRequest;
use platform_report::{Report, ReportTail};

use crate::machine::Machine;
use crate::private_stack::{
    MeasureError, function_log, probe_path, read_new, start_private_stack_with, timed_get,
    wait_for_reports,
};
use crate::stats::{Summary, percentile};

/// One forced cold start.
#[derive(Debug, Clone, Serialize)]
pub struct ColdSample {
    pub init_ms: f64,
    pub first_request_ms: f64,
    pub peak_rss_kb: Option<u64>,
    /// The REPORT line the sample was read from, as logged.
    pub report: String,
}

/// Measurements of one route group in one pattern.
#[derive(Debug, Clone, Serialize)]
pub struct GroupResult {
    pub group: String,
    pub function: String,
    pub package: String,
    pub binary_bytes: Option<u64>,
    pub zip_bytes: Option<u64>,
    pub cold: Vec<ColdSample>,
    /// Requests meant as cold starts whose REPORT had no Init Duration: never counted as cold.
    pub not_cold: Vec<String>,
    /// Client latencies of the warm burst, in ms.
    pub warm_ms: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PatternResult {
    pub pattern: String,
    pub groups: Vec<GroupResult>,
}

impl GroupResult {
    pub fn init(&self) -> Option<Summary> {
        Summary::of(self.cold.iter().map(|s| s.init_ms))
    }

    pub fn first_request(&self) -> Option<Summary> {
        Summary::of(self.cold.iter().map(|s| s.first_request_ms))
    }

    /// Warm p50 and p99.
    pub fn warm(&self) -> Option<(f64, f64)> {
        let mut sorted = self.warm_ms.clone();
        sorted.sort_by(f64::total_cmp);
        (!sorted.is_empty()).then(|| (percentile(&sorted, 0.5), percentile(&sorted, 0.99)))
    }

    pub fn peak_rss_kb(&self) -> Option<u64> {
        self.cold.iter().filter_map(|s| s.peak_rss_kb).max()
    }
}

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
    /// Forced cold starts per route group.
    pub samples: usize,
    /// Warm requests per route group.
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
        samples,
        burst,
    } = plan;
    let pattern = pattern.as_str();
    let mut targets: Vec<(String, String, String)> = Vec::new();
    for group in routes::Group::ALL {
        let function = template
            .functions
            .values()
            .find(|f| f.groups.iter().any(|g| g == group.name()));
        if let Some(function) = function {
            targets.push((
                group.name().to_owned(),
                function.function_name.clone(),
                function.package.clone(),
            ));
        }
    }
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
    for (group, function, package) in targets {
        let pool = stack.pools().find(|p| p.config().name == function).cloned();
        let log = function_log(stack.logs_dir(), &function);
        let mut tail = ReportTail::from_end(&log).map_err(|source| MeasureError::Io {
            path: log.clone(),
            source,
        })?;
        let url = format!("{}{}", stack.base_url(), probe_path(&group));
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
                // A fresh execution environment: stop the idle ones, as Lambda does after idling.
                if let Some(pool) = &pool {
                    pool.shutdown().await;
                    // Every report of earlier requests into the file (the log writer runs
                    // behind the responses), then past them: the next report is this sample's.
                    let log = pool.log().clone();
                    let _ = tokio::task::spawn_blocking(move || log.flush()).await;
                    read_new(&mut tail)?;
                }
                let latency = timed_get(&client, &url).await?;
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
                record(&mut result, report, latency, peak_rss_kb);
                progress(&format!(
                    "{pattern} · {group}: cold start {sample}/{samples}"
                ));
            }
            for _ in 0..burst {
                result.warm_ms.push(timed_get(&client, &url).await?);
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
        groups,
    })
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

/// The floor's name in the tables and the JSON file.
pub const FLOOR: &str = "floor";

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
        record(&mut result, invocation.report, latency, peak_rss_kb);
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

/// Counts a sample as cold only if its REPORT line says so (it carries Init Duration).
fn record(result: &mut GroupResult, report: Report, latency_ms: f64, peak_rss_kb: Option<u64>) {
    match report.init_duration_ms {
        Some(init_ms) => result.cold.push(ColdSample {
            init_ms,
            first_request_ms: latency_ms,
            peak_rss_kb,
            report: report.to_string(),
        }),
        None => result.not_cold.push(report.to_string()),
    }
}

/// The whole run, as written to the JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct ColdstartRun {
    pub machine: Machine,
    pub command: String,
    pub finished_at: String,
    pub samples: usize,
    pub burst: usize,
    /// The hello-world function's row, when it was measured.
    pub floor: Option<GroupResult>,
    pub patterns: Vec<PatternResult>,
}

fn ms(value: f64) -> String {
    format!("{value:.2}")
}

fn summary_cell(summary: Option<Summary>) -> String {
    summary.map_or_else(
        || "-".into(),
        |s| {
            format!(
                "{} / {} / {} / {}",
                ms(s.median),
                ms(s.p90),
                ms(s.min),
                ms(s.max)
            )
        },
    )
}

/// `+0.85 ms (1.31x)`: how much longer than the floor a function's median init takes.
fn over_floor(init: Option<Summary>, floor: Option<Summary>) -> String {
    match (init, floor) {
        (Some(init), Some(floor)) if floor.median > 0.0 => format!(
            "{:+.2} ms ({:.2}x)",
            init.median - floor.median,
            init.median / floor.median
        ),
        _ => "-".into(),
    }
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".into(), |b| format!("{:.2} MB", b as f64 / 1e6))
}

/// The table (one row per pattern and group) and the lith/fat ratios, as text.
pub fn render_tables(run: &ColdstartRun) -> String {
    let floor_init = run.floor.as_ref().and_then(GroupResult::init);
    let mut rows = vec![[
        "pattern".to_owned(),
        "group".into(),
        "function".into(),
        "init ms med/p90/min/max".into(),
        "init over floor".into(),
        "first request ms med/p90/min/max".into(),
        "warm p50/p99 ms".into(),
        "binary".into(),
        "zip".into(),
        "peak RSS".into(),
    ]];
    let row = |pattern: &str, g: &GroupResult| {
        [
            pattern.to_owned(),
            g.group.clone(),
            g.function.clone(),
            summary_cell(g.init()),
            over_floor(g.init(), floor_init),
            summary_cell(g.first_request()),
            g.warm().map_or_else(
                || "-".into(),
                |(p50, p99)| format!("{} / {}", ms(p50), ms(p99)),
            ),
            mb(g.binary_bytes),
            mb(g.zip_bytes),
            g.peak_rss_kb()
                .map_or_else(|| "-".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
        ]
    };
    if let Some(floor) = &run.floor {
        rows.push(row("-", floor));
    }
    for pattern in &run.patterns {
        for g in &pattern.groups {
            rows.push(row(&pattern.pattern, g));
        }
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
    if run.floor.is_some() {
        let _ = writeln!(
            out,
            "\n  floor: a hello-world lambda_http function in the same profile, invoked directly \
             (its first request has no gateway);\n  init over floor: median Init Duration minus \
             the floor's, and their ratio"
        );
    }
    let ratios = ratios(run);
    if !ratios.is_empty() {
        let _ = writeln!(out, "\n  lith / fat, medians (above 1: the lith is slower)");
        for (group, init, first) in ratios {
            let _ = writeln!(
                out,
                "  {group:<13} init {init:.2}x   first request {first:.2}x"
            );
        }
    }
    let not_cold: usize = run
        .patterns
        .iter()
        .flat_map(|p| &p.groups)
        .map(|g| g.not_cold.len())
        .sum();
    if not_cold > 0 {
        let _ = writeln!(
            out,
            "\n  {not_cold} forced cold start(s) reused a warm environment and were not counted as cold"
        );
    }
    out
}

/// Per group: lith median over fat median, for init and first request.
pub fn ratios(run: &ColdstartRun) -> Vec<(String, f64, f64)> {
    let find = |pattern: &str, group: &str| {
        run.patterns
            .iter()
            .find(|p| p.pattern == pattern)
            .and_then(|p| p.groups.iter().find(|g| g.group == group))
    };
    routes::Group::ALL
        .iter()
        .filter_map(|group| {
            let (lith, fat) = (find("lith", group.name())?, find("fat", group.name())?);
            Some((
                group.name().to_owned(),
                lith.init()?.median / fat.init()?.median,
                lith.first_request()?.median / fat.first_request()?.median,
            ))
        })
        .collect()
}

/// Writes `coldstart.json`, `coldstart.svg` and `coldstart.txt` into `dir`; returns their paths.
pub fn write_outputs(
    run: &ColdstartRun,
    dir: &Path,
) -> std::io::Result<BTreeMap<&'static str, PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = BTreeMap::new();
    let json = serde_json::to_string_pretty(run).map_err(std::io::Error::other)?;
    for (kind, name, content) in [
        ("json", "coldstart.json", json),
        ("svg", "coldstart.svg", crate::chart::render_svg(run)),
        ("table", "coldstart.txt", render_tables(run)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, content)?;
        written.insert(kind, path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, inits: &[f64]) -> GroupResult {
        GroupResult {
            group: name.into(),
            function: format!("f-{name}"),
            package: name.into(),
            binary_bytes: Some(2_000_000),
            zip_bytes: Some(900_000),
            cold: inits
                .iter()
                .map(|&i| ColdSample {
                    init_ms: i,
                    first_request_ms: i * 2.0,
                    peak_rss_kb: Some(7000),
                    report: String::new(),
                })
                .collect(),
            not_cold: Vec::new(),
            warm_ms: vec![0.5, 0.6, 0.7],
        }
    }

    fn run() -> ColdstartRun {
        ColdstartRun {
            machine: Machine {
                cpu: "cpu <x>".into(),
                cores: 2,
                memory_mb: 1,
                os: String::new(),
                kernel: String::new(),
            },
            command: String::new(),
            finished_at: "now".into(),
            samples: 3,
            burst: 3,
            floor: Some(group(FLOOR, &[2.0, 2.0, 2.0])),
            patterns: vec![
                PatternResult {
                    pattern: "lith".into(),
                    groups: vec![group("projects", &[4.0, 2.0, 3.0])],
                },
                PatternResult {
                    pattern: "fat".into(),
                    groups: vec![group("projects", &[2.0, 1.0, 1.5])],
                },
            ],
        }
    }

    #[test]
    fn only_reports_with_init_duration_count_as_cold() {
        let mut result = group("meta", &[]);
        record(
            &mut result,
            Report::parse("REPORT RequestId: a\tDuration: 1.00 ms\tInit Duration: 2.50 ms")
                .unwrap(),
            9.0,
            None,
        );
        record(
            &mut result,
            Report::parse("REPORT RequestId: b\tDuration: 1.00 ms").unwrap(),
            3.0,
            None,
        );
        assert_eq!(result.cold.len(), 1);
        assert_eq!(result.cold[0].init_ms, 2.5);
        assert_eq!(result.not_cold.len(), 1);
    }

    #[test]
    fn summaries_ratios_and_outputs() {
        let run = run();
        let lith = &run.patterns[0].groups[0];
        let init = lith.init().unwrap();
        assert_eq!((init.median, init.min, init.max), (3.0, 2.0, 4.0));
        assert_eq!(ratios(&run), [("projects".to_owned(), 2.0, 2.0)]);
        let table = render_tables(&run);
        assert!(table.contains("3.00 / 4.00 / 2.00 / 4.00"), "{table}");
        assert!(table.contains("projects      init 2.00x"), "{table}");
        assert!(
            table.contains("+1.00 ms (1.50x)"),
            "lith over the floor: {table}"
        );
        assert!(
            table.contains("-0.50 ms (0.75x)"),
            "fat over the floor: {table}"
        );
        assert!(table.contains("f-floor"), "{table}");
        let svg = crate::chart::render_svg(&run);
        assert!(
            svg.starts_with("<svg")
                && svg.contains("cpu &lt;x&gt;")
                && svg.matches("<rect").count() >= 5
                && svg.contains("floor 2.00 ms")
        );
    }
}
