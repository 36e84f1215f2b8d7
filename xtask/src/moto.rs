//! `cargo xtask moto`: moto's AWS emulation on 127.0.0.1, in the foreground until Ctrl-C, with
//! this project's extensions (xtask/moto/catalog_moto: the CloudFormation resource types moto
//! lacks, and change sets that honour DependsOn), so the AWS path (`deploy --target aws`,
//! `status`, `destroy`) can be tried without an account. The tests start moto the same way.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
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

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let venv = tools::ensure_venv(&workspace.venv_dir())?;
    tools::pip_install(&venv, &[tools::python::MOTO])?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
        bail!(
            "something already listens on {address}; stop it, or choose another port with --port"
        );
    }
    let mut command = Command::new(venv.python());
    command
        .env("PYTHONPATH", workspace.root.join("xtask/moto"))
        .args(["-m", "catalog_moto", "-H", "127.0.0.1", "-p"])
        .arg(args.port.to_string());
    ui::step("starting moto with the catalog's extensions");
    ui::command(&command);
    // Ctrl-C reaches moto too (same process group). A SIGTERM reaches only this process, so from
    // here on it is caught and passed on: the server never outlives the command.
    let runtime = crate::aws::runtime()?;
    let mut terminate = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    })?;
    let mut child = command.spawn().context("could not start moto's server")?;
    let mut terminated = |wait: Duration| {
        runtime.block_on(async { tokio::time::timeout(wait, terminate.recv()).await.is_ok() })
    };
    let stop = |child: &mut std::process::Child| {
        ui::note("terminated: stopping moto");
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let _ = child.wait();
    };

    // Python takes a few seconds to import moto.
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("moto stopped before it listened ({status}); its messages are above");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            bail!("moto did not listen on {address} within a minute");
        }
        if terminated(Duration::from_millis(100)) {
            stop(&mut child);
            return Ok(());
        }
    }
    let url = format!("http://{address}");
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
        if let Some(status) = child.try_wait().context("waiting for moto")? {
            if !status.success() && status.code().is_some() {
                bail!("moto stopped with {status}");
            }
            return Ok(());
        }
        if terminated(Duration::from_millis(200)) {
            stop(&mut child);
            return Ok(());
        }
    }
}
