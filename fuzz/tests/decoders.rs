//! The fuzz runs of proto's decoders: a short one in every `cargo test`, a long one with
//! `FAKEBOX_FUZZ_SECS=600 cargo test --release -p fakebox-fuzz -- --nocapture` (README
//! "Fuzzing"). A crash fails the test and leaves its input in fuzz/crashes/.
use fakebox_fuzz::{Budget, run, seeds, targets};

fn check(target: &str, iterations: u64, f: fn(&[u8]) -> u64) {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds in fuzz/corpus/{target}");
    let stats = run(target, seeds, Budget::from_env(iterations), f);
    assert!(stats.crashes.is_empty(), "{target}: crashes: {:?}", stats.crashes);
}

#[test]
fn fuzz_op() {
    check("op", 1_000_000, targets::op);
}

#[test]
fn fuzz_reply() {
    check("reply", 1_000_000, targets::reply);
}

#[test]
fn fuzz_elf() {
    check("elf", 300_000, targets::elf);
}

/// The seeds of every kept crash still pass (each is a fixed bug's input).
#[test]
fn kept_crashes_pass() {
    for (target, f) in [("op", targets::op as fn(&[u8]) -> u64), ("reply", targets::reply), ("elf", targets::elf)] {
        for input in seeds(&format!("regressions/{target}")) {
            f(&input);
        }
    }
}

/// Writes the wire seeds (one of every request and reply) into fuzz/corpus/: run by hand
/// after the wire format changes (`cargo test -p fakebox-fuzz -- --ignored write_seeds`).
#[test]
#[ignore]
fn write_seeds() {
    use fakebox_proto::ids::Cred;
    use fakebox_proto::{Birth, Fake, Key, Op, Real, Reply, wire};
    let real = Real {
        key: Key { dev: 2049, ino: 1 << 40 },
        birth: Some(Birth { sec: 1_700_000_000, nsec: 999 }),
        uid: 65534,
        gid: 65534,
        mode: 0o100644,
        rdev: 0,
        nlink: 1,
    };
    let big = vec![0x5a; 300];
    let ops = [
        Op::Hello { pid: 42 },
        Op::Attach { tid: 7, uid: Cred::all(0), gid: Cred { r: 1, e: 2, s: 3, fs: 4 } },
        Op::Join { unknown_is_real: true },
        Op::Leave,
        Op::MapTable,
        Op::Lookup { real },
        Op::Chown { real, uid: Some(0), gid: None },
        Op::Chmod { real, mode: 0o4755 },
        Op::Create { real, parent: Some(real), uid: 1, gid: 2, mode: 0o20644, rdev: 259 },
        Op::Unlinked { real: Real { birth: None, ..real } },
        Op::SetXattr { real, name: "security.capability", value: &big, flags: 1 },
        Op::GetXattr { real, name: "user.x" },
        Op::ListXattr { real },
        Op::RemoveXattr { real, name: "trusted.y" },
    ];
    let dir = fakebox_fuzz::dir().join("corpus");
    std::fs::create_dir_all(dir.join("op")).unwrap();
    std::fs::create_dir_all(dir.join("reply")).unwrap();
    let mut buf = vec![0u8; wire::MAX_FRAME + 4];
    for (i, op) in ops.iter().enumerate() {
        let n = wire::encode(op, &mut buf).unwrap();
        std::fs::write(dir.join("op").join(format!("{i:02}")), &buf[..n]).unwrap();
    }
    let replies = [
        Reply::Attrs(Fake { uid: 1, gid: 2, mode: 0o40755, rdev: 0 }),
        Reply::Done,
        Reply::Errno(61),
        Reply::Bytes(b"a\0bc\0"),
    ];
    for (i, r) in replies.iter().enumerate() {
        let n = wire::encode(r, &mut buf).unwrap();
        std::fs::write(dir.join("reply").join(format!("{i:02}")), &buf[4..n]).unwrap();
    }
}
