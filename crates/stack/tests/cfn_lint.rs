//! cfn-lint (PyPI) on the committed templates: no errors. `cargo xtask test` installs it into
//! .venv and puts that first on PATH.

use std::path::Path;
use std::process::Command;

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
        5,
        "expected dev and prod templates of both patterns, and the logging role's, in {}",
        templates.display()
    );
    let output = Command::new("cfn-lint").args(&files).output().unwrap_or_else(|error| {
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
