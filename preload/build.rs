//! Compiles the C shims for the variadic hooks (open, openat, execl...) that stable Rust
//! cannot define, and makes the linker export them: rustc's own version script keeps only
//! Rust's `#[no_mangle]` symbols, so `csrc/exports.map` adds the shims' names.
fn main() {
    println!("cargo:rerun-if-changed=csrc/shims.c");
    println!("cargo:rerun-if-changed=csrc/exports.map");
    cc::Build::new().file("csrc/shims.c").flag("-fvisibility=hidden").warnings(true).compile("fakebox_shims");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let map = format!("{dir}/csrc/exports.map");
    for line in std::fs::read_to_string(&map).unwrap().lines() {
        let sym = line.trim().trim_end_matches(';');
        if !sym.is_empty() && !sym.contains(['{', '}', ':', '#']) {
            println!("cargo:rustc-cdylib-link-arg=-Wl,--undefined={sym}");
        }
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={map}");
}
