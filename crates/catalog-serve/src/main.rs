//! The API as a plain HTTP server, for quick work without Lambda (`cargo xtask serve`).

use std::net::SocketAddr;

use anyhow::{Context, bail};
use api::{AppState, CorsConfig};

const USAGE: &str = "usage: catalog-serve [--addr 127.0.0.1:8000]   (store: STORE_URL=memory: | sqlite:///abs/path.db)";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    api::logging::init();
    let addr = parse_addr(std::env::args().skip(1))?;
    let cors = CorsConfig::from_env().context("reading the CORS setting")?;
    let repository = store::open_from_env().await.context("opening the store")?;
    tracing::info!(store = %repository.describe(), "store chosen");
    let app = api::lith(AppState::new(repository, cors));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr}: is another server using the port? Pick another with --addr"
        )
    })?;
    tracing::info!(
        "serving the catalog API on http://{addr}/api/v0 (docs at http://{addr}/docs); Ctrl-C stops"
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}

fn parse_addr(mut args: impl Iterator<Item = String>) -> anyhow::Result<SocketAddr> {
    let mut addr = "127.0.0.1:8000".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().context(USAGE)?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    addr.parse()
        .with_context(|| format!("--addr {addr:?} is not an address like 127.0.0.1:8000"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> impl Iterator<Item = String> {
        list.iter()
            .map(|arg| arg.to_string())
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_address_defaults_to_loopback_8000_and_can_be_chosen() {
        assert_eq!(parse_addr(args(&[])).unwrap().to_string(), "127.0.0.1:8000");
        let chosen = parse_addr(args(&["--addr", "127.0.0.1:9001"])).unwrap();
        assert_eq!(chosen.port(), 9001);
        let unknown = parse_addr(args(&["--port", "1"])).unwrap_err().to_string();
        assert!(unknown.contains("usage"), "{unknown}");
        assert!(parse_addr(args(&["--addr", "nowhere"])).is_err());
    }
}
