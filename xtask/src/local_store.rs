//! Where a local stack (or a measurement's private stacks) keeps the catalog: a SQLite file by
//! default, or DynamoDB in moto (`--store dynamodb`), so the AWS store can be tried without an
//! account. The table is made from the template's own CatalogTable definition.

use anyhow::{Context, Result};
use packaging::Workspace;

use crate::moto::{self, MotoServer};
use crate::ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A SQLite file in the stack's state directory, as `catalog-serve` and the tests use
    Sqlite,
    /// A DynamoDB table in moto on 127.0.0.1 (started unless one listens on --moto-port)
    Dynamodb,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where the functions keep the catalog
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// With --store dynamodb: moto's port on 127.0.0.1 (a running `cargo xtask moto` is used)
    #[arg(long, default_value_t = 4566)]
    pub moto_port: u16,
}

/// The store a local stack's functions use, prepared: for DynamoDB the table exists (and moto
/// runs until this is dropped, when this command started it).
pub enum LocalStore {
    /// The stack's own default: a SQLite file under its state directory.
    Sqlite,
    DynamoDb {
        table: String,
        endpoint: String,
        /// The moto this command started, if it did; stopped with the store.
        _moto: Option<MotoServer>,
    },
}

impl StoreArgs {
    /// Prepares the store: for DynamoDB, uses the moto on `--moto-port` or starts one, and
    /// makes `table` there with the keys of `template`'s CatalogTable (kept if it exists).
    pub fn prepare(
        &self,
        workspace: &Workspace,
        template: &serde_json::Value,
        region: &str,
        table: &str,
    ) -> Result<LocalStore> {
        if self.store == StoreKind::Sqlite {
            return Ok(LocalStore::Sqlite);
        }
        let started = if moto::listening(self.moto_port) {
            ui::step(format_args!(
                "using the moto that listens on 127.0.0.1:{}",
                self.moto_port
            ));
            None
        } else {
            let log = workspace.devstack_dir().join("logs").join("moto.log");
            let server = moto::spawn(workspace, self.moto_port, Some(&log), || false)?
                .context("moto's start was interrupted")?;
            ui::note(
                "moto keeps its data in memory: it ends with this command. For a table that \
                 outlives it, run `cargo xtask moto` in another terminal first",
            );
            Some(server)
        };
        let endpoint = format!("http://127.0.0.1:{}", self.moto_port);
        let session = aws_session::Session::for_endpoint(&endpoint, region, "testing", "testing");
        let runtime = crate::aws::runtime()?;
        let outcome = runtime
            .block_on(deployer::create_table_like(
                &session,
                template,
                stack::CATALOG_TABLE,
                table,
            ))
            .with_context(|| format!("making the table {table} in moto at {endpoint}"))?;
        ui::step(format_args!(
            "DynamoDB table {table} in moto ({})",
            match outcome {
                deployer::TableOutcome::Created => "created",
                deployer::TableOutcome::Existing => "there already: its items are kept",
            }
        ));
        Ok(LocalStore::DynamoDb {
            table: table.to_owned(),
            endpoint,
            _moto: started,
        })
    }
}

impl LocalStore {
    /// What every function gets besides the template's variables, as `NAME=VALUE`: none for
    /// SQLite (the stack picks its file); for DynamoDB the table, moto's endpoint, and dummy
    /// credentials in place of an execution role's (moto does not check them).
    pub fn function_env(&self) -> Vec<String> {
        match self {
            LocalStore::Sqlite => Vec::new(),
            LocalStore::DynamoDb {
                table, endpoint, ..
            } => vec![
                format!("STORE_URL=dynamodb://{table}"),
                format!("AWS_ENDPOINT_URL={endpoint}"),
                "AWS_ACCESS_KEY_ID=testing".into(),
                "AWS_SECRET_ACCESS_KEY=testing".into(),
            ],
        }
    }

    /// The store's name, for tables of figures.
    pub fn name(&self) -> &'static str {
        match self {
            LocalStore::Sqlite => "sqlite",
            LocalStore::DynamoDb { .. } => "dynamodb",
        }
    }
}
