//! Compiles the C shims for the variadic hooks (open, openat, execl...) that stable Rust
//! cannot define, and makes the linker export them: rustc's own version script keeps only
//! Rust's `#[no_mangle]` symbols, so `csrc/exports.map` adds the shims' names.
fn main() {
    println!("cargo:rerun-if-changed=csrc/shims.c");
    println!("cargo:rerun-if-changed=csrc/exports.map");
    println!("cargo:rerun-if-changed=csrc/layout.ld");
    println!("cargo:rerun-if-changed=csrc/unwind.c");
    let mut build = cc::Build::new();
    // One section per function, so that csrc/layout.ld can place the exec shims.
    build.file("csrc/shims.c").flag("-fvisibility=hidden").flag("-ffunction-sections").warnings(true);
    build.compile("fakebox_shims");
    // What std would define, for the library only: the unit tests link std.
    let out = std::env::var("OUT_DIR").unwrap();
    cc::Build::new().file("csrc/unwind.c").flag("-fvisibility=hidden").cargo_metadata(false).compile("fakebox_unwind");
    println!("cargo:rustc-cdylib-link-arg={out}/libfakebox_unwind.a");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let map = format!("{dir}/csrc/exports.map");
    for line in std::fs::read_to_string(&map).unwrap().lines() {
        let sym = line.trim().trim_end_matches(';');
        if !sym.is_empty() && !sym.contains(['{', '}', ':', '#']) {
            println!("cargo:rustc-cdylib-link-arg=-Wl,--undefined={sym}");
        }
    }
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={map}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-T,{dir}/csrc/layout.ld");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,separate-loadable-segments");
    // Headers, symbol tables and read-only data share the code's segment (GNU ld's layout
    // before -z separate-code): the loader reads the tables and runs the load path in one
    // mapping, which one page fault brings in, where two mappings took two in every exec.
    // The price is that those bytes are executable too; RELRO stays.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--no-rosegment");
    // Without std nothing else names glibc (the libc crate leaves linking to std), and the
    // library's references should bind to glibc's versions as a C library's do.
    println!("cargo:rustc-link-lib=dylib=c");
}
