//! Builds the preload library and embeds it in the fakebox binary, so that a fakebox
//! installed alone (`cargo install --path launcher`) works: at run time the binary uses a
//! libfakebox.so found next to it, else writes out the embedded copy (see
//! `session::preload_library`). The library is built by a cargo of its own, in a target
//! directory under OUT_DIR, from the preload crate beside this one.
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let manifest = here.join("../preload/Cargo.toml");
    for dir in ["../preload/src", "../preload/csrc", "../preload/build.rs", "../preload/Cargo.toml", "../proto/src"] {
        println!("cargo:rerun-if-changed={}", here.join(dir).display());
    }
    let target = out.join("preload-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER") // clippy's: the library is built, not linted, here
        .env_remove("RUSTC_WRAPPER")
        .status()
        .expect("cannot run cargo to build the preload library");
    assert!(status.success(), "building the preload library failed");
    let lib = target.join("release/libfakebox.so");
    let copy = out.join("libfakebox.so");
    std::fs::copy(&lib, &copy).expect("cannot copy libfakebox.so");
    println!("cargo:rustc-env=FAKEBOX_EMBEDDED_LIB={}", copy.display());
}
