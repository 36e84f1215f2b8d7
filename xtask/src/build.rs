//! `cargo xtask build`: release Lambda binaries, each packaged as `<target>/lambda/<fn>/bootstrap.zip`.
//!
//! The zip holds a single executable `bootstrap` at its root, which is what the `provided.al2023`
//! runtime runs. Packages are deterministic (fixed timestamps), so an unchanged binary gives a
//! byte-identical zip. [`build`] is the reusable entry point for commands that need the packages.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};
use routes::Group;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::ui;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which deployment pattern's functions to build
    #[arg(long, value_enum, default_value_t = Pattern::All)]
    pattern: Pattern,
}

pub fn run(workspace: &Workspace, args: Args) -> Result<()> {
    let artifacts = build(workspace, args.pattern)?;
    print_artifacts(workspace, &artifacts);
    ui::next("cargo xtask deploy --pattern lith   (or: cargo xtask test)");
    Ok(())
}

/// The packaging patterns of "The Lambda Trilogy" this project deploys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Pattern {
    /// One function serves every route
    Lith,
    /// One function per route group
    Fat,
    /// Both of the above
    All,
}

impl Pattern {
    /// The functions a deployment of this pattern is made of, as the deployment model says.
    pub fn functions(self) -> Vec<Function> {
        let patterns: &[stack::Pattern] = match self {
            Pattern::Lith => &[stack::Pattern::Lith],
            Pattern::Fat => &[stack::Pattern::Fat],
            Pattern::All => &stack::Pattern::ALL,
        };
        patterns
            .iter()
            .flat_map(|pattern| pattern.functions())
            .map(Function::named)
            .collect()
    }
}

/// A Lambda function: the lith, or the FAT function of one route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    Lith,
    Fat(Group),
}

impl Function {
    /// The function of a package name the deployment model uses: a route group's name, or `lith`.
    fn named(name: &str) -> Function {
        Group::from_name(name).map_or(Function::Lith, Function::Fat)
    }

    /// The function table. Function names are also directory names under `<target>/lambda/`;
    /// the binary of function `<name>` is `catalog-<name>` (see the lambda crates' `[[bin]]`s).
    ///
    /// | function                       | package       | binary            |
    /// |--------------------------------|---------------|-------------------|
    /// | `lith`                         | `lambda-lith` | `catalog-lith`    |
    /// | `<group>` for each route group | `lambda-fat`  | `catalog-<group>` |
    pub fn name(self) -> &'static str {
        match self {
            Function::Lith => "lith",
            Function::Fat(group) => group.name(),
        }
    }

    /// The cargo package that builds this function's binary.
    pub fn package(self) -> &'static str {
        match self {
            Function::Lith => "lambda-lith",
            Function::Fat(_) => "lambda-fat",
        }
    }

    /// The cargo binary target of this function.
    pub fn bin(self) -> String {
        format!("catalog-{}", self.name())
    }
}

/// A built and packaged function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub function: Function,
    /// `<target>/lambda/<function>/bootstrap`, the executable (what a local stack runs).
    pub bootstrap: PathBuf,
    /// `<target>/lambda/<function>/bootstrap.zip`, the deployment package (what Lambda gets).
    pub zip: PathBuf,
    pub binary_size: u64,
    pub zip_size: u64,
}

/// Builds the release binaries of `pattern`'s functions with one `cargo build` and packages each.
pub fn build(workspace: &Workspace, pattern: Pattern) -> Result<Vec<Artifact>> {
    let functions = pattern.functions();
    let names: Vec<&str> = functions.iter().map(|function| function.name()).collect();
    ui::step(format_args!(
        "building release binaries ({})",
        names.join(", ")
    ));
    let targets: Vec<(&str, String)> = functions.iter().map(|f| (f.package(), f.bin())).collect();
    let executables = cargo_build_release(workspace, &targets)?;

    let lambda_dir = workspace.lambda_dir();
    ui::step(format_args!(
        "packaging bootstrap.zip files in {}",
        workspace.display(&lambda_dir)
    ));
    functions
        .into_iter()
        .map(|function| {
            let bin = function.bin();
            let executable = executables.get(&bin).with_context(|| {
                format!(
                    "cargo built no binary `{bin}` for function `{}`; check that package `{}` \
                     declares `[[bin]] name = \"{bin}\"`",
                    function.name(),
                    function.package()
                )
            })?;
            package(function, executable, &lambda_dir.join(function.name()))
        })
        .collect()
}

/// A release binary that is not a function, such as the local stack: `(package, bin)`.
pub type Tool = (&'static str, &'static str);

/// Builds and packages the functions of `pattern`, then builds `tools` and returns their paths.
///
/// Two cargo runs on purpose: cargo unifies dependency features across the packages of one run,
/// so building a tool beside the functions would change the functions' binaries. Apart, a
/// function is the same binary whichever command built it.
pub fn build_with_tools(
    workspace: &Workspace,
    pattern: Pattern,
    tools: &[Tool],
) -> Result<(Vec<Artifact>, HashMap<String, PathBuf>)> {
    let artifacts = build(workspace, pattern)?;
    if tools.is_empty() {
        return Ok((artifacts, HashMap::new()));
    }
    Ok((artifacts, build_tools(workspace, tools)?))
}

/// Release-builds tools (see [`Tool`]) and returns their executables by binary name.
pub fn build_tools(workspace: &Workspace, tools: &[Tool]) -> Result<HashMap<String, PathBuf>> {
    let names: Vec<&str> = tools.iter().map(|(_, bin)| *bin).collect();
    ui::step(format_args!(
        "building release binaries ({})",
        names.join(", ")
    ));
    let targets: Vec<(&str, String)> = tools
        .iter()
        .map(|(package, bin)| (*package, bin.to_string()))
        .collect();
    cargo_build_release(workspace, &targets)
}

/// Prints the artifacts as a table: function, sizes, package path.
pub fn print_artifacts(workspace: &Workspace, artifacts: &[Artifact]) {
    let mut table = ui::Table::new(["function", "binary", "zip", "package"]);
    for artifact in artifacts {
        table.row([
            artifact.function.name().to_string(),
            ui::bytes(artifact.binary_size),
            ui::bytes(artifact.zip_size),
            workspace.display(&artifact.zip),
        ]);
    }
    println!();
    table.print();
    ui::note("(each package's unzipped `bootstrap` sits next to it)");
}

/// Runs one `cargo build --release -p .. --bin ..` (so the release profile applies to these binaries
/// only, never to xtask), streaming cargo's progress, and returns the executables by binary name.
fn cargo_build_release(
    workspace: &Workspace,
    targets: &[(&str, String)],
) -> Result<HashMap<String, PathBuf>> {
    let mut packages: Vec<&str> = Vec::new();
    for (package, _) in targets {
        if !packages.contains(package) {
            packages.push(package);
        }
    }
    let mut cargo = workspace.cargo();
    // JSON messages on stdout tell where each executable landed; progress and rendered
    // diagnostics still go to the terminal on stderr.
    cargo.args([
        "build",
        "--release",
        "--message-format=json-render-diagnostics",
    ]);
    for package in &packages {
        cargo.args(["-p", package]);
    }
    for (_, bin) in targets {
        cargo.args(["--bin", bin]);
    }
    ui::command(&cargo);

    let mut child = cargo
        .stdout(Stdio::piped())
        .spawn()
        .context("could not start `cargo`; is the Rust toolchain installed and on PATH?")?;
    let stdout = child
        .stdout
        .take()
        .context("cargo's stdout was not captured")?;
    let mut executables = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("could not read cargo's output")?;
        if let Some((name, executable)) = parse_executable(&line) {
            executables.insert(name, executable);
        }
    }
    let status = child.wait().context("could not wait for `cargo build`")?;
    if !status.success() {
        bail!(
            "`cargo build --release` of {} failed ({status}); the errors are above. Fix them, then \
             run `cargo xtask build` again",
            packages.join(", ")
        );
    }
    Ok(executables)
}

/// The binary name and executable path of a cargo `compiler-artifact` message for a bin target.
fn parse_executable(line: &str) -> Option<(String, PathBuf)> {
    #[derive(serde::Deserialize)]
    struct Message {
        reason: String,
        target: Option<Target>,
        executable: Option<PathBuf>,
    }
    #[derive(serde::Deserialize)]
    struct Target {
        name: String,
        kind: Vec<String>,
    }
    let message: Message = serde_json::from_str(line).ok()?;
    let target = message.target?;
    let is_bin = target.kind.iter().any(|kind| kind == "bin");
    (message.reason == "compiler-artifact" && is_bin).then_some((target.name, message.executable?))
}

/// Copies `executable` to `<dir>/bootstrap` (mode 755) and zips it as `<dir>/bootstrap.zip`.
pub fn package(function: Function, executable: &Path, dir: &Path) -> Result<Artifact> {
    fs::create_dir_all(dir)
        .with_context(|| format!("could not create {}; check its permissions", dir.display()))?;
    let contents = fs::read(executable)
        .with_context(|| format!("could not read the built binary {}", executable.display()))?;
    let bootstrap = dir.join("bootstrap");
    write_atomically(&bootstrap, &contents, 0o755)?;
    let zip = dir.join("bootstrap.zip");
    let archive = zip_bootstrap(&contents).with_context(|| {
        format!(
            "could not zip {} for {}",
            executable.display(),
            function.name()
        )
    })?;
    write_atomically(&zip, &archive, 0o644)?;
    Ok(Artifact {
        function,
        bootstrap,
        zip,
        binary_size: contents.len() as u64,
        zip_size: archive.len() as u64,
    })
}

/// A deployment package: `bootstrap` at the root, mode 755, deflated, with a fixed timestamp
/// (1980-01-01, the zip epoch) so that equal binaries give equal zips.
pub fn zip_bootstrap(contents: &[u8]) -> Result<Vec<u8>> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(DateTime::default());
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(contents)?;
    Ok(writer.finish()?.into_inner())
}

/// Writes through a temporary file and a rename, so that a reader (or a running `bootstrap`
/// process, whose file cannot be truncated) never sees a half-written file.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let file_name = path.file_name().context("artifact path has no file name")?;
    let temporary = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        fs::write(&temporary, contents)?;
        set_mode(&temporary, mode)?;
        fs::rename(&temporary, path)
    };
    write().with_context(|| {
        format!(
            "could not write {}; check free space and permissions",
            path.display()
        )
    })
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use zip::ZipArchive;

    use super::*;

    /// Reads a package back: its entries' names, and the first entry's unix mode and contents.
    fn read_back(archive: &[u8]) -> (Vec<String>, u32, Vec<u8>) {
        let mut zip = ZipArchive::new(Cursor::new(archive)).unwrap();
        let names = zip.file_names().map(str::to_string).collect();
        let mut entry = zip.by_index(0).unwrap();
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        let mode = entry.unix_mode().unwrap();
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        (names, mode, contents)
    }

    #[test]
    fn a_package_holds_only_an_executable_bootstrap() {
        let binary: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (names, mode, contents) = read_back(&zip_bootstrap(&binary).unwrap());
        assert_eq!(names, ["bootstrap"]);
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(mode & 0o170000, 0o100000, "a regular file");
        assert_eq!(contents, binary);
    }

    #[test]
    fn packages_are_deterministic() {
        let binary = b"\x7fELF not really".repeat(1000);
        assert_eq!(
            zip_bootstrap(&binary).unwrap(),
            zip_bootstrap(&binary).unwrap()
        );
    }

    #[test]
    fn packaging_writes_bootstrap_and_its_zip() {
        let temp = tempfile::tempdir().unwrap();
        let executable = temp.path().join("catalog-lith");
        fs::write(&executable, b"#!/bin/sh\necho hi\n").unwrap();
        let dir = temp.path().join("lambda/lith");
        let artifact = package(Function::Lith, &executable, &dir).unwrap();
        // Packaging again over existing files works too.
        let again = package(Function::Lith, &executable, &dir).unwrap();
        assert_eq!(artifact, again);

        assert_eq!(artifact.bootstrap, dir.join("bootstrap"));
        assert_eq!(artifact.zip, dir.join("bootstrap.zip"));
        assert_eq!(
            fs::read(&artifact.bootstrap).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );
        assert_eq!(artifact.binary_size, 18);
        let archive = fs::read(&artifact.zip).unwrap();
        assert_eq!(artifact.zip_size, archive.len() as u64);
        let (names, mode, contents) = read_back(&archive);
        assert_eq!(
            (names, mode & 0o777, contents),
            (
                vec!["bootstrap".into()],
                0o755,
                b"#!/bin/sh\necho hi\n".to_vec()
            )
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&artifact.bootstrap)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        let mut left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["bootstrap", "bootstrap.zip"],
            "no temporary files left behind"
        );
    }

    #[test]
    fn fat_has_one_function_per_route_group() {
        let fat = Pattern::Fat.functions();
        assert_eq!(fat, Group::ALL.map(Function::Fat));
        let names: Vec<_> = fat.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["projects", "technologies", "meta"]);
        assert!(fat.iter().all(|f| f.package() == "lambda-fat"));
        let bins: Vec<_> = fat.iter().map(|f| f.bin()).collect();
        assert_eq!(
            bins,
            ["catalog-projects", "catalog-technologies", "catalog-meta"]
        );
    }

    #[test]
    fn lith_is_one_function_and_all_is_both_patterns() {
        assert_eq!(Pattern::Lith.functions(), [Function::Lith]);
        assert_eq!(
            (
                Function::Lith.name(),
                Function::Lith.package(),
                Function::Lith.bin()
            ),
            ("lith", "lambda-lith", "catalog-lith".to_string())
        );
        let all: Vec<_> = Pattern::All.functions().iter().map(|f| f.name()).collect();
        assert_eq!(all, ["lith", "projects", "technologies", "meta"]);
    }

    #[test]
    fn every_binary_is_declared_by_its_package() {
        let workspace = Workspace::discover().unwrap();
        for function in Pattern::All.functions() {
            let manifest = (workspace.root)
                .join("crates")
                .join(function.package())
                .join("Cargo.toml");
            let manifest = fs::read_to_string(&manifest).unwrap();
            let declaration = format!("name = \"{}\"", function.bin());
            assert!(
                manifest.contains(&declaration),
                "{} lacks [[bin]] {declaration}",
                function.package()
            );
        }
    }

    #[test]
    fn reads_executables_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","package_id":"x","target":{"kind":["bin"],"crate_types":["bin"],"name":"catalog-lith","src_path":"/w/src/main.rs"},"executable":"/w/target/release/catalog-lith","fresh":true}"#;
        assert_eq!(
            parse_executable(line),
            Some((
                "catalog-lith".into(),
                PathBuf::from("/w/target/release/catalog-lith")
            ))
        );
        let library = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"api"},"executable":null}"#;
        assert_eq!(parse_executable(library), None);
        assert_eq!(
            parse_executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(parse_executable("   Compiling api v0.1.0"), None);
    }
}
