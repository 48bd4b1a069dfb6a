//! The generated protobuf code under `src/codec/generated/` must be exactly what the `.proto`
//! files under `proto/` produce. Regenerate with:
//!
//! ```text
//! USP_REGEN=1 cargo test -p usp --test integration codegen
//! ```

use std::path::{Path, PathBuf};

const PROTOS: &[&str] = &["usp-record-1-4.proto", "usp-msg-1-4.proto"];
const GENERATED: &[&str] = &["usp.rs", "usp_record.rs"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs protox (a pure-Rust protobuf compiler, no `protoc`) and prost-build into `out_dir`.
fn generate(out_dir: &Path) {
    let proto_dir = crate_dir().join("proto");
    let files: Vec<PathBuf> = PROTOS.iter().map(|p| proto_dir.join(p)).collect();
    let fds = protox::compile(&files, [&proto_dir]).expect("the .proto files compile");
    let mut config = prost_build::Config::new();
    // BTreeMap keeps map fields ordered, so encoding the same Msg always gives the same bytes.
    config.btree_map(["."]);
    config.out_dir(out_dir);
    config.compile_fds(fds).expect("prost-build generates Rust from the descriptors");
}

#[test]
fn codegen_matches_checked_in_code() {
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let regen = std::env::var_os("USP_REGEN").is_some_and(|v| v == "1");
    let target_dir = crate_dir().join("src/codec/generated");
    let mut stale = Vec::new();
    for name in GENERATED {
        let fresh = std::fs::read_to_string(tmp.path().join(name)).unwrap();
        let target = target_dir.join(name);
        let current = std::fs::read_to_string(&target).unwrap_or_default();
        if fresh != current {
            if regen {
                std::fs::write(&target, &fresh).unwrap();
            } else {
                stale.push(target.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated protobuf code is out of date: {stale:?}\n\
         regenerate it with: USP_REGEN=1 cargo test -p usp --test integration codegen"
    );
}
