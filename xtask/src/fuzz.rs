//! `cargo xtask fuzz`: coverage-guided fuzzing of the parsers and verifiers at the system's edge
//! (token verifier, REST event and response mapping, CIDRs, platform reports, template reader,
//! page cursors), with cargo-fuzz and libFuzzer.
//!
//! The targets live in `fuzz/`, a package of its own outside the workspace: cargo-fuzz needs a
//! nightly toolchain, which the stable builds, the tests and CI must never depend on. It builds
//! into `fuzz/target`, so the two toolchains never fight over one target directory. Each target
//! starts from the few seeds committed in `fuzz/corpus/<target>` and writes what it learns to
//! `fuzz/generated/<target>` (git-ignored), which later runs start from too.
//!
//! The product code has no `unsafe`, so the targets are built without a sanitizer (AddressSanitizer
//! would find nothing safe Rust can do and halve the executions per second); debug assertions
//! are on, so an arithmetic overflow is a crash like a panic.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use packaging::Workspace;

use crate::ui;

/// The toolchain cargo-fuzz needs (`-Z` flags for the coverage instrumentation).
const TOOLCHAIN: &str = "nightly";

/// Flags of every build and run: the same for both, so `run` reuses what `build` made.
const BUILD_FLAGS: [&str; 5] = [
    "--sanitizer",
    "none",
    "--debug-assertions",
    // Quicker builds on two cores, for a little speed per execution.
    "--codegen-units",
    "16",
];

/// Longest one input may take before libFuzzer calls it a hang and stops with a `timeout-` file.
const UNIT_TIMEOUT_SECONDS: u64 = 10;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long to fuzz each target, in seconds
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// Fuzz only this target (repeatable) [default: every target in fuzz/]
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
}

/// What one target's run came to.
#[derive(Debug, Clone, PartialEq)]
struct Outcome {
    target: String,
    stats: Stats,
    /// The input libFuzzer saved when the target crashed, hung or ran out of memory.
    finding: Option<PathBuf>,
    log: PathBuf,
}

/// libFuzzer's final statistics (`-print_final_stats=1`).
#[derive(Debug, Clone, Default, PartialEq)]
struct Stats {
    executions: Option<u64>,
    per_second: Option<u64>,
    new_units: Option<u64>,
    peak_rss_mb: Option<u64>,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let fuzz_dir = workspace.root.join("fuzz");
    ui::step("[1/4] checking the fuzzing tools");
    ensure_nightly()?;
    ensure_cargo_fuzz(workspace)?;

    let all = list_targets(&fuzz_dir)?;
    let targets = chosen(&all, &args.targets)?;

    ui::step(format_args!(
        "[2/4] building the fuzz targets ({})",
        all.join(", ")
    ));
    let mut build = cargo_fuzz(&fuzz_dir);
    build.arg("build").args(BUILD_FLAGS);
    ui::command(&build);
    let status = build.status().context("could not run `cargo fuzz build`")?;
    if !status.success() {
        bail!("the fuzz targets did not build ({status}); see the compiler's output above");
    }

    ui::step(format_args!(
        "[3/4] fuzzing {} target(s) for {} s each",
        targets.len(),
        args.seconds
    ));
    let mut outcomes = Vec::new();
    for target in &targets {
        let outcome = fuzz_one(&fuzz_dir, target, args.seconds)?;
        let result = match &outcome.finding {
            None => "no crash".to_owned(),
            Some(path) => format!("CRASH: {}", workspace.display(path)),
        };
        ui::note(format_args!(
            "{target}: {} execs/s, {result}",
            figure(outcome.stats.per_second)
        ));
        outcomes.push(outcome);
    }

    ui::step("[4/4] results");
    let mut table = ui::Table::new([
        "target",
        "executions",
        "execs/s",
        "new inputs",
        "peak RSS",
        "result",
    ]);
    for outcome in &outcomes {
        table.row([
            outcome.target.clone(),
            figure(outcome.stats.executions),
            figure(outcome.stats.per_second),
            figure(outcome.stats.new_units),
            outcome
                .stats
                .peak_rss_mb
                .map_or("?".to_owned(), |mb| format!("{mb} MB")),
            if outcome.finding.is_some() {
                "CRASH"
            } else {
                "ok"
            }
            .to_owned(),
        ]);
    }
    table.print();

    let crashed: Vec<&Outcome> = outcomes.iter().filter(|o| o.finding.is_some()).collect();
    if crashed.is_empty() {
        ui::next("cargo xtask test");
        return Ok(());
    }
    for outcome in &crashed {
        let finding = outcome.finding.as_deref().expect("filtered on findings");
        println!();
        println!(
            "crash in {}: {}",
            outcome.target,
            workspace.display(finding)
        );
        println!("  libFuzzer's output: {}", workspace.display(&outcome.log));
        println!(
            "  reproduce: {}",
            reproduce_command(&outcome.target, &workspace.display(finding))
        );
    }
    bail!(
        "{} of {} fuzz target(s) crashed; fix the code, keep the input as a regression test beside \
         it, then run `cargo xtask fuzz` again",
        crashed.len(),
        outcomes.len()
    )
}

/// `cargo fuzz` on the nightly toolchain, run from the workspace root for `fuzz/`, building into
/// `fuzz/target` whatever `CARGO_TARGET_DIR` says. The variables cargo set for this xtask would
/// pin the child to the stable toolchain's cargo and rustc, so they are removed.
fn cargo_fuzz(fuzz_dir: &Path) -> Command {
    let mut command = Command::new("rustup");
    command
        .args(["run", TOOLCHAIN, "cargo", "fuzz"])
        .current_dir(fuzz_dir.parent().expect("fuzz/ sits in the workspace root"))
        .env("CARGO_TARGET_DIR", fuzz_dir.join("target"));
    for inherited in ["CARGO", "RUSTC", "RUSTDOC", "RUSTUP_TOOLCHAIN", "RUSTFLAGS"] {
        command.env_remove(inherited);
    }
    command
}

fn ensure_nightly() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["run", TOOLCHAIN, "rustc", "--version"])
        .stderr(Stdio::null())
        .output()
        .context("could not run rustup; install it from rustup.rs, then run `cargo xtask fuzz`")?;
    if installed.status.success() {
        ui::note(format_args!(
            "toolchain: {}",
            String::from_utf8_lossy(&installed.stdout).trim()
        ));
        return Ok(());
    }
    ui::note("the nightly toolchain is missing (cargo-fuzz needs it); installing it");
    let mut rustup = Command::new("rustup");
    rustup.args(["toolchain", "install", TOOLCHAIN, "--profile", "minimal"]);
    ui::command(&rustup);
    let status = rustup.status().context("could not run rustup")?;
    if !status.success() {
        bail!("`rustup toolchain install {TOOLCHAIN} --profile minimal` failed ({status})");
    }
    Ok(())
}

fn ensure_cargo_fuzz(workspace: &Workspace) -> Result<()> {
    let version = Command::new("rustup")
        .args(["run", TOOLCHAIN, "cargo", "fuzz", "--version"])
        .stderr(Stdio::null())
        .output();
    if let Ok(output) = version
        && output.status.success()
    {
        ui::note(format_args!(
            "cargo-fuzz: {}",
            String::from_utf8_lossy(&output.stdout).trim()
        ));
        return Ok(());
    }
    ui::note("cargo-fuzz is missing; installing it (a few minutes, once)");
    let mut install = workspace.cargo();
    install.args(["install", "cargo-fuzz", "--locked"]);
    ui::command(&install);
    let status = install
        .status()
        .context("could not run `cargo install cargo-fuzz`")?;
    if !status.success() {
        bail!("`cargo install cargo-fuzz --locked` failed ({status}); see its output above");
    }
    Ok(())
}

/// The targets `fuzz/Cargo.toml` declares, as `cargo fuzz list` prints them.
fn list_targets(fuzz_dir: &Path) -> Result<Vec<String>> {
    let output = cargo_fuzz(fuzz_dir)
        .arg("list")
        .stderr(Stdio::inherit())
        .output()
        .context("could not run `cargo fuzz list`")?;
    if !output.status.success() {
        bail!("`cargo fuzz list` failed ({})", output.status);
    }
    let targets: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        bail!(
            "{} declares no fuzz targets",
            fuzz_dir.join("Cargo.toml").display()
        );
    }
    Ok(targets)
}

/// The targets asked for (all when none was named), refusing names that are not targets.
fn chosen(all: &[String], asked: &[String]) -> Result<Vec<String>> {
    if asked.is_empty() {
        return Ok(all.to_vec());
    }
    if let Some(unknown) = asked.iter().find(|name| !all.contains(name)) {
        bail!(
            "there is no fuzz target `{unknown}`; the targets are: {}",
            all.join(", ")
        );
    }
    Ok(asked.to_vec())
}

/// Runs one target's binary, as built in step 2, for `seconds`; its output goes to
/// `fuzz/target/logs/<target>.log`. The binary is run directly rather than through
/// `cargo fuzz run`, which would rebuild first: every target then runs the code that was built
/// once, even while the working tree changes.
fn fuzz_one(fuzz_dir: &Path, target: &str, seconds: u64) -> Result<Outcome> {
    let binary = built_binary(fuzz_dir, target)?;
    let generated = fuzz_dir.join("generated").join(target);
    let seeds = fuzz_dir.join("corpus").join(target);
    let artifacts = fuzz_dir.join("artifacts").join(target);
    let logs = fuzz_dir.join("target").join("logs");
    for dir in [&generated, &artifacts, &logs] {
        fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    let log_path = logs.join(format!("{target}.log"));
    let log = fs::File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;

    let mut run = Command::new(&binary);
    run.arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-timeout={UNIT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1")
        // The first corpus directory is where libFuzzer writes; the seeds are only read.
        .arg(&generated)
        .args(seeds.is_dir().then_some(&seeds))
        .stdout(log.try_clone()?)
        .stderr(log);
    ui::command(&run);
    let status = run
        .status()
        .with_context(|| format!("could not run {}", binary.display()))?;
    let output = fs::read_to_string(&log_path)
        .with_context(|| format!("could not read {}", log_path.display()))?;
    let finding = finding(&output);
    if !status.success() && finding.is_none() {
        bail!(
            "fuzz target {target} failed ({status}) without saving an input; see {}",
            log_path.display()
        );
    }
    Ok(Outcome {
        target: target.to_owned(),
        stats: final_stats(&output),
        finding,
        log: log_path,
    })
}

/// `fuzz/target/<triple>/release/<target>`, as `cargo fuzz build` leaves it (for the host's
/// triple, whichever that is).
fn built_binary(fuzz_dir: &Path, target: &str) -> Result<PathBuf> {
    let target_dir = fuzz_dir.join("target");
    let triples = fs::read_dir(&target_dir)
        .with_context(|| format!("could not read {}", target_dir.display()))?;
    triples
        .filter_map(Result::ok)
        .map(|triple| triple.path().join("release").join(target))
        .find(|binary| binary.is_file())
        .with_context(|| {
            format!(
                "`cargo fuzz build` left no binary for {target} under {}/<triple>/release",
                target_dir.display()
            )
        })
}

/// Reads libFuzzer's `stat::name: value` lines.
fn final_stats(output: &str) -> Stats {
    let stat = |name: &str| {
        output.lines().rev().find_map(|line| {
            let value = line.trim().strip_prefix("stat::")?.strip_prefix(name)?;
            value.strip_prefix(':')?.trim().parse().ok()
        })
    };
    Stats {
        executions: stat("number_of_executed_units"),
        per_second: stat("average_exec_per_sec"),
        new_units: stat("new_units_added"),
        peak_rss_mb: stat("peak_rss_mb"),
    }
}

/// The input libFuzzer saved on a crash, hang or out-of-memory: `Test unit written to <path>`.
fn finding(output: &str) -> Option<PathBuf> {
    output.lines().find_map(|line| {
        let path = line.split_once("Test unit written to ")?.1.trim();
        (!path.is_empty()).then(|| PathBuf::from(path))
    })
}

fn reproduce_command(target: &str, finding: &str) -> String {
    format!(
        "cargo +{TOOLCHAIN} fuzz run {} {target} {finding}",
        BUILD_FLAGS.join(" ")
    )
}

fn figure(value: Option<u64>) -> String {
    value.map_or("?".to_owned(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of a libFuzzer run that found a panic, as cargo-fuzz shows it.
    const CRASHED: &str = "\
#65536\tpulse  cov: 812 ft: 2301 corp: 160/9kb exec/s: 21845 rss: 58Mb
thread '<unnamed>' panicked at fuzz_targets/cidr.rs:12:5:
==4242== ERROR: libFuzzer: deadly signal
MS: 2 ChangeByte-InsertByte-; base unit: 0c5e4a
artifact_prefix='/w/fuzz/artifacts/cidr/'; Test unit written to fuzz/artifacts/cidr/crash-da39a3ee5e6b4b0d
Base64: MS4yLjMuNC8zMw==
stat::number_of_executed_units: 70112
stat::average_exec_per_sec:     23370
stat::new_units_added:          163
stat::slowest_unit_time_sec:    0
stat::peak_rss_mb:              58
";

    #[test]
    fn final_stats_are_read() {
        assert_eq!(
            final_stats(CRASHED),
            Stats {
                executions: Some(70112),
                per_second: Some(23370),
                new_units: Some(163),
                peak_rss_mb: Some(58),
            }
        );
        assert_eq!(final_stats("INFO: Seed: 1\n"), Stats::default());
    }

    #[test]
    fn the_saved_input_is_found() {
        assert_eq!(
            finding(CRASHED),
            Some(PathBuf::from("fuzz/artifacts/cidr/crash-da39a3ee5e6b4b0d"))
        );
        assert_eq!(finding("Done 1000 runs in 60 second(s)\n"), None);
    }

    #[test]
    fn only_declared_targets_are_run() {
        let all = vec!["cidr".to_owned(), "next_token".to_owned()];
        assert_eq!(chosen(&all, &[]).unwrap(), all);
        assert_eq!(chosen(&all, &["cidr".to_owned()]).unwrap(), ["cidr"]);
        let error = chosen(&all, &["cidrs".to_owned()]).unwrap_err().to_string();
        assert!(error.contains("cidr, next_token"), "{error}");
    }

    #[test]
    fn the_reproduction_builds_as_the_run_did() {
        assert_eq!(
            reproduce_command("cidr", "fuzz/artifacts/cidr/crash-1"),
            "cargo +nightly fuzz run --sanitizer none --debug-assertions --codegen-units 16 \
             cidr fuzz/artifacts/cidr/crash-1"
        );
    }
}
