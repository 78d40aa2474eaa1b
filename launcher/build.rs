//! Builds the preload library and embeds it in the fakebox binary, so that a fakebox
//! installed alone (`cargo install --path launcher`) works: at run time the binary uses a
//! libfakebox.so found next to it, else writes out the embedded copy (see
//! `session::preload_library`). The library is built by a cargo of its own, in a target
//! directory under OUT_DIR, from the preload crate beside this one.
use std::path::PathBuf;

#[path = "../proto/build/nested_cargo.rs"]
mod nested_cargo;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let watch = ["../preload/src", "../preload/csrc", "../preload/build.rs", "../preload/Cargo.toml", "../proto"];
    let watch: Vec<PathBuf> = watch.iter().map(|d| here.join(d)).collect();
    let target = nested_cargo::build(&here.join("../preload/Cargo.toml"), &watch, "preload library", &[]);
    let lib = target.join("release/libfakebox.so");
    let copy = out.join("libfakebox.so");
    std::fs::copy(&lib, &copy).expect("cannot copy libfakebox.so");
    println!("cargo:rustc-env=FAKEBOX_EMBEDDED_LIB={}", copy.display());
}
