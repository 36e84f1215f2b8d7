//! `cargo xtask serve`: the API as a plain HTTP server on 127.0.0.1, with no Lambda and no AWS,
//! built with optimisations (`cargo xtask load --url http://127.0.0.1:8000` measures it).

use std::path::Path;
use std::process::ExitStatus;

use anyhow::{Context, Result};

use packaging::Workspace;

use crate::ui;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on (127.0.0.1 only)
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Where the catalog keeps its data: `sqlite:///abs/path.db` or `memory:`
    /// [default: sqlite://<root>/.devstack/serve.db]
    #[arg(long, value_name = "STORE_URL")]
    store: Option<String>,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let store = match args.store {
        Some(store) => store,
        None => {
            let dir = workspace.devstack_dir();
            std::fs::create_dir_all(&dir).with_context(|| {
                format!("could not create {}; check its permissions", dir.display())
            })?;
            sqlite_url(&dir.join("serve.db"))
        }
    };
    let addr = format!("127.0.0.1:{}", args.port);

    ui::step(format_args!(
        "serving the catalog API at http://{addr}/api/v0"
    ));
    ui::note(format_args!("docs:  http://{addr}/docs"));
    ui::note(format_args!("store: {store}"));
    ui::note("stop:  Ctrl-C");
    // Optimised: a debug build served about a third of the requests a second the same server does
    // built with optimisations. The tools' profile (release, unwinding) rather than the functions'
    // release profile, so a panicking request ends that request, not the server.
    let mut cargo = workspace.cargo();
    cargo.env("STORE_URL", &store).args([
        "run",
        "--profile",
        packaging::TOOL_PROFILE,
        "-p",
        "catalog-serve",
        "--bin",
        "catalog-serve",
        "--",
        "--addr",
        &addr,
    ]);
    ui::command(&cargo);

    let status = cargo
        .status()
        .context("could not start `cargo`; is the Rust toolchain installed and on PATH?")?;
    if !status.success() {
        eprintln!("catalog-serve stopped: {status}");
    }
    std::process::exit(exit_code(status));
}

/// `sqlite://` followed by the absolute path: `sqlite:///work/main/.devstack/serve.db`.
fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The server's exit code, or 128 + signal when a signal (e.g. Ctrl-C) ended it, as shells report.
fn exit_code(status: ExitStatus) -> i32 {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return 128 + signal;
        }
    }
    status.code().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_store_url_has_three_slashes() {
        assert_eq!(
            sqlite_url(Path::new("/work/main/.devstack/serve.db")),
            "sqlite:///work/main/.devstack/serve.db"
        );
    }

    #[cfg(unix)]
    #[test]
    fn exit_codes_pass_through() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(2)), 130, "SIGINT");
    }
}
