//! The fuzz runs of the daemon's own decoders (the state file, its journal) and of its
//! table under any sequence of well-formed requests: a short run in every `cargo test`, a
//! long one with `FAKEBOX_FUZZ_SECS=600` (README "Fuzzing"). The engine and the seeds are
//! in fuzz/ (the `fakebox-fuzz` crate).
use super::state;
use super::table::{MAX_ENTRIES, MAX_XATTR_BYTES, Table};
use fakebox_fuzz::{Budget, run, seeds, shape_of, sig_of};
use fakebox_proto::{Op, wire};
use std::path::PathBuf;

fn scratch(name: &str) -> PathBuf {
    // Memory, not a disk: every input is written to a file.
    let base = if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let d = base.join(format!("fbfuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn within_limits(t: &Table) {
    assert!(t.len() <= MAX_ENTRIES, "{} entries", t.len());
    assert!(t.xattr_bytes() <= MAX_XATTR_BYTES, "{} xattr bytes", t.xattr_bytes());
}

/// A state file: loaded, or refused with a `fakebox:` reason; never a panic.
fn state_target(path: &std::path::Path, data: &[u8]) -> u64 {
    std::fs::write(path, data).unwrap();
    match state::load(path, false) {
        Ok(t) => {
            within_limits(&t);
            // Every entry loaded can be saved again (save itself fsyncs: too slow here).
            assert_eq!(t.entries().len(), t.len());
            1 + (t.len() as u64).min(16)
        }
        Err(e) => sig_of(&e.rsplit(": ").next().unwrap_or("").to_string()),
    }
}

/// A journal after a snapshot: the whole records replay, a torn tail ends the replay.
/// The first byte's low bit has the harness write each record's right CRC (a mutation
/// alone hardly ever does), so that the records' decoder gets to see the bodies.
fn journal_target(path: &std::path::Path, data: &[u8]) -> u64 {
    let Some((&flags, data)) = data.split_first() else { return 0 };
    let mut data = data.to_vec();
    if flags & 1 != 0 {
        let mut at = 0;
        while let Some(len) = data.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize) {
            let Some(body) = data.get(at + 8..(at + 8).saturating_add(len)) else { break };
            let crc = state::crc32(body).to_le_bytes();
            data[at + 4..at + 8].copy_from_slice(&crc);
            at += 8 + len;
        }
    }
    std::fs::write(state::journal_path(path), &data).unwrap();
    match state::load_with_journal(path, false) {
        Ok(t) => {
            within_limits(&t);
            1 + (t.len() as u64).min(32)
        }
        Err(e) => sig_of(&e.rsplit(": ").next().unwrap_or("").to_string()),
    }
}

/// Frames of requests, as a client sends them, applied to one table in turn.
fn table_target(data: &[u8]) -> u64 {
    let mut t = Table::new(false).unwrap();
    let mut out = Vec::new();
    let mut rest = data;
    let mut sig = 0u64;
    while let Some((header, body)) = rest.split_first_chunk::<4>() {
        let Ok(len) = wire::body_len(*header) else { break };
        let Some(body) = body.get(..len) else { break };
        rest = &rest[4 + len..];
        if let Ok(op) = wire::decode::<Op<'_>>(body) {
            let reply = t.apply(&op, &mut out);
            sig = sig.rotate_left(5) ^ shape_of(&reply);
        }
        within_limits(&t);
    }
    sig ^ (t.len() as u64).min(8)
}

#[test]
fn fuzz_state() {
    let d = scratch("state");
    let p = d.join("s");
    let stats = run("state", seeds("state"), Budget::from_env(3_000), |b| state_target(&p, b));
    std::fs::remove_dir_all(&d).unwrap();
    assert!(stats.crashes.is_empty(), "{:?}", stats.crashes);
}

#[test]
fn fuzz_journal() {
    let d = scratch("journal");
    let p = d.join("s");
    // The snapshot under the journal: one of the state seeds.
    std::fs::write(&p, seeds("state").first().expect("state seeds")).unwrap();
    let stats = run("journal", seeds("journal"), Budget::from_env(20_000), |b| journal_target(&p, b));
    std::fs::remove_dir_all(&d).unwrap();
    assert!(stats.crashes.is_empty(), "{:?}", stats.crashes);
}

#[test]
fn fuzz_table() {
    let stats = run("table", seeds("table"), Budget::from_env(10_000), table_target);
    assert!(stats.crashes.is_empty(), "{:?}", stats.crashes);
}

/// Writes the seeds of these targets into fuzz/corpus/ (by hand, after the state format
/// or the requests change: `cargo test -p fakebox -- --ignored write_daemon_seeds`).
#[test]
#[ignore]
fn write_daemon_seeds() {
    use fakebox_proto::{Birth, Key, Real};
    let dir = fakebox_fuzz::dir().join("corpus");
    for t in ["state", "journal", "table"] {
        std::fs::create_dir_all(dir.join(t)).unwrap();
    }
    let real = |ino| Real {
        key: Key { dev: 2049, ino },
        birth: Some(Birth { sec: 1_700_000_000, nsec: ino as u32 }),
        uid: 1000,
        gid: 1000,
        mode: if ino % 3 == 0 { 0o40755 } else { 0o100644 },
        rdev: 0,
        nlink: 1,
    };
    let ops = |i: u64| {
        [
            Op::Chown { real: real(i), uid: Some(i as u32), gid: Some(7) },
            Op::Chmod { real: real(i + 1), mode: 0o4755 },
            Op::Create { real: real(i + 2), parent: Some(real(3)), uid: 0, gid: 0, mode: 0o20600, rdev: 0x801 },
            Op::SetXattr { real: real(i + 3), name: "security.capability", value: b"\x01\0\0\x02", flags: 0 },
            Op::Unlinked { real: real(i + 1) },
        ]
    };
    let mut frames = Vec::new();
    let mut buf = vec![0u8; wire::MAX_FRAME + 4];
    for i in [1, 10] {
        for op in ops(i) {
            let n = wire::encode(&op, &mut buf).unwrap();
            frames.extend_from_slice(&buf[..n]);
        }
    }
    std::fs::write(dir.join("table").join("00"), &frames).unwrap();
    // Snapshots: empty, and a few entries; journals: the changes after them.
    let d = scratch("seeds");
    let p = d.join("s");
    let mut t = Table::new(false).unwrap();
    state::save(&p, &t).unwrap();
    std::fs::copy(&p, dir.join("state").join("00-empty")).unwrap();
    for op in ops(1) {
        t.apply(&op, &mut Vec::new());
    }
    state::save(&p, &t).unwrap();
    std::fs::copy(&p, dir.join("state").join("01-some")).unwrap();
    t.attach_journal(state::Journal::open(&p).unwrap());
    for op in ops(20) {
        t.apply(&op, &mut Vec::new());
    }
    drop(t);
    let journal = std::fs::read(state::journal_path(&p)).unwrap();
    for flags in [0u8, 1] {
        let seed = [&[flags][..], &journal].concat();
        std::fs::write(dir.join("journal").join(format!("{flags:02}")), seed).unwrap();
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// The inputs of fixed crashes still pass (fuzz/corpus/regressions/TARGET/).
#[test]
fn kept_daemon_crashes_pass() {
    let d = scratch("regressions");
    let p = d.join("s");
    for input in seeds("regressions/state") {
        state_target(&p, &input);
    }
    std::fs::write(&p, seeds("state").first().expect("state seeds")).unwrap();
    for input in seeds("regressions/journal") {
        journal_target(&p, &input);
    }
    for input in seeds("regressions/table") {
        table_target(&input);
    }
    std::fs::remove_dir_all(&d).unwrap();
}
