//! The packages `cargo xtask build` made, as Lambda will see them: every `bootstrap` (and the one
//! inside its zip) is an executable for the architecture it was built for, since a wrong one
//! fails in Lambda only at the first request, with an exec format error.

use std::io::Read;

use e2e::packages_dir;
use packaging::{Architecture, Pattern, functions_of};

/// The `bootstrap` inside a package.
fn unzipped(zip: &std::path::Path) -> Vec<u8> {
    let file = std::fs::File::open(zip).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut entry = archive.by_name("bootstrap").unwrap();
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    bytes
}

#[test]
fn every_package_is_an_executable_for_its_architecture() {
    let root = packages_dir();
    for architecture in Architecture::ALL {
        for function in functions_of(&Pattern::ALL) {
            let dir = root.join(architecture.as_str()).join(function.name());
            let zip = dir.join("bootstrap.zip");
            assert!(
                zip.is_file(),
                "{} is missing: `cargo xtask test` builds both architectures (by hand: \
                 cargo xtask build --arch {})",
                zip.display(),
                architecture.as_str()
            );
            let bootstrap = std::fs::read(dir.join("bootstrap")).unwrap();
            for (what, bytes) in [("bootstrap", &bootstrap), ("zip", &unzipped(&zip))] {
                assert_eq!(
                    packaging::elf::machine(bytes),
                    Ok(architecture),
                    "the {what} of {} is not a {} executable",
                    dir.display(),
                    architecture.as_str()
                );
            }
        }
    }
}
