//! Tools the commands need, found or installed on demand: the test runner, a Python venv at
//! `<root>/.venv` for the Python tools (cfn-lint, moto, and cargo-lambda, which PyPI ships as a
//! prebuilt wheel with zig), and the Rust target of a cross build.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use packaging::{Architecture, BuildTools, Workspace};

use crate::ui;

/// What runs the workspace's tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestRunner {
    /// `cargo nextest run`: each test in its own process, in parallel.
    Nextest,
    /// `cargo test`: the fallback when cargo-nextest is not installed.
    CargoTest,
}

/// cargo-nextest when `cargo nextest --version` works (with that version), otherwise `cargo test`.
pub fn test_runner(workspace: &Workspace) -> (TestRunner, Option<String>) {
    let nextest = workspace
        .cargo()
        .args(["nextest", "--version"])
        .stderr(Stdio::null())
        .output();
    match nextest {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout);
            let first_line = version
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string();
            (TestRunner::Nextest, Some(first_line))
        }
        _ => (TestRunner::CargoTest, None),
    }
}

/// A Python virtual environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    /// The directory holding the venv's `python` and the scripts its packages install.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.join(if cfg!(windows) { "Scripts" } else { "bin" })
    }

    pub fn python(&self) -> PathBuf {
        self.bin_dir().join(if cfg!(windows) {
            "python.exe"
        } else {
            "python"
        })
    }

    /// `PATH` with the venv's scripts first, for commands that should find its tools.
    pub fn path_env(&self) -> Result<OsString> {
        let current = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(self.bin_dir()).chain(std::env::split_paths(&current));
        std::env::join_paths(paths).context("PATH has an entry that cannot be joined")
    }

    /// Records which requirements were last installed, so unchanged ones are not reinstalled.
    fn stamp(&self) -> PathBuf {
        self.dir.join("xtask-requirements.txt")
    }
}

/// The venv at `dir`, created with `python3 -m venv` if it does not exist yet.
pub fn ensure_venv(dir: &Path) -> Result<Venv> {
    let venv = Venv {
        dir: dir.to_path_buf(),
    };
    if venv.python().exists() {
        return Ok(venv);
    }
    ui::step(format_args!("creating a Python venv at {}", dir.display()));
    let mut python = Command::new("python3");
    python.arg("-m").arg("venv").arg(dir);
    ui::command(&python);
    let status = python.status().context(
        "could not run `python3`; install Python 3 (Debian/Ubuntu: apt-get install python3 python3-venv)",
    )?;
    if !status.success() {
        bail!(
            "`python3 -m venv {}` failed ({status}); install the venv module (Debian/Ubuntu: \
             apt-get install python3-venv), delete that directory, and try again",
            dir.display()
        );
    }
    Ok(venv)
}

/// pip-installs those of `requirements` (pip requirement specifiers, e.g. `cfn-lint==1.*`) that
/// are not installed in `venv` yet, as its stamp records them.
pub fn pip_install(venv: &Venv, requirements: &[&str]) -> Result<()> {
    let installed = fs::read_to_string(venv.stamp()).unwrap_or_default();
    let missing: Vec<&str> = requirements
        .iter()
        .copied()
        .filter(|wanted| !installed.lines().any(|line| line == *wanted))
        .collect();
    if missing.is_empty() {
        ui::note(format_args!(
            "python tools up to date: {}",
            requirements.join(" ")
        ));
        return Ok(());
    }
    ui::step(format_args!(
        "installing python tools: {}",
        missing.join(" ")
    ));
    let mut pip = Command::new(venv.python());
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
    ])
    .args(&missing);
    ui::command(&pip);
    let status = pip.status().with_context(|| {
        format!(
            "could not run {}; delete {} and try again",
            venv.python().display(),
            venv.dir.display()
        )
    })?;
    if !status.success() {
        bail!(
            "`pip install {}` failed ({status}); pip's error is above (check the network, or the \
             requirement's spelling). To install by hand: {} -m pip install {}",
            missing.join(" "),
            venv.python().display(),
            missing.join(" ")
        );
    }
    let all: Vec<&str> = installed.lines().chain(missing.iter().copied()).collect();
    fs::write(venv.stamp(), stamp_contents(&all))
        .with_context(|| format!("could not write {}", venv.stamp().display()))?;
    Ok(())
}

/// The venv with `requirements` installed, or `None` when nothing is required (no venv is made).
pub fn python_tools(workspace: &Workspace, requirements: &[&str]) -> Result<Option<Venv>> {
    if requirements.is_empty() {
        return Ok(None);
    }
    let venv = ensure_venv(&workspace.venv_dir())?;
    pip_install(&venv, requirements)?;
    Ok(Some(venv))
}

/// What a build for `architecture` needs: nothing for this machine's own; for the other one,
/// cargo-lambda (pip-installed into `.venv`, zig included) and the Rust standard library of the
/// target (`rustup target add`). Installs what is missing; when that fails, the error says the
/// exact command to run, and nothing else has been done yet.
pub fn cross_build_tools(workspace: &Workspace, architecture: Architecture) -> Result<BuildTools> {
    if !packaging::needs_cross_build(architecture) {
        return Ok(BuildTools::default());
    }
    let triple = packaging::target_triple(architecture);
    let venv = ensure_venv(&workspace.venv_dir()).with_context(|| {
        format!(
            "a {} build needs cargo-lambda: python3 -m venv .venv && .venv/bin/pip install cargo-lambda",
            architecture.as_str()
        )
    })?;
    pip_install(&venv, &[python::CARGO_LAMBDA])?;
    ensure_rust_target(triple)?;
    Ok(BuildTools {
        cross_path: Some(venv.path_env()?),
    })
}

/// Where Debian's chromium package puts the browser the browser tests drive.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium for the browser tests: Debian's package, installed with apt-get when it is
/// missing (as root; otherwise the error says the command to run). Browser downloads by test tools
/// (Playwright's, Puppeteer's) come from hosts a closed network cannot reach; Debian's mirror is a
/// package registry like PyPI.
pub fn chromium() -> Result<PathBuf> {
    let path = PathBuf::from(CHROMIUM);
    if path.is_file() {
        return Ok(path);
    }
    let fix = "apt-get install -y --no-install-recommends chromium";
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if !is_root {
        bail!("the browser tests need Debian's chromium package: run `sudo {fix}`, then try again");
    }
    ui::step("installing Debian's chromium package for the browser tests (about 100 MB, once)");
    let install = || -> Result<bool> {
        let mut apt = Command::new("apt-get");
        apt.args(["install", "-y", "--no-install-recommends", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null());
        ui::command(&apt);
        Ok(apt
            .status()
            .with_context(|| format!("could not run apt-get; run `{fix}`"))?
            .success())
    };
    if !install()? {
        // A machine whose package lists were never fetched knows no chromium yet.
        ui::note("apt-get could not install it; fetching the package lists and trying again");
        let mut update = Command::new("apt-get");
        update.arg("update").stdout(Stdio::null());
        ui::command(&update);
        let updated = update.status().is_ok_and(|s| s.success());
        if !updated || !install()? {
            bail!("`{fix}` failed; run it by hand and try again");
        }
    }
    if !path.is_file() {
        bail!("apt-get installed chromium but {CHROMIUM} is not there; set CHROMIUM for the tests");
    }
    Ok(path)
}

/// The Python tools, pinned here and only here, so that CI does not change under the project when
/// PyPI does: bump a version on purpose, in this one place.
pub mod python {
    /// moto's server: AWS emulated for the tests and `cargo xtask moto`. The extensions in
    /// xtask/moto are written against this version's internals.
    pub const MOTO: &str = "moto[server]==5.2.5";
    /// cfn-lint: the templates' linter.
    pub const CFN_LINT: &str = "cfn-lint==1.58.0";
    /// cargo-lambda from PyPI: a prebuilt wheel that brings zig, installed in seconds (from
    /// crates.io it compiles for about 13 minutes).
    pub const CARGO_LAMBDA: &str = "cargo-lambda==1.9.2";
}

/// Adds the Rust standard library for `triple` with rustup when it is not installed.
fn ensure_rust_target(triple: &str) -> Result<()> {
    let fix = format!("rustup target add {triple}");
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .with_context(|| {
            format!("could not run rustup to check for the {triple} target; run `{fix}`")
        })?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|line| line.trim() == triple)
    {
        return Ok(());
    }
    ui::step(format_args!("installing the Rust target {triple}"));
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", triple]);
    ui::command(&rustup);
    let status = rustup
        .status()
        .with_context(|| format!("could not run rustup; run `{fix}`"))?;
    if !status.success() {
        bail!("`{fix}` failed ({status}); run it by hand and try again");
    }
    Ok(())
}

/// The requirements, sorted and one a line, so that their order does not matter.
fn stamp_contents(requirements: &[&str]) -> String {
    let mut sorted = requirements.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    sorted
        .iter()
        .map(|requirement| format!("{requirement}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_ignores_requirement_order() {
        assert_eq!(
            stamp_contents(&["moto[server]", "cfn-lint"]),
            "cfn-lint\nmoto[server]\n"
        );
        assert_eq!(
            stamp_contents(&["cfn-lint", "moto[server]"]),
            stamp_contents(&["moto[server]", "cfn-lint"])
        );
    }

    #[test]
    fn venv_paths() {
        let venv = Venv {
            dir: PathBuf::from("/w/.venv"),
        };
        #[cfg(unix)]
        assert_eq!(venv.python(), Path::new("/w/.venv/bin/python"));
        let path = venv.path_env().unwrap();
        assert_eq!(std::env::split_paths(&path).next(), Some(venv.bin_dir()));
    }

    #[test]
    fn nothing_required_means_no_venv() {
        let workspace = Workspace::discover().unwrap();
        assert_eq!(python_tools(&workspace, &[]).unwrap(), None);
    }

    #[test]
    fn an_existing_venv_is_reused() {
        let temp = tempfile::tempdir().unwrap();
        let venv = Venv {
            dir: temp.path().to_path_buf(),
        };
        fs::create_dir_all(venv.bin_dir()).unwrap();
        fs::write(venv.python(), "").unwrap();
        assert_eq!(ensure_venv(temp.path()).unwrap(), venv);
        // Requirements already installed (per the stamp), in any subset: pip is not run.
        fs::write(venv.stamp(), stamp_contents(&["moto[server]", "cfn-lint"])).unwrap();
        pip_install(&venv, &["cfn-lint"]).unwrap();
        pip_install(&venv, &["cfn-lint", "moto[server]"]).unwrap();
    }
}
