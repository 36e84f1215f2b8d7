//! Cold starts compared between packaging patterns: for each pattern and route group, N forced
//! cold starts (a fresh execution environment each), their Init Duration (from the REPORT line)
//! and first-request latency through the gateway, then warm latencies over a burst, sizes and
//! peak RSS. Results are raw samples first; tables, ratios and the chart are derived from them.
//!
//! The results, tables, ratios, JSON and chart here serve both measurements: the local stack's
//! ([`local`], feature `local`) and AWS's (crates/coldstart-aws), where architecture and memory
//! size are further dimensions of a pattern's result and Lambda's Duration, Billed Duration and
//! Max Memory Used come with each sample.

#[cfg(feature = "local")]
mod local;
#[cfg(feature = "local")]
pub use local::{FloorPlan, Plan, measure_floor, measure_pattern};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use platform_report::Report;

use crate::machine::Machine;
use crate::stats::{Summary, percentile};

/// The route each group is measured by, from the route table: one its function answers
/// without a token, the collection's list (one item, so the page is small) or, for meta, the
/// health check.
pub fn probe_route(group: &str) -> &'static routes::Route {
    use routes::{CollectionOp, MetaOp, Operation};
    let health = Operation::Meta(MetaOp::Health);
    routes::ROUTES
        .iter()
        .find(|r| {
            r.group().name() == group
                && matches!(r.operation, Operation::Collection(_, CollectionOp::List))
        })
        .or_else(|| health.route())
        .expect("the route table has a health check")
}

/// The path of [`probe_route`] as requested.
pub fn probe_path(group: &str) -> String {
    Probe::of_group(group).path()
}

/// The function of `template` that serves a group's probe: the one the method of the probe
/// route invokes (a group may have several functions: one per route with `--pattern single`).
pub fn probe_function<'t>(
    template: &'t stack::ApiTemplate,
    group: &str,
) -> Option<&'t stack::template::FunctionTemplate> {
    Probe::of_group(group).function(template)
}

/// What one row of a cold-start table measures: a route, requested as its label says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The row's label: the route group (`projects`, measured through [`probe_route`]) or, in
    /// a per-route run, the route's own slug (`create-project`).
    pub label: &'static str,
    pub route: &'static routes::Route,
}

/// The name a probe's path gives a route's `{name}`: never created, so a get or a delete of it
/// is the store's full round trip ending in 404.
pub const PROBE_ITEM: &str = "coldstart-probe";

/// The documentation file a probe of `/docs/{asset}` asks for.
const PROBE_ASSET: &str = "swagger-ui.css";

impl Probe {
    pub fn of_group(group: &str) -> Probe {
        let route = probe_route(group);
        Probe {
            // An unknown group is measured by the health check, as meta is.
            label: routes::Group::from_name(group).map_or("meta", |g| g.name()),
            route,
        }
    }

    /// What a run measures: one probe per route group, or with `per_route` one per route of
    /// the table, in table order.
    pub fn all(per_route: bool) -> Vec<Probe> {
        if per_route {
            routes::ROUTES
                .iter()
                .map(|route| Probe {
                    label: route.operation.slug(),
                    route,
                })
                .collect()
        } else {
            routes::Group::ALL
                .iter()
                .map(|group| Probe::of_group(group.name()))
                .collect()
        }
    }

    /// The path requested: the route's with its parameters filled in, and a page of one item.
    pub fn path(&self) -> String {
        let path = self.resource_path();
        match self.route.operation {
            routes::Operation::Collection(_, routes::CollectionOp::List) => {
                format!("{path}?limit=1")
            }
            _ => path,
        }
    }

    /// The route's path with its parameters filled in, without the query.
    fn resource_path(&self) -> String {
        self.route
            .path
            .replace("{name}", PROBE_ITEM)
            .replace("{asset}", PROBE_ASSET)
    }

    /// The status the API answers a probe with: 404 for a get or delete of [`PROBE_ITEM`],
    /// 201 for a create (of a new name each time), 200 otherwise.
    pub fn expected_status(&self) -> u16 {
        use routes::{CollectionOp, Operation};
        match self.route.operation {
            Operation::Collection(_, CollectionOp::Create) => 201,
            Operation::Collection(_, CollectionOp::Get | CollectionOp::Delete) => 404,
            _ => 200,
        }
    }

    /// The function of `template` the probe's request reaches, matched as API Gateway matches it.
    pub fn function<'t>(
        &self,
        template: &'t stack::ApiTemplate,
    ) -> Option<&'t stack::template::FunctionTemplate> {
        let matched = template
            .match_request(self.route.method.as_str(), &self.resource_path())
            .ok()?;
        Some(template.function(matched.method))
    }
}

/// Forcing a cold start, one interface for both measurements: whatever makes the next request to
/// a function start a new execution environment. Locally the function's idle environments are
/// stopped, as Lambda reclaims them after idling ([`local`]); in AWS the function's configuration
/// changes and Lambda is waited for until the update is done (crates/coldstart-aws). Either way a
/// sample counts as cold only if its report then carries an Init Duration
/// ([`GroupResult::record`]).
pub trait ForceColdStart {
    type Error;

    /// Makes the next request start a new execution environment; `sample` numbers it (from 1).
    fn force_cold_start(
        &mut self,
        sample: usize,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>>;
}

/// One forced cold start.
#[derive(Debug, Clone, Serialize)]
pub struct ColdSample {
    pub init_ms: f64,
    /// The client's time for the first request: through the local gateway, or, in AWS, the
    /// round trip of the synchronous Invoke.
    pub first_request_ms: f64,
    pub peak_rss_kb: Option<u64>,
    /// The report's Duration, Billed Duration and Max Memory Used (Lambda's own figures).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billed_duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_used_mb: Option<u32>,
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

/// One pattern's groups; in AWS, of one architecture and memory size.
#[derive(Debug, Clone, Serialize)]
pub struct PatternResult {
    pub pattern: String,
    /// `x86_64` or `arm64`, when the run compares architectures (AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// The function's memory size in MB, when the run compares sizes (AWS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// How many functions the pattern deploys and what their packages weigh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentSize>,
    pub groups: Vec<GroupResult>,
}

/// What a pattern deploys: the functions that serve routes (the janitor left out, every
/// pattern has it) and the total size of their zips, when every zip was there to weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeploymentSize {
    pub functions: usize,
    pub zip_bytes: Option<u64>,
}

impl DeploymentSize {
    /// The route-serving functions of `template`, their packages weighed in `artifacts_dir`
    /// (`<package>/bootstrap.zip`).
    pub fn of(template: &stack::ApiTemplate, artifacts_dir: &Path) -> DeploymentSize {
        let functions: Vec<_> = template
            .functions
            .values()
            .filter(|f| !f.groups.is_empty())
            .collect();
        DeploymentSize {
            functions: functions.len(),
            zip_bytes: functions
                .iter()
                .map(|f| {
                    std::fs::metadata(artifacts_dir.join(&f.package).join("bootstrap.zip"))
                        .ok()
                        .map(|m| m.len())
                })
                .sum(),
        }
    }
}

impl PatternResult {
    /// The label, and the function count and package size when known: `single · 14 fn, 62.4 MB`.
    pub fn legend(&self) -> String {
        match self.deployment {
            Some(DeploymentSize {
                functions,
                zip_bytes,
            }) => format!(
                "{} · {functions} fn{}",
                self.label(),
                zip_bytes.map_or(String::new(), |b| format!(", {}", mb(Some(b))))
            ),
            None => self.label(),
        }
    }

    /// `lith`, or `lith arm64 512 MB` with the further dimensions.
    pub fn label(&self) -> String {
        let mut label = self.pattern.clone();
        if let Some(architecture) = &self.architecture {
            label.push(' ');
            label.push_str(architecture);
        }
        if let Some(memory) = self.memory_mb {
            label.push_str(&format!(" {memory} MB"));
        }
        label
    }
}

impl GroupResult {
    /// An empty result for one group's function.
    pub fn new(group: &str, function: &str, package: &str) -> GroupResult {
        GroupResult {
            group: group.to_owned(),
            function: function.to_owned(),
            package: package.to_owned(),
            binary_bytes: None,
            zip_bytes: None,
            cold: Vec::new(),
            not_cold: Vec::new(),
            warm_ms: Vec::new(),
        }
    }

    pub fn init(&self) -> Option<Summary> {
        Summary::of(self.cold.iter().map(|s| s.init_ms))
    }

    pub fn first_request(&self) -> Option<Summary> {
        Summary::of(self.cold.iter().map(|s| s.first_request_ms))
    }

    /// Lambda's Duration of the cold invocations.
    pub fn duration(&self) -> Option<Summary> {
        Summary::of(self.cold.iter().filter_map(|s| s.duration_ms))
    }

    /// Billed Duration of the cold invocations (ms).
    pub fn billed(&self) -> Option<Summary> {
        Summary::of(
            self.cold
                .iter()
                .filter_map(|s| s.billed_duration_ms.map(|ms| ms as f64)),
        )
    }

    /// The most memory a cold invocation used (MB, as Lambda reports it).
    pub fn max_memory_used_mb(&self) -> Option<u32> {
        self.cold.iter().filter_map(|s| s.max_memory_used_mb).max()
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

    /// Records a request meant as a cold start: it counts as cold only if its report says so
    /// (it carries Init Duration); otherwise it is kept apart, never counted. Says which.
    pub fn record(&mut self, report: Report, latency_ms: f64, peak_rss_kb: Option<u64>) -> bool {
        match report.init_duration_ms {
            Some(init_ms) => {
                self.cold.push(ColdSample {
                    init_ms,
                    first_request_ms: latency_ms,
                    peak_rss_kb,
                    duration_ms: Some(report.duration_ms),
                    billed_duration_ms: report.billed_duration_ms,
                    max_memory_used_mb: report.max_memory_used_mb,
                    report: report.to_string(),
                });
                true
            }
            None => {
                self.not_cold.push(report.to_string());
                false
            }
        }
    }
}

/// The floor's name in the tables and the JSON file.
pub const FLOOR: &str = "floor";

/// The whole run, as written to the JSON file.
#[derive(Debug, Clone, Serialize)]
pub struct ColdstartRun {
    /// The machine the run was driven from (in AWS: the client's, not Lambda's).
    pub machine: Machine,
    pub command: String,
    pub finished_at: String,
    pub samples: usize,
    pub burst: usize,
    /// The AWS region the functions ran in; `None` for the local stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
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

fn median_cell(summary: Option<Summary>) -> String {
    summary.map_or_else(|| "-".into(), |s| ms(s.median))
}

/// A column of the table: its header and its cell for a pattern's group.
type Column = (
    &'static str,
    Box<dyn Fn(&PatternResult, &GroupResult) -> String>,
);

/// The table's columns. The local table is as it always was; in AWS the architecture and the
/// memory size are columns, Lambda's Duration, Billed Duration and Max Memory Used are added, and
/// what only a local process shows (warm burst, binary, peak RSS) is left out.
fn columns(run: &ColdstartRun) -> Vec<Column> {
    let floor_init = run.floor.as_ref().and_then(GroupResult::init);
    let aws = run.aws_region.is_some();
    let mut columns: Vec<Column> = vec![("pattern", Box::new(|p, _| p.pattern.clone()))];
    if aws {
        columns.push((
            "arch",
            Box::new(|p, _| p.architecture.clone().unwrap_or_else(|| "-".into())),
        ));
        columns.push((
            "memory",
            Box::new(|p, _| {
                p.memory_mb
                    .map_or_else(|| "-".into(), |m| format!("{m} MB"))
            }),
        ));
    }
    columns.push(("group", Box::new(|_, g| g.group.clone())));
    columns.push(("function", Box::new(|_, g| g.function.clone())));
    columns.push((
        "init ms med/p90/min/max",
        Box::new(|_, g| summary_cell(g.init())),
    ));
    if run.floor.is_some() || !aws {
        columns.push((
            "init over floor",
            Box::new(move |_, g| over_floor(g.init(), floor_init)),
        ));
    }
    if aws {
        columns.push((
            "duration ms med",
            Box::new(|_, g| median_cell(g.duration())),
        ));
        columns.push(("billed ms med", Box::new(|_, g| median_cell(g.billed()))));
        columns.push((
            "max memory",
            Box::new(|_, g| {
                g.max_memory_used_mb()
                    .map_or_else(|| "-".into(), |m| format!("{m} MB"))
            }),
        ));
        columns.push((
            "round trip ms med/p90/min/max",
            Box::new(|_, g| summary_cell(g.first_request())),
        ));
        columns.push(("zip", Box::new(|_, g| mb(g.zip_bytes))));
        return columns;
    }
    columns.push((
        "first request ms med/p90/min/max",
        Box::new(|_, g| summary_cell(g.first_request())),
    ));
    columns.push((
        "warm p50/p99 ms",
        Box::new(|_, g| {
            g.warm().map_or_else(
                || "-".into(),
                |(p50, p99)| format!("{} / {}", ms(p50), ms(p99)),
            )
        }),
    ));
    columns.push(("binary", Box::new(|_, g| mb(g.binary_bytes))));
    columns.push(("zip", Box::new(|_, g| mb(g.zip_bytes))));
    columns.push((
        "peak RSS",
        Box::new(|_, g| {
            g.peak_rss_kb()
                .map_or_else(|| "-".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
        }),
    ));
    columns
}

/// The table (one row per pattern and group) and the lith/fat ratios, as text.
pub fn render_tables(run: &ColdstartRun) -> String {
    let columns = columns(run);
    let mut rows: Vec<Vec<String>> = vec![columns.iter().map(|(h, _)| (*h).to_owned()).collect()];
    let floor_pattern = PatternResult {
        pattern: "-".into(),
        architecture: None,
        memory_mb: None,
        deployment: None,
        groups: Vec::new(),
    };
    if let Some(floor) = &run.floor {
        rows.push(
            columns
                .iter()
                .map(|(_, cell)| cell(&floor_pattern, floor))
                .collect(),
        );
    }
    for pattern in &run.patterns {
        for g in &pattern.groups {
            rows.push(columns.iter().map(|(_, cell)| cell(pattern, g)).collect());
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
    if run.aws_region.is_some() {
        let _ = writeln!(
            out,
            "\n  round trip: the client's synchronous Invoke, from this machine to Lambda and back \
             (network included);\n  duration, billed, max memory: Lambda's platform report of the \
             cold invocation"
        );
    }
    let sized: Vec<&PatternResult> = run
        .patterns
        .iter()
        .filter(|p| p.deployment.is_some())
        .collect();
    if !sized.is_empty() {
        let _ = writeln!(out, "\n  pattern  functions  packages (zip, total)");
        for pattern in sized {
            let size = pattern.deployment.expect("filtered on");
            let _ = writeln!(
                out,
                "  {:<7}  {:<9}  {}",
                pattern.label(),
                size.functions,
                mb(size.zip_bytes)
            );
        }
    }
    let ratios = ratios(run);
    let what = if run.aws_region.is_some() {
        "round trip"
    } else {
        "first request"
    };
    let width = ratios
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0)
        .max(13);
    for other in distinct(ratios.iter().map(|r| r.versus.as_str())) {
        let _ = writeln!(
            out,
            "\n  lith / {other}, medians (above 1: the lith is slower)"
        );
        for ratio in ratios.iter().filter(|r| r.versus == other) {
            let _ = writeln!(
                out,
                "  {:<width$} init {:.2}x   {what} {:.2}x",
                ratio.label, ratio.init, ratio.first_request
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

/// Each name once, in the order of its first appearance.
pub(crate) fn distinct<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen
}

/// One line of the ratios: the lith's median over another pattern's, for a group (and, in AWS,
/// an architecture and a memory size).
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    /// The pattern the lith is compared with: `fat` or `single`.
    pub versus: String,
    /// The group, followed by the further dimensions if any: `projects arm64 512 MB`.
    pub label: String,
    pub init: f64,
    pub first_request: f64,
}

/// Per pattern other than the lith, per row (a group or a route; in AWS, also per architecture
/// and memory size): the lith's median over that pattern's, for init and first request. The
/// lith is the reference because it is what the proof of concept deployed.
pub fn ratios(run: &ColdstartRun) -> Vec<Ratio> {
    let mut out = Vec::new();
    let others = run.patterns.iter().filter(|p| p.pattern != "lith");
    for other in others {
        let Some(lith) = run.patterns.iter().find(|p| {
            p.pattern == "lith"
                && p.architecture == other.architecture
                && p.memory_mb == other.memory_mb
        }) else {
            continue;
        };
        let find = |pattern: &PatternResult, group: &str| {
            pattern.groups.iter().find(|g| g.group == group).cloned()
        };
        for group in lith.groups.iter().map(|g| g.group.as_str()) {
            let (Some(l), Some(o)) = (find(lith, group), find(other, group)) else {
                continue;
            };
            let (Some(li), Some(oi), Some(lf), Some(of)) =
                (l.init(), o.init(), l.first_request(), o.first_request())
            else {
                continue;
            };
            let mut label = group.to_owned();
            let dimensions = lith.label();
            if let Some(rest) = dimensions.strip_prefix("lith").filter(|r| !r.is_empty()) {
                label.push_str(rest);
            }
            out.push(Ratio {
                versus: other.pattern.clone(),
                label,
                init: li.median / oi.median,
                first_request: lf.median / of.median,
            });
        }
    }
    out
}

/// Writes `coldstart.json`, `coldstart.svg` and `coldstart.txt` into `dir`; returns their paths.
pub fn write_outputs(
    run: &ColdstartRun,
    dir: &Path,
) -> std::io::Result<BTreeMap<&'static str, PathBuf>> {
    write_outputs_with(run, run, dir)
}

/// [`write_outputs`] with `json` as the JSON file (a run with more beside it, such as what an
/// AWS run created and cost), the chart and the table of `run`.
pub fn write_outputs_with(
    json: &impl Serialize,
    run: &ColdstartRun,
    dir: &Path,
) -> std::io::Result<BTreeMap<&'static str, PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = BTreeMap::new();
    let json = serde_json::to_string_pretty(json).map_err(std::io::Error::other)?;
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
                    duration_ms: None,
                    billed_duration_ms: None,
                    max_memory_used_mb: None,
                    report: String::new(),
                })
                .collect(),
            not_cold: Vec::new(),
            warm_ms: vec![0.5, 0.6, 0.7],
        }
    }

    #[test]
    fn a_per_route_run_probes_every_route_through_the_function_that_serves_it() {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../../deploy/templates/dev-single.json"))
                .unwrap();
        let single = stack::ApiTemplate::read(&json).unwrap();
        let probes = Probe::all(true);
        assert_eq!(probes.len(), routes::ROUTES.len());
        for probe in &probes {
            let function = probe.function(&single).unwrap();
            assert_eq!(function.package, probe.label, "each route its own function");
            assert!(!probe.path().contains('{'), "{}", probe.path());
        }
        let expected: Vec<(&str, u16)> = probes
            .iter()
            .map(|p| (p.label, p.expected_status()))
            .filter(|(label, _)| label.ends_with("-project") || label.ends_with("-projects"))
            .collect();
        assert_eq!(
            expected,
            [
                ("list-projects", 200),
                ("create-project", 201),
                ("get-project", 404),
                ("delete-project", 404),
            ]
        );
        let groups: Vec<&str> = Probe::all(false).iter().map(|p| p.label).collect();
        assert_eq!(groups, ["projects", "technologies", "meta"]);
        assert_eq!(probe_path("projects"), "/api/v0/projects?limit=1");
        assert_eq!(probe_path("meta"), "/health");
    }

    #[test]
    fn ratios_and_the_chart_follow_the_rows_measured() {
        let mut run = run();
        run.patterns[0].groups = vec![group("create-project", &[3.0]), group("health", &[2.0])];
        run.patterns[1].groups = vec![group("create-project", &[1.5]), group("health", &[2.0])];
        let labels: Vec<(String, f64)> = ratios(&run)
            .into_iter()
            .map(|r| (r.label, r.init))
            .collect();
        assert_eq!(
            labels,
            [("create-project".into(), 2.0), ("health".into(), 1.0)]
        );
        let svg = crate::chart::render_svg(&run);
        assert!(svg.contains(">create-project</text>") && svg.contains(">health</text>"));
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
            aws_region: None,
            floor: Some(group(FLOOR, &[2.0, 2.0, 2.0])),
            patterns: vec![
                PatternResult {
                    pattern: "lith".into(),
                    architecture: None,
                    memory_mb: None,
                    deployment: Some(DeploymentSize {
                        functions: 1,
                        zip_bytes: Some(4_810_000),
                    }),
                    groups: vec![group("projects", &[4.0, 2.0, 3.0])],
                },
                PatternResult {
                    pattern: "fat".into(),
                    architecture: None,
                    memory_mb: None,
                    deployment: Some(DeploymentSize {
                        functions: 3,
                        zip_bytes: None,
                    }),
                    groups: vec![group("projects", &[2.0, 1.0, 1.5])],
                },
            ],
        }
    }

    #[test]
    fn only_reports_with_init_duration_count_as_cold() {
        let mut result = group("meta", &[]);
        result.record(
            Report::parse("REPORT RequestId: a\tDuration: 1.00 ms\tInit Duration: 2.50 ms")
                .unwrap(),
            9.0,
            None,
        );
        result.record(
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
        let ratio = |versus: &str, label: &str, init: f64, first_request: f64| Ratio {
            versus: versus.into(),
            label: label.into(),
            init,
            first_request,
        };
        assert_eq!(ratios(&run), [ratio("fat", "projects", 2.0, 2.0)]);
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
        assert!(
            table.contains("pattern  functions  packages (zip, total)")
                && table.contains("lith     1          4.81 MB")
                && table.contains("fat      3          -"),
            "{table}"
        );
        let svg = crate::chart::render_svg(&run);
        assert!(
            svg.starts_with("<svg")
                && svg.contains("cpu &lt;x&gt;")
                && svg.matches("<rect").count() >= 5
                && svg.contains("floor 2.00 ms")
                && svg.contains("lith vs fat:")
                && svg.contains("lith · 1 fn, 4.81 MB")
        );
    }

    #[test]
    fn aws_runs_have_architecture_and_memory_as_dimensions() {
        let mut run = run();
        run.aws_region = Some("eu-west-1".into());
        run.floor = None;
        let sample = |init: f64| {
            let mut g = group("projects", &[]);
            let report = format!(
                "REPORT RequestId: r\tDuration: 40.00 ms\tBilled Duration: {} ms\t\
                 Memory Size: 512 MB\tMax Memory Used: 31 MB\tInit Duration: {init:.2} ms",
                (init + 40.0).ceil()
            );
            assert!(g.record(Report::parse(&report).unwrap(), 90.0, None));
            g
        };
        let result = |pattern: &str, architecture: &str, init: f64| PatternResult {
            pattern: pattern.into(),
            architecture: Some(architecture.into()),
            memory_mb: Some(512),
            deployment: None,
            groups: vec![sample(init)],
        };
        run.patterns = vec![
            result("lith", "x86_64", 30.0),
            result("lith", "arm64", 20.0),
            result("fat", "x86_64", 15.0),
            result("fat", "arm64", 25.0),
        ];
        let ratios: Vec<_> = ratios(&run)
            .into_iter()
            .map(|r| (r.versus, r.label, r.init, r.first_request))
            .collect();
        assert_eq!(
            ratios,
            [
                ("fat".into(), "projects x86_64 512 MB".into(), 2.0, 1.0),
                ("fat".into(), "projects arm64 512 MB".into(), 0.8, 1.0),
            ]
        );
        let table = render_tables(&run);
        let header = table.lines().next().unwrap();
        for column in [
            "arch",
            "memory",
            "duration ms med",
            "billed ms med",
            "max memory",
            "round trip",
        ] {
            assert!(header.contains(column), "{header}");
        }
        for column in ["init over floor", "warm", "peak RSS", "binary"] {
            assert!(!header.contains(column), "{header}");
        }
        assert!(
            table.contains("lith     arm64   512 MB  projects"),
            "{table}"
        );
        assert!(
            table.contains("70.00") && table.contains("31 MB"),
            "billed, memory: {table}"
        );
        let svg = crate::chart::render_svg(&run);
        assert!(
            svg.contains("lith arm64 512 MB") && svg.contains("eu-west-1"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("<title>").count(),
            8,
            "a bar per series and panel"
        );
    }
}
