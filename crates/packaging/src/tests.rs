use std::io::Read;

use routes::Group;
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

/// A file that starts like an executable for `architecture` (an ELF header and some bytes).
fn fake_executable(architecture: Architecture) -> Vec<u8> {
    let machine: u16 = match architecture {
        Architecture::X86_64 => 62,
        Architecture::Arm64 => 183,
    };
    let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
    bytes.extend([0; 9]);
    bytes.extend(2u16.to_le_bytes());
    bytes.extend(machine.to_le_bytes());
    bytes.extend((0..5000u32).map(|i| (i % 251) as u8));
    bytes
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
fn packages_are_deterministic_and_named_by_their_hash() {
    let binary = b"\x7fELF not really".repeat(1000);
    let (first, second) = (
        zip_bootstrap(&binary).unwrap(),
        zip_bootstrap(&binary).unwrap(),
    );
    assert_eq!(first, second);
    assert_eq!(sha256_hex(&first), sha256_hex(&second));
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn packaging_writes_bootstrap_and_its_zip() {
    let temp = tempfile::tempdir().unwrap();
    let executable = temp.path().join("catalog-lith");
    let binary = fake_executable(Architecture::Arm64);
    fs::write(&executable, &binary).unwrap();
    let dir = temp.path().join("lambda/arm64/lith");
    let artifact = package(Function::Lith, Architecture::Arm64, &executable, &dir).unwrap();
    // Packaging again over existing files works too, and gives the same package.
    let again = package(Function::Lith, Architecture::Arm64, &executable, &dir).unwrap();
    assert_eq!(artifact, again);

    assert_eq!(artifact.bootstrap, dir.join("bootstrap"));
    assert_eq!(artifact.zip, dir.join("bootstrap.zip"));
    assert_eq!(fs::read(&artifact.bootstrap).unwrap(), binary);
    assert_eq!(artifact.binary_size, binary.len() as u64);
    let archive = fs::read(&artifact.zip).unwrap();
    assert_eq!(artifact.zip_size, archive.len() as u64);
    assert_eq!(artifact.sha256, sha256_hex(&archive));
    let (names, mode, contents) = read_back(&archive);
    assert_eq!(
        (names, mode & 0o777, contents),
        (vec!["bootstrap".into()], 0o755, binary)
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
fn a_binary_for_the_other_architecture_is_not_packaged() {
    let temp = tempfile::tempdir().unwrap();
    let executable = temp.path().join("catalog-meta");
    fs::write(&executable, fake_executable(Architecture::X86_64)).unwrap();
    let dir = temp.path().join("out");
    let error = package(
        Function::Fat(Group::Meta),
        Architecture::Arm64,
        &executable,
        &dir,
    )
    .unwrap_err();
    assert!(
        matches!(&error, PackagingError::WrongMachine { expected: "arm64", found, .. } if found == "built for x86_64"),
        "{error}"
    );
    assert!(!dir.exists(), "nothing is written for a wrong binary");
}

#[test]
fn fat_has_one_function_per_route_group() {
    let fat = functions_of(&[Pattern::Fat]);
    let (janitor, fat) = fat.split_last().unwrap();
    assert_eq!(fat, Group::ALL.map(Function::Fat));
    assert_eq!(*janitor, Function::Janitor);
    let names: Vec<_> = fat.iter().map(|f| f.name()).collect();
    assert_eq!(names, ["projects", "technologies", "meta"]);
    assert!(fat.iter().all(|f| f.package() == "lambda-fat"));
    let bins: Vec<_> = fat.iter().map(|f| f.bin()).collect();
    assert_eq!(
        bins,
        ["catalog-projects", "catalog-technologies", "catalog-meta"]
    );
    assert_eq!(
        (janitor.package(), janitor.bin()),
        ("lambda-janitor", "catalog-janitor".to_string())
    );
}

#[test]
fn lith_is_one_function_and_patterns_together_list_each_function_once() {
    assert_eq!(
        functions_of(&[Pattern::Lith]),
        [Function::Lith, Function::Janitor]
    );
    assert_eq!(
        (
            Function::Lith.name(),
            Function::Lith.package(),
            Function::Lith.bin()
        ),
        ("lith", "lambda-lith", "catalog-lith".to_string())
    );
    let all: Vec<_> = functions_of(&[Pattern::Lith, Pattern::Fat, Pattern::Lith])
        .iter()
        .map(|f| f.name())
        .collect();
    assert_eq!(all, ["lith", "janitor", "projects", "technologies", "meta"]);
}

#[test]
fn single_is_one_function_per_route_and_reuses_the_fat_meta_for_the_catch_alls() {
    let single = functions_of(&[Pattern::Single]);
    let names: Vec<_> = single.iter().map(|f| f.name()).collect();
    assert_eq!(names.len(), routes::ROUTES.len() + 2, "{names:?}");
    assert_eq!(names[..2], ["welcome", "health"]);
    assert_eq!(single[5], Function::Single(routes::ROUTES[5].operation));
    assert_eq!(
        (single[5].package(), single[5].bin()),
        ("lambda-single", "catalog-list-projects".to_string())
    );
    assert_eq!(single[routes::ROUTES.len()], Function::Fat(Group::Meta));
    assert_eq!(single.last(), Some(&Function::Janitor));
    for function in &single {
        assert_eq!(Function::named(function.name()), Some(*function));
    }
}

#[test]
fn every_binary_is_declared_by_its_package() {
    let workspace = Workspace::discover().unwrap();
    for function in functions_of(&Pattern::ALL) {
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

#[test]
fn the_other_architecture_is_a_cross_build() {
    let host = host_architecture().expect("tests run on x86_64 or arm64");
    assert!(!needs_cross_build(host));
    let other = match host {
        Architecture::X86_64 => Architecture::Arm64,
        Architecture::Arm64 => Architecture::X86_64,
    };
    assert!(needs_cross_build(other));
    assert_eq!(
        target_triple(Architecture::Arm64),
        "aarch64-unknown-linux-gnu"
    );
}
