//! A small mutation fuzzer that runs on stable Rust (cargo fuzz needs a nightly compiler
//! and libFuzzer; see README "Fuzzing"). No coverage: a target returns a signature of what
//! it made of an input (which variant, which error), and an input with a signature not
//! seen before joins the corpus, so that mutations start from every kind of answer.
//!
//! Deterministic: the same seed, corpus and budget try the same inputs. A panic is a
//! crash: the input is written to `fuzz/crashes/` (its name says the target), the run
//! goes on, and the run's result lists the crashes. An input that runs longer than
//! [`HANG`] is written there too, and the process is aborted (a hang kills a daemon as
//! surely as a panic).
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest one input may take.
pub const HANG: Duration = Duration::from_secs(10);
/// Inputs kept in the corpus at most (the seeds always stay).
const CORPUS_MAX: usize = 4096;
/// Mutated inputs grow to this many bytes at most.
const INPUT_MAX: usize = 1 << 17;

/// xorshift64*: deterministic, and enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Values that break length and offset arithmetic, in every width.
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0x8000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
    250,
    251,
    252,
    253,
    254,
    4096,
    65536,
    80 * 1024,
];

/// One mutation of `data` (in place); `other` is another corpus input, for splicing.
pub fn mutate(data: &mut Vec<u8>, other: &[u8], rng: &mut Rng) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        match rng.below(11) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next_u64() as u8;
            }
            2 if data.len() < INPUT_MAX => {
                let i = rng.below(data.len() + 1);
                let n = 1 + rng.below(16);
                for _ in 0..n {
                    data.insert(i, rng.next_u64() as u8);
                }
            }
            3 if !data.is_empty() => {
                let i = rng.below(data.len());
                let n = 1 + rng.below((data.len() - i).min(32));
                data.drain(i..i + n);
            }
            4 if !data.is_empty() => {
                // An interesting value, little-endian, of 1, 2, 4 or 8 bytes (a length field).
                let w = [1, 2, 4, 8][rng.below(4)];
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let i = rng.below(data.len());
                let n = w.min(data.len() - i);
                data[i..i + n].copy_from_slice(&v[..n]);
            }
            5 if !data.is_empty() => {
                // bincode's varint: a one-byte value, or a 251..=254 marker and its width.
                let i = rng.below(data.len());
                data[i] = [0, 1, 250, 251, 252, 253, 254, 255][rng.below(8)];
            }
            6 if !data.is_empty() => {
                // Add or subtract a little (an off-by-one length).
                let i = rng.below(data.len());
                let d = rng.below(35) as u8;
                data[i] = if rng.below(2) == 0 { data[i].wrapping_add(d) } else { data[i].wrapping_sub(d) };
            }
            7 if !other.is_empty() => {
                // Splice: the start of this one, the end of another.
                let i = rng.below(data.len() + 1);
                let j = rng.below(other.len());
                data.truncate(i);
                data.extend_from_slice(&other[j..]);
                data.truncate(INPUT_MAX);
            }
            8 if !data.is_empty() => {
                // Copy a block within the input (repeats a record, a header).
                let i = rng.below(data.len());
                let n = 1 + rng.below((data.len() - i).min(64));
                let block = data[i..i + n].to_vec();
                let j = rng.below(data.len() + 1);
                if data.len() + n <= INPUT_MAX {
                    data.splice(j..j, block);
                }
            }
            9 if !data.is_empty() => {
                let cut = rng.below(data.len());
                data.truncate(cut);
            }
            _ => {
                // Overwrite with a block of one byte (zeros, 0xff).
                if !data.is_empty() {
                    let i = rng.below(data.len());
                    let n = 1 + rng.below((data.len() - i).min(16));
                    let b = [0u8, 0xff, 0x41][rng.below(3)];
                    data[i..i + n].fill(b);
                }
            }
        }
    }
}

/// How long a run goes on: `FAKEBOX_FUZZ_SECS` seconds if set (the long runs), else
/// `iterations` inputs (the short run every `cargo test` makes).
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    Iterations(u64),
    Time(Duration),
}

impl Budget {
    pub fn from_env(iterations: u64) -> Budget {
        match std::env::var("FAKEBOX_FUZZ_SECS").ok().and_then(|s| s.parse().ok()) {
            Some(secs) => Budget::Time(Duration::from_secs(secs)),
            None => Budget::Iterations(iterations),
        }
    }
}

#[derive(Debug, Default)]
pub struct Stats {
    pub tried: u64,
    pub corpus: usize,
    pub signatures: usize,
    pub crashes: Vec<PathBuf>,
    pub elapsed: Duration,
}

/// The repository's fuzz/ folder (seeds under corpus/, crashes under crashes/).
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The seeds kept in `fuzz/corpus/<target>/`, sorted by name.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let d = dir().join("corpus").join(target);
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&d) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn hash(data: &[u8]) -> u64 {
    // FNV-1a: names crash files.
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn save_crash(target: &str, data: &[u8], kind: &str) -> PathBuf {
    let d = dir().join("crashes");
    let _ = std::fs::create_dir_all(&d);
    let p = d.join(format!("{target}-{kind}-{:016x}", hash(data)));
    let _ = std::fs::write(&p, data);
    p
}

/// Runs `target` over the seeds, then over mutations of the corpus, within `budget`.
/// `target` returns a signature of its answer (see the module's comment).
pub fn run(target: &str, seeds: Vec<Vec<u8>>, budget: Budget, f: impl Fn(&[u8]) -> u64) -> Stats {
    let mut corpus = if seeds.is_empty() { vec![Vec::new()] } else { seeds };
    let nseeds = corpus.len();
    let mut seen = HashSet::new();
    let mut stats = Stats::default();
    let mut rng = Rng::new(0x5eed ^ hash(target.as_bytes()));
    // A watchdog: an input that takes longer than HANG is saved, then the process aborts.
    let current: Arc<Mutex<Vec<u8>>> = Arc::default();
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    {
        let (current, progress, done, target) = (current.clone(), progress.clone(), done.clone(), target.to_string());
        std::thread::spawn(move || {
            let mut last = (0, Instant::now());
            while done.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(200));
                let p = progress.load(Ordering::Relaxed);
                if p != last.0 {
                    last = (p, Instant::now());
                } else if last.1.elapsed() > HANG {
                    let data = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let path = save_crash(&target, &data, "hang");
                    eprintln!("fuzz {target}: an input ran longer than {HANG:?}: {}", path.display());
                    std::process::abort();
                }
            }
        });
    }
    let start = Instant::now();
    let mut input = Vec::new();
    let mut i = 0u64;
    loop {
        let over = match budget {
            Budget::Iterations(n) => i >= n.max(nseeds as u64),
            Budget::Time(t) => start.elapsed() >= t && i >= nseeds as u64,
        };
        if over {
            break;
        }
        input.clear();
        if (i as usize) < nseeds {
            input.extend_from_slice(&corpus[i as usize]);
        } else {
            let a = rng.below(corpus.len());
            let b = rng.below(corpus.len());
            input.extend_from_slice(&corpus[a]);
            mutate(&mut input, &corpus[b], &mut rng);
        }
        // Cheap enough: the watchdog needs the input only when it hangs, but then it has it.
        if let Ok(mut c) = current.lock() {
            c.clear();
            c.extend_from_slice(&input);
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&input)));
        progress.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(sig) => {
                if seen.insert(sig) && (i as usize) >= nseeds {
                    if corpus.len() >= CORPUS_MAX {
                        // Full: in place of one that is not a seed (if there is one).
                        if corpus.len() > nseeds {
                            let victim = nseeds + rng.below(corpus.len() - nseeds);
                            corpus[victim] = input.clone();
                        }
                    } else {
                        corpus.push(input.clone());
                    }
                }
            }
            Err(_) => {
                let p = save_crash(target, &input, "panic");
                eprintln!("fuzz {target}: crash: {}", p.display());
                stats.crashes.push(p);
            }
        }
        i += 1;
    }
    done.store(1, Ordering::Relaxed);
    stats.tried = i;
    stats.corpus = corpus.len();
    stats.signatures = seen.len();
    stats.elapsed = start.elapsed();
    eprintln!(
        "fuzz {target}: {} inputs in {:.1}s, {} signatures, corpus {}, {} crashes",
        stats.tried,
        stats.elapsed.as_secs_f64(),
        stats.signatures,
        stats.corpus,
        stats.crashes.len()
    );
    stats
}

/// A signature from any Debug-printable answer (its text, hashed).
pub fn sig_of(v: &impl std::fmt::Debug) -> u64 {
    hash(format!("{v:?}").as_bytes())
}

/// A signature from an answer's shape only: its text up to the first `(` or `{` (the
/// variant), so that values do not flood the corpus.
pub fn shape_of(v: &impl std::fmt::Debug) -> u64 {
    let s = format!("{v:?}");
    let end = s.find(['(', '{', ' ']).unwrap_or(s.len());
    hash(&s.as_bytes()[..end])
}

/// The harnesses for proto's decoders; the launcher's tests have the state's.
pub mod targets {
    use fakebox_proto::elf::{self, ReadAt};
    use fakebox_proto::mechanism::{self, Program};
    use fakebox_proto::{Op, Reply, wire};

    /// The wire decoder of every request: a frame (header and body) as the daemon reads it.
    pub fn op(data: &[u8]) -> u64 {
        let Some((header, body)) = data.split_first_chunk::<4>() else { return 1 };
        let Ok(len) = wire::body_len(*header) else { return 2 };
        let body = &body[..len.min(body.len())];
        match wire::decode::<Op<'_>>(body) {
            Ok(op) => {
                // What the daemon does with it next: re-encode (for the journal's sake) and
                // compare, and ask for its inode.
                let mut buf = vec![0u8; wire::MAX_FRAME + 4];
                let n = wire::encode(&op, &mut buf).expect("a decoded request encodes");
                assert_eq!(wire::decode::<Op<'_>>(&buf[4..n]).expect("re-decodes"), op);
                let _ = op.real();
                super::shape_of(&op)
            }
            Err(e) => super::sig_of(&e) ^ 3,
        }
    }

    /// The wire decoder of replies (what a client reads from the daemon).
    pub fn reply(data: &[u8]) -> u64 {
        match wire::decode::<Reply<'_>>(data) {
            Ok(r) => {
                let mut buf = vec![0u8; wire::MAX_FRAME + 4];
                let n = wire::encode(&r, &mut buf).expect("a decoded reply encodes");
                assert_eq!(wire::decode::<Reply<'_>>(&buf[4..n]).expect("re-decodes"), r);
                super::shape_of(&r) ^ (data.len() as u64).min(8)
            }
            Err(e) => super::sig_of(&e),
        }
    }

    /// A reader that counts its reads: the sniffer reads a bounded number of times,
    /// whatever the file says.
    struct Counted<'a>(&'a [u8], u32);

    impl ReadAt for Counted<'_> {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
            self.1 += 1;
            let mut s = self.0;
            s.read_at(offset, buf)
        }
    }

    /// The ELF sniffer and the mechanism rule. The first byte says what the caller knows
    /// (privileged, how many `#!` lines led here, whether it could read the file), the rest
    /// is the file; its first 4096 bytes are the head, as the launcher reads it.
    pub fn elf(data: &[u8]) -> u64 {
        let Some((&flags, file)) = data.split_first() else { return 0 };
        let head = &file[..file.len().min(4096)];
        let mut r = Counted(file, 0);
        let kind = elf::classify(head, &mut r);
        let reads = r.1;
        assert!(reads < 4096, "the sniffer read {reads} times");
        if let elf::Exec::Script { interp, arg } = kind {
            assert!(interp.0 <= interp.1 && interp.1 <= head.len(), "{interp:?}");
            if let Some(a) = arg {
                assert!(a.0 <= a.1 && a.1 <= head.len(), "{a:?}");
            }
        }
        let program = Program {
            head: (flags & 0x80 == 0).then_some(head),
            privileged: flags & 1 != 0,
            scripts: u32::from(flags >> 1 & 7),
        };
        let mut r = Counted(file, 0);
        let m = mechanism::decide(program, &mut r);
        if let elf::Exec::Elf(e) = kind {
            let _ = (e.describe(), e.preload_reaches());
        }
        super::sig_of(&kind) ^ super::sig_of(&m).rotate_left(1)
    }
}
