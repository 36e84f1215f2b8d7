//! The workspace being built: its root, its target directory, and a `cargo` to run in it.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use stack::env::Architecture;

/// Where things are. Every path in here is absolute.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The workspace root, holding the workspace `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory for this workspace.
    pub target_dir: PathBuf,
    /// Set when the target directory came from `CARGO_TARGET_DIR`: nested cargo runs get the
    /// absolute form, because they run from the root and a relative value means the caller's cwd.
    target_dir_from_env: bool,
}

impl Workspace {
    /// The workspace this crate belongs to (two directories above it), and the target directory
    /// cargo uses for it: `CARGO_TARGET_DIR` if set, otherwise what `cargo metadata` says,
    /// otherwise `<root>/target`.
    pub fn discover() -> std::io::Result<Workspace> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .expect("this crate lives in <root>/crates/packaging")
            .to_path_buf();
        let from_env = env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty());
        let target_dir_from_env = from_env.is_some();
        let target_dir = match from_env {
            Some(dir) => absolute(PathBuf::from(dir))?,
            None => metadata_target_dir(&root).unwrap_or_else(|| root.join("target")),
        };
        Ok(Workspace {
            root,
            target_dir,
            target_dir_from_env,
        })
    }

    /// Where packaged functions go: `<target>/lambda/<architecture>/<function>/` holds
    /// `bootstrap` and `bootstrap.zip`.
    pub fn packages_dir(&self) -> PathBuf {
        self.target_dir.join("lambda")
    }

    /// The packages of one architecture: `<target>/lambda/<architecture>`.
    pub fn lambda_dir(&self, architecture: Architecture) -> PathBuf {
        self.packages_dir().join(architecture.as_str())
    }

    /// The environment files: `<root>/deploy/envs/<env>.toml`.
    pub fn deploy_dir(&self) -> PathBuf {
        self.root.join("deploy")
    }

    /// Local state of the dev stack and `cargo xtask serve` (git-ignored).
    pub fn devstack_dir(&self) -> PathBuf {
        self.root.join(".devstack")
    }

    /// The Python venv for test tools (git-ignored).
    pub fn venv_dir(&self) -> PathBuf {
        self.root.join(".venv")
    }

    /// A `cargo` command (the one running us, if any) that runs in the workspace root.
    pub fn cargo(&self) -> Command {
        let mut command = Command::new(cargo_program());
        command.current_dir(&self.root);
        if self.target_dir_from_env {
            command.env("CARGO_TARGET_DIR", &self.target_dir);
        }
        command
    }

    /// `path` relative to the root when it is inside the workspace, for shorter output.
    pub fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// `$CARGO` when run through cargo (the same toolchain), otherwise `cargo` from PATH.
fn cargo_program() -> OsString {
    env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn absolute(path: PathBuf) -> std::io::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path);
    }
    Ok(env::current_dir()?.join(path))
}

/// `target_directory` from `cargo metadata`, which honours `.cargo/config.toml`. `None` when
/// cargo cannot read the workspace (the build that follows will then say why).
fn metadata_target_dir(root: &Path) -> Option<PathBuf> {
    let output = Command::new(cargo_program())
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_target_directory(&output.stdout)
}

fn parse_target_directory(metadata: &[u8]) -> Option<PathBuf> {
    #[derive(serde::Deserialize)]
    struct Metadata {
        target_directory: PathBuf,
    }
    serde_json::from_slice::<Metadata>(metadata)
        .ok()
        .map(|m| m.target_directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_target_directory_from_cargo_metadata() {
        let json = br#"{"packages":[],"target_directory":"/w/target","version":1}"#;
        assert_eq!(
            parse_target_directory(json),
            Some(PathBuf::from("/w/target"))
        );
        assert_eq!(parse_target_directory(b"not json"), None);
    }

    #[test]
    fn discovers_this_workspace() {
        let workspace = Workspace::discover().unwrap();
        assert!(workspace.root.join("Cargo.toml").is_file());
        assert!(workspace.root.join("xtask").is_dir());
        assert!(workspace.target_dir.is_absolute());
        assert_eq!(
            workspace.lambda_dir(Architecture::Arm64),
            workspace.target_dir.join("lambda/arm64")
        );
        assert_eq!(workspace.display(&workspace.root.join("a/b")), "a/b");
    }
}
