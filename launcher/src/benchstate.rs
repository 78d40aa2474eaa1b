//! `fakebox __bench-state N PATH`: measures the table at scale for `bench/state.sh`
//! (issue "Speed": a million recorded inodes in memory, saved and loaded). Not a test:
//! it prints what it measured.
use crate::daemon::state;
use crate::daemon::table::{Entry, Table};
use fakebox_proto::{Birth, Key};
use std::time::Instant;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn main(args: &[std::ffi::OsString]) -> ! {
    let n: u64 = args.first().and_then(|a| a.to_str()?.parse().ok()).unwrap_or(1_000_000);
    let path = std::path::PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "bench-state".into()));
    let before = rss_kib();
    let mut t = Table::new(false).expect("table");
    let start = Instant::now();
    for i in 0..n {
        let e = Entry {
            uid: (i % 5000) as u32,
            gid: (i % 300) as u32,
            mode: 0o100644 | (i as u32 & 0o4000),
            rdev: 0,
            birth: Some(Birth { sec: 1_700_000_000 + i as i64, nsec: 0 }),
            xattrs: Vec::new(),
        };
        t.insert(Key { dev: 2049, ino: 1_000_000 + i * 7 }, e);
    }
    let filled = start.elapsed();
    let rss = rss_kib() - before;
    let start = Instant::now();
    state::save(&path, &t).expect("save");
    let saved = start.elapsed();
    drop(t);
    let start = Instant::now();
    let back = state::load_with_journal(&path, false).expect("load");
    let loaded = start.elapsed();
    assert_eq!(back.len() as u64, n);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "entries {n}: memory {:.1} MiB (resident, daemon side), insert {:.2} s, save {:.2} s ({:.1} MiB file), load {:.2} s",
        rss as f64 / 1024.0,
        filled.as_secs_f64(),
        saved.as_secs_f64(),
        size as f64 / 1048576.0,
        loaded.as_secs_f64()
    );
    let _ = std::fs::remove_file(&path);
    std::process::exit(0)
}
