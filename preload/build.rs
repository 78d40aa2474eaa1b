//! Compiles the C shims for the variadic hooks (open, openat, execl...) that stable Rust
//! cannot define, and makes the linker export them: rustc's own version script keeps only
//! Rust's `#[no_mangle]` symbols, so `csrc/exports.map` adds the shims' names.
//!
//! It also links libgcc's unwinder (libgcc_eh.a) into the library, so that std's few
//! `_Unwind_*` references (backtraces; panics abort) no longer make every exec in a
//! session load libgcc_s.so.1 as well: about six page faults and ten system calls each.
fn main() {
    println!("cargo:rerun-if-changed=csrc/shims.c");
    println!("cargo:rerun-if-changed=csrc/exports.map");
    println!("cargo:rerun-if-changed=csrc/layout.ld");
    let mut build = cc::Build::new();
    // One section per function, so that csrc/layout.ld can place the exec shims.
    build.file("csrc/shims.c").flag("-fvisibility=hidden").flag("-ffunction-sections").warnings(true);
    let compiler = build.get_compiler();
    build.compile("fakebox_shims");
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
    // Defined here, ahead of std's `-lgcc_s`, the unwinder's symbols leave that library
    // unused, and `--as-needed` (rustc's default) drops it from DT_NEEDED. The version
    // script keeps them unexported. Without a libgcc_eh.a, the library keeps libgcc_s.
    if let Some(dir) = gcc_eh_dir(&compiler) {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static:+whole-archive,-bundle=gcc_eh");
    } else {
        println!("cargo:warning=libgcc_eh.a not found: libfakebox.so will need libgcc_s.so.1");
    }
}

fn gcc_eh_dir(compiler: &cc::Tool) -> Option<std::path::PathBuf> {
    let out = compiler.to_command().arg("-print-file-name=libgcc_eh.a").output().ok()?;
    let path = std::path::PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // The compiler prints the bare name when it has no such file.
    if !out.status.success() || !path.is_absolute() || !path.is_file() {
        return None;
    }
    path.parent().map(|p| p.to_path_buf())
}
