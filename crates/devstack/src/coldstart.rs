//! Cold starts compared between packaging patterns: for each pattern and route group, N forced
//! cold starts (a fresh execution environment each), their Init Duration (from the REPORT line)
//! and first-request latency through the gateway, then warm latencies over a burst, sizes and
//! peak RSS. Results are raw samples first; tables, ratios and the chart are derived from them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use stack::{ApiTemplate, UserPool};

use crate::bench::{
    BenchError, percentile, probe_path, reports, start_private_stack, timed_get, wait_for_reports,
};
use crate::report::Report;

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

/// The machine the samples come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_mb: u64,
    pub os: String,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let file = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let field = |text: &str, key: &str| -> String {
            text.lines()
                .find_map(|l| {
                    l.strip_prefix(key).map(|v| {
                        v.trim_start_matches([' ', '\t', ':', '='])
                            .trim_matches('"')
                            .trim()
                            .to_owned()
                    })
                })
                .unwrap_or_default()
        };
        let meminfo = file("/proc/meminfo");
        Machine {
            cpu: field(&file("/proc/cpuinfo"), "model name"),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_mb: field(&meminfo, "MemTotal")
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
                / 1024,
            os: field(&file("/etc/os-release"), "PRETTY_NAME"),
            kernel: file("/proc/sys/kernel/osrelease").trim().to_owned(),
        }
    }
}

/// Median, p90, min and max of samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub median: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(samples: impl IntoIterator<Item = f64>) -> Option<Summary> {
        let mut sorted: Vec<f64> = samples.into_iter().collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            median: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
        })
    }
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
    /// Forced cold starts per route group.
    pub samples: usize,
    /// Warm requests per route group.
    pub burst: usize,
}

/// Measures one pattern on a private stack; `progress` hears about each sample.
pub async fn measure_pattern(
    plan: Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<PatternResult, BenchError> {
    let Plan {
        pattern,
        template,
        user_pools,
        artifacts_dir,
        state_dir,
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
    let stack = start_private_stack(template, user_pools, artifacts_dir.clone(), state_dir).await?;
    let client = reqwest::Client::new();
    let mut groups = Vec::new();
    let mut outcome = Ok(());
    for (group, function, package) in targets {
        let pool = stack.pools().find(|p| p.config().name == function).cloned();
        let log = stack.logs_dir().join(format!("{function}.log"));
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
        let run: Result<(), BenchError> = async {
            for sample in 1..=samples {
                // A fresh execution environment: stop the idle ones, as Lambda does after idling.
                if let Some(pool) = &pool {
                    pool.shutdown().await;
                }
                let before = reports(&log).len();
                let latency = timed_get(&client, &url).await?;
                let found = wait_for_reports(&log, before + 1).await;
                let Some(report) = found.get(before).cloned() else {
                    return Err(BenchError::MissingReports {
                        function: function.clone(),
                        got: found.len(),
                        expected: before + 1,
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

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| "-".into(), |b| format!("{:.2} MB", b as f64 / 1e6))
}

/// The table (one row per pattern and group) and the lith/fat ratios, as text.
pub fn render_tables(run: &ColdstartRun) -> String {
    let mut rows = vec![[
        "pattern".to_owned(),
        "group".into(),
        "function".into(),
        "init ms med/p90/min/max".into(),
        "first request ms med/p90/min/max".into(),
        "warm p50/p99 ms".into(),
        "binary".into(),
        "zip".into(),
        "peak RSS".into(),
    ]];
    for pattern in &run.patterns {
        for g in &pattern.groups {
            rows.push([
                pattern.pattern.clone(),
                g.group.clone(),
                g.function.clone(),
                summary_cell(g.init()),
                summary_cell(g.first_request()),
                g.warm().map_or_else(
                    || "-".into(),
                    |(p50, p99)| format!("{} / {}", ms(p50), ms(p99)),
                ),
                mb(g.binary_bytes),
                mb(g.zip_bytes),
                g.peak_rss_kb()
                    .map_or_else(|| "-".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
            ]);
        }
    }
    let widths: Vec<usize> = (0..9)
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

/// A bar chart: per group, the median of each pattern with a min-max whisker, for Init Duration
/// and for first-request latency, side by side.
pub fn render_svg(run: &ColdstartRun) -> String {
    const COLORS: [&str; 4] = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"];
    let groups: Vec<&str> = routes::Group::ALL.iter().map(|g| g.name()).collect();
    type Metric = fn(&GroupResult) -> Option<Summary>;
    let panels: [(&str, Metric); 2] = [
        ("Init Duration (ms)", GroupResult::init),
        (
            "First request through the gateway (ms)",
            GroupResult::first_request,
        ),
    ];
    let (panel_w, panel_h, top, left) = (460.0_f64, 300.0_f64, 90.0_f64, 60.0_f64);
    let width = left + panels.len() as f64 * (panel_w + left);
    let height = top + panel_h + 70.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="24" font-size="16" font-weight="bold">Cold starts, lith vs fat: median with min-max, {} samples per group</text>"#,
        run.samples
    );
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="44" fill="#555">{} · {} cores · {}</text>"##,
        escape(&run.machine.cpu),
        run.machine.cores,
        escape(&run.finished_at)
    );
    for (p, pattern) in run.patterns.iter().enumerate() {
        let x = left + p as f64 * 120.0;
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="52" width="12" height="12" fill="{}"/><text x="{}" y="62">{}</text>"#,
            COLORS[p % 4],
            x + 16.0,
            escape(&pattern.pattern)
        );
    }
    for (index, (title, metric)) in panels.iter().enumerate() {
        let x0 = left + index as f64 * (panel_w + left);
        let max = run
            .patterns
            .iter()
            .flat_map(|p| &p.groups)
            .filter_map(|g| metric(g).map(|s| s.max))
            .fold(0.0_f64, f64::max)
            .max(1.0)
            * 1.1;
        let y = |value: f64| top + panel_h - value / max * panel_h;
        let _ = writeln!(
            svg,
            r#"<text x="{x0}" y="{}" font-weight="bold">{title}</text>"#,
            top - 6.0
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{}" x2="{}" y2="{}" stroke="#333"/>"##,
            top + panel_h,
            x0 + panel_w,
            top + panel_h
        );
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{top}" x2="{x0}" y2="{}" stroke="#333"/>"##,
            top + panel_h
        );
        for tick in 0..=4 {
            let value = max * f64::from(tick) / 4.0;
            let _ = writeln!(
                svg,
                r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{value:.1}</text>"##,
                x0 - 4.0,
                y(value) + 4.0
            );
        }
        let slot = panel_w / groups.len() as f64;
        let bar = slot / (run.patterns.len() as f64 + 1.0);
        for (g, group) in groups.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<text x="{}" y="{}" text-anchor="middle">{group}</text>"#,
                x0 + slot * (g as f64 + 0.5),
                top + panel_h + 18.0
            );
            for (p, pattern) in run.patterns.iter().enumerate() {
                let Some(summary) = pattern
                    .groups
                    .iter()
                    .find(|r| r.group == *group)
                    .and_then(metric)
                else {
                    continue;
                };
                let bx = x0 + slot * g as f64 + bar * (p as f64 + 0.5);
                let _ = writeln!(
                    svg,
                    r#"<rect x="{bx:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {group}: median {:.2} ms</title></rect>"#,
                    y(summary.median),
                    bar * 0.9,
                    top + panel_h - y(summary.median),
                    COLORS[p % 4],
                    escape(&pattern.pattern),
                    summary.median
                );
                let cx = bx + bar * 0.45;
                let _ = writeln!(
                    svg,
                    r##"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="#222"/>"##,
                    y(summary.min),
                    y(summary.max)
                );
                let _ = writeln!(
                    svg,
                    r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{:.2}</text>"#,
                    y(summary.max) - 4.0,
                    summary.median
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
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
        ("svg", "coldstart.svg", render_svg(run)),
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
        let svg = render_svg(&run);
        assert!(
            svg.starts_with("<svg")
                && svg.contains("cpu &lt;x&gt;")
                && svg.matches("<rect").count() >= 5
        );
    }
}
