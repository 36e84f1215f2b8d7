//! Embeds the Swagger UI files gzip-compressed: the bundle alone is 1.5 MB, and every function
//! that serves /docs (the lith, meta) carried it whole in its binary, to unpack on each cold start.
//! Compressed at the best level here, once per build; meta.rs inflates each file on first use.

use std::io::Write;
use std::path::Path;

/// The files meta.rs serves, from `assets/swagger-ui/`.
const ASSETS: [&str; 3] = ["swagger-ui.css", "swagger-ui-bundle.js", "LICENSE"];

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    for name in ASSETS {
        let source = Path::new("assets/swagger-ui").join(name);
        println!("cargo:rerun-if-changed={}", source.display());
        let bytes =
            std::fs::read(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip into memory");
        let gzipped = encoder.finish().expect("gzip into memory");
        let target = Path::new(&out_dir).join(format!("{name}.gz"));
        std::fs::write(&target, gzipped)
            .unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
    }
}
