//! `cargo xtask moto`: moto's AWS emulation on 127.0.0.1, in the foreground until Ctrl-C, with
//! this project's extensions (xtask/moto/catalog_moto: the CloudFormation resource types moto
//! lacks, and change sets that honour DependsOn), so the AWS path (`deploy --target aws`,
//! `status`, `destroy`) can be tried without an account. The tests start moto the same way.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use packaging::Workspace;

use crate::{tools, ui};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1
    #[arg(long, default_value_t = 4566)]
    port: u16,
}

/// A moto server this command started, stopped (by its PID) when dropped.
pub struct MotoServer {
    child: Child,
    url: String,
}

impl MotoServer {
    /// Where AWS clients send their requests (`AWS_ENDPOINT_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether moto already ended, with its status.
    fn exited(&mut self) -> Result<Option<ExitStatus>> {
        self.child.try_wait().context("waiting for moto")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// Whether a server answers on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
}

/// Installs moto into .venv if needed, starts it with the project's extensions on
/// 127.0.0.1:`port`, and returns once it listens. Its output goes to `log` when given (moto logs
/// every request), else to this terminal. `interrupted` is polled while waiting: when it says
/// so, moto is stopped and `None` returned.
pub fn spawn(
    workspace: &Workspace,
    port: u16,
    log: Option<&Path>,
    mut interrupted: impl FnMut() -> bool,
) -> Result<Option<MotoServer>> {
    let venv = tools::ensure_venv(&workspace.venv_dir())?;
    tools::pip_install(&venv, &[tools::python::MOTO])?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if listening(port) {
        bail!(
            "something already listens on {address}; stop it, or choose another port with --port"
        );
    }
    let mut command = Command::new(venv.python());
    command
        .env("PYTHONPATH", workspace.root.join("xtask/moto"))
        .args(["-m", "catalog_moto", "-H", "127.0.0.1", "-p"])
        .arg(port.to_string());
    ui::step("starting moto with the catalog's extensions");
    ui::command(&command);
    if let Some(log) = log {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = std::fs::File::create(log)
            .with_context(|| format!("creating moto's log {}", log.display()))?;
        command
            .stdout(file.try_clone().context("sharing moto's log file")?)
            .stderr(file);
        ui::note(format_args!("moto's log: {}", workspace.display(log)));
    }
    let mut server = MotoServer {
        child: command.spawn().context("could not start moto's server")?,
        url: format!("http://{address}"),
    };
    // Python takes a few seconds to import moto.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !listening(port) {
        if let Some(status) = server.exited()? {
            bail!(
                "moto stopped before it listened ({status}); its messages are {}",
                log.map_or("above".to_owned(), |log| format!("in {}", log.display()))
            );
        }
        if Instant::now() > deadline {
            bail!("moto did not listen on {address} within a minute");
        }
        if interrupted() {
            return Ok(None);
        }
    }
    Ok(Some(server))
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    // Ctrl-C reaches moto too (same process group). A SIGTERM reaches only this process, so it
    // is caught and passed on: the server never outlives the command.
    let runtime = crate::aws::runtime()?;
    let mut terminate = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    })?;
    let mut terminated = |wait: Duration| {
        runtime.block_on(async { tokio::time::timeout(wait, terminate.recv()).await.is_ok() })
    };
    let Some(mut server) = spawn(workspace, args.port, None, || {
        terminated(Duration::from_millis(100))
    })?
    else {
        ui::note("terminated: stopping moto");
        return Ok(());
    };
    let url = server.url().to_owned();
    println!();
    println!("moto listening on {url}");
    println!(
        "export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    );
    ui::note("(dummy credentials: moto does not check them; stop with Ctrl-C)");
    ui::next(
        "cargo xtask deploy --pattern fat --target aws --env dev --yes   (with the exports above)",
    );
    loop {
        if let Some(status) = server.exited()? {
            if !status.success() && status.code().is_some() {
                bail!("moto stopped with {status}");
            }
            return Ok(());
        }
        if terminated(Duration::from_millis(200)) {
            ui::note("terminated: stopping moto");
            return Ok(());
        }
    }
}
