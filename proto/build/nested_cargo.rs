//! A cargo of its own, run from a build script: how the launcher builds the preload
//! library it embeds and the tracer builds the agent it embeds (each includes this file
//! with `#[path]`). The nested build gets its own target directory under OUT_DIR (the
//! outer build holds the lock on the workspace's), and none of the outer build's
//! compiler settings: no target override, no RUSTFLAGS, no wrapper (clippy's
//! RUSTC_WORKSPACE_WRAPPER among them: what is built here is linted on its own).
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the crate of `manifest` (the `name`, for messages) in release mode, after
/// telling cargo to run the build script again when any of `watch` changes; `args` go to
/// `cargo build` (`--locked`). Returns the target directory, named after the crate's
/// directory (its `release/` holds the outputs).
pub fn build(manifest: &Path, watch: &[PathBuf], name: &str, args: &[&str]) -> PathBuf {
    for p in watch {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let dir = manifest.parent().and_then(Path::file_name).expect("a crate directory");
    let target = out.join(format!("{}-target", dir.to_string_lossy()));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet"])
        .args(args)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the {name}: {e}"));
    assert!(status.success(), "building the {name} failed");
    target
}
