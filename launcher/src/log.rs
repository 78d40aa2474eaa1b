//! The launcher's and daemon's log: silent unless `FAKEBOX_LOG=debug|trace` asks; to
//! `FAKEBOX_LOG_FILE` when set, else stderr.
use std::fmt::Arguments;
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(0);
static FILE: OnceLock<Option<std::fs::File>> = OnceLock::new();

pub fn init() {
    let level = match std::env::var(fakebox_proto::env::LOG).as_deref() {
        Ok("trace") => 2,
        Ok("debug") => 1,
        _ => 0,
    };
    LEVEL.store(level, Ordering::Relaxed);
    FILE.get_or_init(|| {
        let path = std::env::var_os(fakebox_proto::env::LOG_FILE)?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
    });
}

fn write(tag: &str, args: Arguments<'_>) {
    let line = format!("fakebox[{}] {tag}: {args}\n", std::process::id());
    match FILE.get().and_then(|f| f.as_ref()) {
        Some(mut f) => drop(f.write_all(line.as_bytes())),
        None => drop(std::io::stderr().write_all(line.as_bytes())),
    }
}

/// Something went wrong that the user should hear about even with logging off.
pub fn error(args: Arguments<'_>) {
    eprintln!("fakebox: {args}");
}

pub fn enabled() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 1
}

pub fn debug(args: Arguments<'_>) {
    if LEVEL.load(Ordering::Relaxed) >= 1 {
        write("debug", args);
    }
}

pub fn trace(args: Arguments<'_>) {
    if LEVEL.load(Ordering::Relaxed) >= 2 {
        write("trace", args);
    }
}
