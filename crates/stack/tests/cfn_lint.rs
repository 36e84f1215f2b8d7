//! cfn-lint (PyPI) on the committed templates and on every combination of the production
//! settings: no errors. `cargo xtask test` installs it into .venv and puts that first on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use stack::{Deployment, Pattern};

mod support;

#[test]
fn cfn_lint_finds_no_errors_in_the_rendered_templates() {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/templates");
    let mut files: Vec<_> = std::fs::read_dir(&templates)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        2 * Pattern::ALL.len() + 1,
        "expected dev and prod templates of every pattern, and the logging role's, in {}",
        templates.display()
    );
    lint(&files);
}

#[test]
fn cfn_lint_finds_no_errors_in_any_combination_of_the_production_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    // Every combination on fat (its three functions have the most per-function resources), and
    // lith with everything on.
    for (name, config) in support::every_combination() {
        let patterns: &[Pattern] = if name == "vpc+alarms+tracing+no-access-log" {
            &Pattern::ALL
        } else {
            &[Pattern::Fat]
        };
        for &pattern in patterns {
            let template = stack::render(&Deployment::new(pattern, "dev", config.clone())).unwrap();
            let file = dir
                .path()
                .join(format!("dev-{}-{name}.json", pattern.name()));
            std::fs::write(&file, stack::to_file_text(&template)).unwrap();
            files.push(file);
        }
    }
    lint(&files);
}

/// Runs cfn-lint on `files` at once; fails on any error it reports.
fn lint(files: &[PathBuf]) {
    let output = Command::new("cfn-lint").args(files).output().unwrap_or_else(|error| {
        panic!("cannot run cfn-lint ({error}); `cargo xtask test` installs it into .venv and puts it on PATH")
    });
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational.
    let code = output
        .status
        .code()
        .expect("cfn-lint was not killed by a signal");
    assert_eq!(code & 2, 0, "cfn-lint found errors:\n{report}");
    assert!(
        code & !(2 | 4 | 8) == 0,
        "cfn-lint failed to run (exit {code}):\n{report}"
    );
    if !report.trim().is_empty() {
        println!("cfn-lint notes:\n{report}");
    }
}
