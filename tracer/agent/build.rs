//! Links the agent as a freestanding position-independent executable: no C runtime, no
//! libc, entry `agent_entry`. The tracer's build script turns it into a flat image.
fn main() {
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static-pie",
        "-Wl,-e,agent_entry",
        "-Wl,--gc-sections",
        "-Wl,-z,norelro",
        "-Wl,--build-id=none",
        "-Wl,-z,noexecstack",
        "-Wl,-z,max-page-size=4096",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
