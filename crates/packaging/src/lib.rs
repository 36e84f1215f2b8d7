//! Building and packaging the Lambda functions, shared by `cargo xtask build` and the deployer.
//!
//! A function is built in release for an architecture (natively with cargo, or with cargo-lambda
//! and zig for the other one), then packaged as `<target>/lambda/<architecture>/<function>/`
//! `bootstrap` and `bootstrap.zip`: a single executable `bootstrap` at the zip's root, which is
//! what the `provided.al2023` runtime runs. Packages are deterministic (fixed timestamps), so an
//! unchanged binary gives a byte-identical zip and the same content hash, which names it in S3.

pub mod elf;
mod function;
mod workspace;

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

pub use function::{Function, functions_of, route_functions_of};
pub use stack::Pattern;
pub use stack::env::Architecture;
pub use workspace::Workspace;

#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    #[error("could not start `{program}` ({source}); {hint}")]
    Start {
        program: String,
        hint: &'static str,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}); the errors are above. Fix them, then build again")]
    BuildFailed { command: String, status: String },
    #[error(
        "the build made no binary `{bin}` for function `{function}`; check that package `{package}` declares `[[bin]] name = \"{bin}\"`"
    )]
    NoBinary {
        bin: String,
        function: &'static str,
        package: &'static str,
    },
    #[error("could not {action} {path}: {source}; check free space and permissions")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not zip {path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error(
        "{path} is not a {expected} executable ({found}); Lambda would fail to start it with an exec format error"
    )]
    WrongMachine {
        path: PathBuf,
        expected: &'static str,
        found: String,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PackagingError {
    let path = path.to_path_buf();
    move |source| PackagingError::Io {
        action,
        path,
        source,
    }
}

/// A built and packaged function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub function: Function,
    pub architecture: Architecture,
    /// `<target>/lambda/<arch>/<function>/bootstrap`, the executable (what a local stack runs).
    pub bootstrap: PathBuf,
    /// `<target>/lambda/<arch>/<function>/bootstrap.zip`, the deployment package.
    pub zip: PathBuf,
    pub binary_size: u64,
    pub zip_size: u64,
    /// SHA-256 of the zip, lower-case hex: the package's name in the artifact bucket.
    pub sha256: String,
}

/// The architecture of the machine running this, when Lambda has it.
pub fn host_architecture() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

/// The Rust target triple of a Lambda architecture (glibc: `provided.al2023` ships glibc 2.34).
pub fn target_triple(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    }
}

/// Whether `architecture` is built with cargo-lambda here (it is not this machine's).
pub fn needs_cross_build(architecture: Architecture) -> bool {
    host_architecture() != Some(architecture)
}

/// How a build reaches its tools.
#[derive(Debug, Clone, Default)]
pub struct BuildTools {
    /// `PATH` for cross builds: where `cargo-lambda` (and the zig it brings) is found.
    pub cross_path: Option<OsString>,
}

/// Builds `functions` for `architecture` and packages each; `echo` is shown every command
/// before it runs.
///
/// The functions that serve routes are built in one cargo run, and the janitor in another:
/// cargo unifies dependency features across the packages of one run, and the janitor's AWS SDK
/// would otherwise change (and grow) the API functions' binaries. Apart, each function is the
/// same binary whatever else is built.
pub fn build(
    workspace: &Workspace,
    functions: &[Function],
    architecture: Architecture,
    tools: &BuildTools,
    echo: &dyn Fn(&Command),
) -> Result<Vec<Artifact>, PackagingError> {
    let (janitor, api): (Vec<Function>, Vec<Function>) = functions
        .iter()
        .partition(|function| **function == Function::Janitor);
    let mut executables = HashMap::new();
    for run in [api, janitor] {
        if run.is_empty() {
            continue;
        }
        let targets: Vec<(&str, String)> = run.iter().map(|f| (f.package(), f.bin())).collect();
        executables.extend(if needs_cross_build(architecture) {
            cross_build_release(workspace, &targets, architecture, tools, echo)?
        } else {
            cargo_build(workspace, &targets, "release", echo)?
        });
    }
    let lambda_dir = workspace.lambda_dir(architecture);
    functions
        .iter()
        .map(|function| {
            let bin = function.bin();
            let executable = executables
                .get(&bin)
                .ok_or_else(|| PackagingError::NoBinary {
                    bin: bin.clone(),
                    function: function.name(),
                    package: function.package(),
                })?;
            package(
                *function,
                architecture,
                executable,
                &lambda_dir.join(function.name()),
            )
        })
        .collect()
}

/// A binary that is not a function, such as the local stack: `(package, bin)`.
pub type Tool = (&'static str, &'static str);

/// The cargo profile tools are built in (`[profile.devstack]` of the workspace): release's
/// optimisation, but unwinding on panic, so that one failing task of a long-running local stack
/// or measurement cannot abort the whole process as the functions' `panic = "abort"` would.
pub const TOOL_PROFILE: &str = "devstack";

/// Where [`build_tools`] leaves the binary `bin`: `<target>/devstack/<bin>`.
pub fn tool_path(workspace: &Workspace, bin: &str) -> PathBuf {
    workspace.target_dir.join(TOOL_PROFILE).join(bin)
}

/// Builds tools (see [`Tool`]) in [`TOOL_PROFILE`] for this machine and returns their
/// executables by binary name.
///
/// Never in the same cargo run as functions: cargo unifies dependency features across the
/// packages of one run, so building a tool beside the functions would change the functions'
/// binaries. Apart, a function is the same binary whichever command built it.
pub fn build_tools(
    workspace: &Workspace,
    tools: &[Tool],
    echo: &dyn Fn(&Command),
) -> Result<HashMap<String, PathBuf>, PackagingError> {
    cargo_build(workspace, &tool_targets(tools), TOOL_PROFILE, echo)
}

/// Builds binaries in the functions' own release profile for this machine, in a cargo run of
/// their own: for a binary measured beside the functions (the cold-start floor), which must be
/// built as they are.
pub fn build_release_bins(
    workspace: &Workspace,
    bins: &[Tool],
    echo: &dyn Fn(&Command),
) -> Result<HashMap<String, PathBuf>, PackagingError> {
    cargo_build(workspace, &tool_targets(bins), "release", echo)
}

fn tool_targets(tools: &[Tool]) -> Vec<(&'static str, String)> {
    tools
        .iter()
        .map(|(package, bin)| (*package, bin.to_string()))
        .collect()
}

/// `-p <package>... --bin <bin>...`, each package once.
fn target_args(command: &mut Command, targets: &[(&str, String)]) {
    let mut packages: Vec<&str> = Vec::new();
    for (package, _) in targets {
        if !packages.contains(package) {
            packages.push(package);
        }
    }
    for package in &packages {
        command.args(["-p", package]);
    }
    for (_, bin) in targets {
        command.args(["--bin", bin]);
    }
}

/// Runs one `cargo build --profile <profile> -p .. --bin ..` (so the profile applies to these
/// binaries only, never to xtask), streaming cargo's progress, and returns the executables by
/// binary name.
fn cargo_build(
    workspace: &Workspace,
    targets: &[(&str, String)],
    profile: &str,
    echo: &dyn Fn(&Command),
) -> Result<HashMap<String, PathBuf>, PackagingError> {
    let mut cargo = workspace.cargo();
    // JSON messages on stdout tell where each executable landed; progress and rendered
    // diagnostics still go to the terminal on stderr.
    cargo.args([
        "build",
        "--profile",
        profile,
        "--message-format=json-render-diagnostics",
    ]);
    target_args(&mut cargo, targets);
    echo(&cargo);
    run_cargo(cargo, "is the Rust toolchain installed and on PATH?")
}

/// The same through `cargo lambda build`, which cross-compiles with zig (linking against an old
/// enough glibc) for `architecture`. cargo-lambda moves each binary into
/// `<lambda-dir>/<bin>/bootstrap`, so that is where the executables are taken from.
fn cross_build_release(
    workspace: &Workspace,
    targets: &[(&str, String)],
    architecture: Architecture,
    tools: &BuildTools,
    echo: &dyn Fn(&Command),
) -> Result<HashMap<String, PathBuf>, PackagingError> {
    let staging = workspace.target_dir.join("cargo-lambda");
    let mut cargo = workspace.cargo();
    cargo
        .args(["lambda", "build", "--release", "--target"])
        .arg(target_triple(architecture))
        .arg("--lambda-dir")
        .arg(&staging)
        .arg("--message-format=json-render-diagnostics");
    target_args(&mut cargo, targets);
    if let Some(path) = &tools.cross_path {
        cargo.env("PATH", path);
    }
    echo(&cargo);
    run_cargo(
        cargo,
        "install cargo-lambda (pip install cargo-lambda) and put it on PATH",
    )?;
    Ok(targets
        .iter()
        .map(|(_, bin)| (bin.clone(), staging.join(bin).join("bootstrap")))
        .collect())
}

fn run_cargo(
    mut cargo: Command,
    hint: &'static str,
) -> Result<HashMap<String, PathBuf>, PackagingError> {
    let command = command_line(&cargo);
    let mut child =
        cargo
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| PackagingError::Start {
                program: "cargo".into(),
                hint,
                source,
            })?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut executables = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(io("read the output of", Path::new("cargo")))?;
        if let Some((name, executable)) = parse_executable(&line) {
            executables.insert(name, executable);
        }
    }
    let status = child.wait().map_err(io("wait for", Path::new("cargo")))?;
    if !status.success() {
        return Err(PackagingError::BuildFailed {
            command,
            status: status.to_string(),
        });
    }
    Ok(executables)
}

/// `cargo build --release ...`, for messages.
fn command_line(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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

/// Copies `executable` to `<dir>/bootstrap` (mode 755) and zips it as `<dir>/bootstrap.zip`,
/// after checking that it is an executable for `architecture`.
pub fn package(
    function: Function,
    architecture: Architecture,
    executable: &Path,
    dir: &Path,
) -> Result<Artifact, PackagingError> {
    let contents = read_executable(executable, architecture)?;
    fs::create_dir_all(dir).map_err(io("create", dir))?;
    let bootstrap = dir.join("bootstrap");
    write_atomically(&bootstrap, &contents, 0o755)?;
    let zip = dir.join("bootstrap.zip");
    let archive = zip_bootstrap(&contents).map_err(|source| PackagingError::Zip {
        path: executable.to_path_buf(),
        source,
    })?;
    write_atomically(&zip, &archive, 0o644)?;
    Ok(Artifact {
        function,
        architecture,
        bootstrap,
        zip,
        binary_size: contents.len() as u64,
        zip_size: archive.len() as u64,
        sha256: sha256_hex(&archive),
    })
}

/// The package of `function` already built for `architecture` in `lambda_dir` (see
/// [`Workspace::lambda_dir`]), read back from disk and checked.
pub fn read_artifact(
    lambda_dir: &Path,
    function: Function,
    architecture: Architecture,
) -> Result<Artifact, PackagingError> {
    let dir = lambda_dir.join(function.name());
    let bootstrap = dir.join("bootstrap");
    let zip = dir.join("bootstrap.zip");
    let binary = read_executable(&bootstrap, architecture)?;
    let archive = fs::read(&zip).map_err(io("read", &zip))?;
    Ok(Artifact {
        function,
        architecture,
        bootstrap,
        zip,
        binary_size: binary.len() as u64,
        zip_size: archive.len() as u64,
        sha256: sha256_hex(&archive),
    })
}

/// The bytes of an executable, refused unless it is one for `architecture`.
fn read_executable(path: &Path, architecture: Architecture) -> Result<Vec<u8>, PackagingError> {
    let bytes = fs::read(path).map_err(io("read", path))?;
    elf::check(&bytes, architecture).map_err(|found| PackagingError::WrongMachine {
        path: path.to_path_buf(),
        expected: architecture.as_str(),
        found,
    })?;
    Ok(bytes)
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A deployment package: `bootstrap` at the root, mode 755, deflated, with a fixed timestamp
/// (1980-01-01, the zip epoch) so that equal binaries give equal zips.
pub fn zip_bootstrap(contents: &[u8]) -> Result<Vec<u8>, zip::result::ZipError> {
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
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), PackagingError> {
    let file_name = path.file_name().expect("artifact paths end in a file name");
    let temporary = path.with_file_name(format!(".{}.tmp", file_name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        fs::write(&temporary, contents)?;
        set_mode(&temporary, mode)?;
        fs::rename(&temporary, path)
    };
    write().map_err(io("write", path))
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
mod tests;
