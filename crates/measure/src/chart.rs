//! The cold-start chart: an SVG bar chart, written by hand (no plotting dependency for one figure).

use std::fmt::Write as _;

use crate::coldstart::{ColdstartRun, GroupResult, distinct};
use crate::stats::Summary;

/// `lith vs fat vs single`: the patterns of the run, each once, in order.
fn compared(run: &ColdstartRun) -> String {
    distinct(run.patterns.iter().map(|p| p.pattern.as_str())).join(" vs ")
}

/// A bar chart: per row (a route group, or a route), the median of each pattern with a min-max
/// whisker, for Init Duration and for first-request latency, side by side (one above the other
/// when the rows are many). In AWS, each pattern, architecture and memory size is a series of
/// its own, and the second panel is the Invoke's round trip.
pub fn render_svg(run: &ColdstartRun) -> String {
    const COLORS: [&str; 8] = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
    ];
    // The rows, in the order the run measured them: the route groups, or every route.
    let groups = distinct(
        run.patterns
            .iter()
            .flat_map(|p| &p.groups)
            .map(|g| g.group.as_str()),
    );
    type Metric = fn(&GroupResult) -> Option<Summary>;
    let second = match &run.aws_region {
        Some(_) => "Round trip of the cold Invoke, from the client (ms)",
        None => "First request through the gateway (ms)",
    };
    let panels: [(&str, Metric); 2] = [
        ("Init Duration (ms)", GroupResult::init),
        (second, GroupResult::first_request),
    ];
    // The legend: as many series to a row as fit (AWS runs have up to 8 or more).
    let (legend_w, per_row) = (210.0_f64, 4_usize);
    let legend_rows = run.patterns.len().div_ceil(per_row).max(1);
    // Side by side for a few rows; one above the other, each as wide as its rows need, for a
    // per-route run.
    let stacked = groups.len() > 4;
    let (panel_h, left) = (300.0_f64, 60.0_f64);
    let panel_w = if stacked {
        (groups.len() as f64 * 120.0).max(460.0)
    } else {
        460.0
    };
    let top = 90.0 + 18.0 * (legend_rows - 1) as f64;
    let (width, height) = if stacked {
        (
            2.0 * left + panel_w,
            top + panels.len() as f64 * (panel_h + 70.0),
        )
    } else {
        (
            left + panels.len() as f64 * (panel_w + left),
            top + panel_h + 70.0,
        )
    };
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
        r#"<text x="{left}" y="24" font-size="16" font-weight="bold">Cold starts{}, {}: median with min-max, {} samples per bar</text>"#,
        if run.aws_region.is_some() {
            " in AWS Lambda"
        } else {
            ""
        },
        compared(run),
        run.samples
    );
    let subtitle = match &run.aws_region {
        Some(region) => format!("{region} · driven from {}", run.machine.cpu),
        None => format!("{} · {} cores", run.machine.cpu, run.machine.cores),
    };
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="44" fill="#555">{} · {}</text>"##,
        escape(&subtitle),
        escape(&run.finished_at)
    );
    for (p, pattern) in run.patterns.iter().enumerate() {
        let x = left + (p % per_row) as f64 * legend_w;
        let y = 52.0 + 18.0 * (p / per_row) as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{x}" y="{y}" width="12" height="12" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            COLORS[p % COLORS.len()],
            x + 16.0,
            y + 10.0,
            escape(&pattern.legend())
        );
    }
    for (index, (title, metric)) in panels.iter().enumerate() {
        let (x0, top) = if stacked {
            (left, top + index as f64 * (panel_h + 70.0))
        } else {
            (left + index as f64 * (panel_w + left), top)
        };
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
                    COLORS[p % COLORS.len()],
                    escape(&pattern.label()),
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
        // The floor's median init, across the init panel: what any lambda_http binary needs. Drawn
        // over the bars, its label haloed in white, so neither hides it.
        if let Some(floor) = run
            .floor
            .as_ref()
            .and_then(GroupResult::init)
            .filter(|_| index == 0)
        {
            let _ = writeln!(
                svg,
                r##"<line x1="{x0}" y1="{fy:.1}" x2="{}" y2="{fy:.1}" stroke="#888" stroke-dasharray="4 3"/><text x="{}" y="{:.1}" text-anchor="end" fill="#555" stroke="#fff" stroke-width="3" paint-order="stroke">floor {:.2} ms</text>"##,
                x0 + panel_w,
                x0 + panel_w,
                y(floor.median) - 4.0,
                floor.median,
                fy = y(floor.median),
            );
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
