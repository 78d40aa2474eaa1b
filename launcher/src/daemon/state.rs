//! The `--state` file: a versioned snapshot of the table, replaced atomically, and its
//! journal `STATE.journal`, where every change is appended before the client hears back.
//!
//! Snapshot: the 16-byte magic `FAKEBOX-STATE\0\0\0`, a little-endian u32 format version,
//! then a bincode 2 (standard config) `Vec<(Key, Entry)>`.
//! Journal: the 16-byte magic `FAKEBOX-JOURNAL\0` and a little-endian u32 version (2; a
//! journal without them is format 1, records only, and still read), then records of a
//! little-endian u32 length, a u32 CRC-32 of the body, and the body, a bincode 2
//! `(Key, Option<Entry>)`: the entry as it is after the change (None: gone).
//! Replaying is idempotent. A record cut short by a crash ends the replay, and the next
//! daemon cuts it off before appending; the snapshot must be whole. Decoding any bytes
//! gives data or an error, with memory bounded by the input's size. A change is written
//! to the journal (the page cache) before it is acknowledged, so a killed process loses
//! nothing, and a change the journal cannot take is refused (EIO); the journal is fsynced
//! at least once a second, so a power loss loses at most the last second.
use super::table::{Entry, Table};
use fakebox_proto::Key;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"FAKEBOX-STATE\0\0\0";
const DAMAGED: &str = "truncated or corrupt, so it is not used: restore it from a backup, or move it away to start \
    afresh (the fake owners it held are then lost)";
pub const VERSION: u32 = 1;
/// The journal's header (format 2 on): this magic and a little-endian u32 version. A
/// journal without it is format 1 (records from the first byte), which is still read.
const JOURNAL_MAGIC: &[u8; 16] = b"FAKEBOX-JOURNAL\0";
pub const JOURNAL_VERSION: u32 = 2;
const JOURNAL_HEADER: usize = 20;

/// Decodes a bincode 2 (standard) value from `bytes` with a limit on what it may claim, so
/// that a corrupt length field fails instead of allocating without bound. bincode counts
/// against the limit each value's size in memory (8 for a u64 that took one byte), so
/// whole input claims at most 8 bytes a byte: the limit is the smallest power of 4 (from
/// 8 KiB) at least that, and no length the decoder believes makes it allocate more than
/// 32 times the input (serde preallocates at most 1 MiB for a list whatever its length
/// says).
fn decode_bounded<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<(T, usize)> {
    let claims = bytes.len().checked_mul(8)?;
    macro_rules! within {
        ($($k:literal)*) => {
            $(
                if claims <= 1usize << $k {
                    let cfg = bincode::config::standard().with_limit::<{ 1usize << $k }>();
                    return bincode::serde::decode_from_slice(bytes, cfg).ok();
                }
            )*
        };
    }
    within!(13 15 17 19 21 23 25 27 29 31 33 35 37 39);
    None
}

/// The entries of a snapshot (the whole file), or why it cannot be used.
pub fn decode_snapshot(bytes: &[u8]) -> Result<Vec<(Key, Entry)>, String> {
    if bytes.len() < 20 || &bytes[..16] != MAGIC {
        return Err("not a fakebox state file".into());
    }
    let version = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    if version > VERSION {
        return Err(format!(
            "format version {version} is newer than this fakebox reads ({VERSION}); use a newer fakebox"
        ));
    }
    match decode_bounded::<Vec<(Key, Entry)>>(&bytes[20..]) {
        Some((entries, used)) if used == bytes.len() - 20 => Ok(entries),
        _ => Err(DAMAGED.into()),
    }
}

/// Replays a journal's whole records through `each`, in order; returns the length of its
/// whole part (header and records), where a record torn by a crash (or anything after
/// it) begins. Fails only on a header of a version this fakebox cannot read.
pub fn decode_journal(bytes: &[u8], mut each: impl FnMut(Key, Option<Entry>)) -> Result<usize, String> {
    let mut at = if bytes.starts_with(JOURNAL_MAGIC) {
        let Some(v) = bytes.get(16..JOURNAL_HEADER) else { return Ok(0) }; // torn in its header
        let version = u32::from_le_bytes([v[0], v[1], v[2], v[3]]);
        if version > JOURNAL_VERSION {
            return Err(format!(
                "journal format version {version} is newer than this fakebox reads ({JOURNAL_VERSION}); use a newer fakebox"
            ));
        }
        if version < 2 {
            return Err(format!("journal format version {version} does not exist: {DAMAGED}"));
        }
        JOURNAL_HEADER
    } else {
        0 // format 1: no header
    };
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = bytes.get(at + 8..).and_then(|b| b.get(..len)) else { break };
        if crc32(body) != crc {
            break;
        }
        match decode_bounded::<(Key, Option<Entry>)>(body) {
            Some(((k, e), used)) if used == len => each(k, e),
            _ => break,
        }
        at += 8 + len;
    }
    Ok(at)
}

/// The bytes of `f`, at most as many as its size says (a device never ends).
fn read_all(f: &mut File) -> std::io::Result<Vec<u8>> {
    let size = f.metadata()?.len();
    let mut bytes = Vec::new();
    f.take(size).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The file a `--state` path names: symbolic links followed to the end (the last may
/// point at nothing yet), as the canonical directory plus a name. Every name of one file
/// (a symlink, `./s` or `s`) gives the same; saving replaces this path, so a symlink
/// stays a symlink.
pub fn resolve(state: &Path) -> Result<PathBuf, String> {
    let mut p = state.to_path_buf();
    for _ in 0..40 {
        let name = p.file_name().ok_or_else(|| format!("{}: not a file name", p.display()))?.to_owned();
        let parent = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let parent = parent.canonicalize().map_err(|e| format!("{}: {e}", parent.display()))?;
        let here = parent.join(&name);
        match fs::symlink_metadata(&here) {
            Ok(m) if m.file_type().is_symlink() => {
                p = parent.join(fs::read_link(&here).map_err(|e| format!("{}: {e}", here.display()))?);
            }
            _ => return Ok(here),
        }
    }
    Err(format!("{}: too many levels of symbolic links", state.display()))
}

/// What the fakeroot front tells a user who gives `--state` a fakeroot save file.
pub const FAKEROOT_FILE: &str = "a save file of fakeroot (fakeroot -s), not a fakebox state file: \
    `fakebox import-state --from fakeroot FILE --state NEW` converts it (and the fakeroot front, \
    `fakeroot -i FILE`, reads it as it is)";

/// Loads `path` into a new table. A missing or empty file (made by `mktemp` or `touch`)
/// is an empty table; a file that cannot be read or understood is an error (never a
/// silent empty start, which would make wrong archives).
pub fn load(path: &Path, unknown_is_real: bool) -> Result<Table, String> {
    let mut table = Table::new(unknown_is_real).map_err(|e| format!("cannot make the shared table: {e}"))?;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let bytes = read_all(&mut f).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.is_empty() {
        return Ok(table);
    }
    if super::import::is_fakeroot(&bytes) {
        return Err(format!("{}: {FAKEROOT_FILE}", path.display()));
    }
    if super::import::is_sqlite(&bytes) {
        return Err(format!(
            "{}: an SQLite database (pseudo's files.db?), not a fakebox state file: `fakebox import-state --from pseudo FILE --state NEW` converts a pseudo database",
            path.display()
        ));
    }
    for (k, e) in decode_snapshot(&bytes).map_err(|why| format!("{}: {why}", path.display()))? {
        table.insert(k, e);
    }
    if let Some(why) = table.over_limits() {
        return Err(format!("{}: {why}", path.display()));
    }
    Ok(table)
}

/// Loads a table to start from: a fakebox state file (with its journal) or a fakeroot
/// save file; a missing file is an error (it names nothing to start from), an empty one
/// an empty table. Errors name `path`.
pub fn load_any(path: &Path, unknown_is_real: bool) -> Result<Table, String> {
    let at = |e: std::io::Error| format!("{}: {e}", path.display());
    let bytes = File::open(path).and_then(|mut f| read_all(&mut f)).map_err(at)?;
    if !super::import::is_fakeroot(&bytes) {
        return load_with_journal(path, unknown_is_real);
    }
    let entries = super::import::decode_fakeroot(&bytes).map_err(|why| format!("{}: {why}", path.display()))?;
    let mut table = Table::new(unknown_is_real).map_err(|e| format!("cannot make the shared table: {e}"))?;
    for (k, e) in entries {
        table.insert(k, e);
    }
    Ok(table)
}

/// The journal beside a state file.
pub fn journal_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".journal");
    p.into()
}

/// Loads the snapshot, then replays the journal over it.
pub fn load_with_journal(path: &Path, unknown_is_real: bool) -> Result<Table, String> {
    let path = &resolve(path)?;
    let mut table = load(path, unknown_is_real)?;
    let jp = journal_path(path);
    let bytes = match File::open(&jp).and_then(|mut f| read_all(&mut f)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
        Err(e) => return Err(format!("{}: {e}", jp.display())),
    };
    decode_journal(&bytes, |k, e| match e {
        Some(e) => table.insert(k, e),
        None => table.forget(k),
    })
    .map_err(|why| format!("{}: {why}", jp.display()))?;
    if let Some(why) = table.over_limits() {
        return Err(format!("{}: {why}", jp.display()));
    }
    Ok(table)
}

/// The append-only journal of a state file.
pub struct Journal {
    file: File,
    path: PathBuf,
    /// Written since the last fsync.
    pub dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The length of its whole records: a failed append is cut back to it.
    len: u64,
    /// The file begins with the header (or is a format 1 journal with records): the
    /// next append need not write one.
    headed: bool,
    /// Why an append failed and the journal could not be cut back to its whole
    /// records: nothing may be appended after a torn record, so every change is refused.
    broken: Option<String>,
    /// The first append that failed: the sessions hear of it as they leave.
    failure: Option<String>,
}

impl Journal {
    /// Opens the journal of `state` for appending, after cutting off a record torn by a
    /// crash (what is appended after one would never be read). Must run while nothing
    /// else appends: under the lock of the state's daemon.
    pub fn open(state: &Path) -> Result<Journal, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = journal_path(state);
        let at = |e: std::io::Error| format!("{}: {e}", path.display());
        let mut file =
            fs::OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(&path).map_err(at)?;
        let bytes = read_all(&mut file).map_err(at)?;
        let whole = decode_journal(&bytes, |_, _| {}).map_err(|why| format!("{}: {why}", path.display()))?;
        if whole < bytes.len() {
            file.set_len(whole as u64).and_then(|()| file.sync_data()).map_err(at)?;
        }
        Ok(Journal {
            file,
            path,
            dirty: Default::default(),
            len: whole as u64,
            headed: whole > 0,
            broken: None,
            failure: None,
        })
    }

    /// Appends the entry for `key` as it is now (None: gone), in one write. An error (a
    /// full disk) means the change is not recorded: the caller must not make it.
    pub fn append(&mut self, key: Key, entry: Option<&Entry>) -> Result<(), String> {
        if let Some(why) = &self.broken {
            return Err(why.clone());
        }
        let body = bincode::serde::encode_to_vec((key, entry), bincode::config::standard())
            .map_err(|e| format!("cannot encode a journal record: {e}"))?;
        let mut rec = Vec::with_capacity(JOURNAL_HEADER + 8 + body.len());
        if !self.headed {
            rec.extend_from_slice(JOURNAL_MAGIC);
            rec.extend_from_slice(&JOURNAL_VERSION.to_le_bytes());
        }
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32(&body).to_le_bytes());
        rec.extend_from_slice(&body);
        match self.file.write_all(&rec) {
            Ok(()) => {
                self.len += rec.len() as u64;
                self.headed = true;
                self.dirty.store(true, std::sync::atomic::Ordering::Release);
                Ok(())
            }
            Err(e) => {
                let why = format!("cannot write the journal {}: {e}", self.path.display());
                // Part of the record may be there: cut it off, or nothing may follow.
                if let Err(e2) = self.file.set_len(self.len) {
                    self.broken = Some(format!("{why}; nor cut it back to its last whole record: {e2}"));
                }
                if self.failure.is_none() {
                    crate::log::error(format_args!("{why}; the change was refused (EIO)"));
                    self.failure = Some(why.clone());
                }
                Err(why)
            }
        }
    }

    /// The first append that failed, if one did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// A second handle to the same file, for fsyncs outside the table's lock.
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// After a snapshot that holds everything: empty the journal.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.len = 0;
        self.headed = false;
        self.broken = None;
        self.file.sync_all()
    }
}

/// CRC-32 (IEEE), bitwise: journal records are small.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Writes the table to `path` atomically: a temporary file beside it, fsync, rename, fsync
/// of the directory. The file is private to the user (0600). A symlink is followed: the
/// file it names is replaced, the link stays.
pub fn save(path: &Path, table: &Table) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = &resolve(path)?;
    let entries: Vec<(Key, Entry)> = table.entries();
    let mut bytes = Vec::with_capacity(20 + entries.len() * 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    let body = bincode::serde::encode_to_vec(&entries, bincode::config::standard()).map_err(|e| e.to_string())?;
    bytes.extend_from_slice(&body);
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let res = (|| {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    res.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        format!("{}: {e}", path.display())
    })
}

/// The largest single allocation a thread asked for while it watched (tests of bounded
/// decoding): a global allocator that forwards to the system's.
#[cfg(test)]
mod watch {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static WATCHING: Cell<bool> = const { Cell::new(false) };
        static LARGEST: Cell<usize> = const { Cell::new(0) };
    }

    struct Watch;

    // SAFETY: forwards every call to the system allocator unchanged; the thread-locals are
    // const-initialised Cells (no allocation, no destructor).
    unsafe impl GlobalAlloc for Watch {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            note(l.size());
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(l) }
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            note(l.size());
            // SAFETY: as above.
            unsafe { System.alloc_zeroed(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            // SAFETY: as above.
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            note(new);
            // SAFETY: as above.
            unsafe { System.realloc(p, l, new) }
        }
    }

    fn note(n: usize) {
        let _ = WATCHING.try_with(|w| {
            if w.get() {
                let _ = LARGEST.try_with(|m| m.set(m.get().max(n)));
            }
        });
    }

    #[global_allocator]
    static WATCH: Watch = Watch;

    /// Runs `f` and returns the largest single allocation it made on this thread.
    pub fn largest<R>(f: impl FnOnce() -> R) -> (R, usize) {
        LARGEST.with(|m| m.set(0));
        WATCHING.with(|w| w.set(true));
        let r = f();
        WATCHING.with(|w| w.set(false));
        (r, LARGEST.with(|m| m.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fakebox_proto::{Op, Real};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fbstate-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn real(ino: u64) -> Real {
        Real { key: Key { dev: 1, ino }, birth: None, uid: 1, gid: 1, mode: 0o100644, rdev: 0, nlink: 1 }
    }

    fn chown(t: &mut Table, ino: u64, uid: u32) -> fakebox_proto::Reply<'static> {
        match t.apply(&Op::Chown { real: real(ino), uid: Some(uid), gid: None }, &mut Vec::new()) {
            fakebox_proto::Reply::Attrs(f) => fakebox_proto::Reply::Attrs(f),
            fakebox_proto::Reply::Errno(e) => fakebox_proto::Reply::Errno(e),
            other => panic!("{other:?}"),
        }
    }

    fn uid_of(t: &mut Table, ino: u64) -> u32 {
        match t.apply(&Op::Lookup { real: real(ino) }, &mut Vec::new()) {
            fakebox_proto::Reply::Attrs(f) => f.uid,
            other => panic!("{other:?}"),
        }
    }

    /// A tiny deterministic PRNG (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    #[test]
    fn a_torn_journal_is_cut_before_the_next_append() {
        let dir = scratch("torn");
        let p = dir.join("s");
        let mut t = Table::new(false).unwrap();
        t.attach_journal(Journal::open(&p).unwrap());
        chown(&mut t, 1, 11);
        drop(t);
        // A crash in the middle of an append.
        let jp = journal_path(&p);
        let mut f = fs::OpenOptions::new().append(true).open(&jp).unwrap();
        f.write_all(b"xyz").unwrap();
        drop(f);
        // The next daemon loads, appends a change and is killed before it saves.
        let mut t = load_with_journal(&p, false).unwrap();
        assert_eq!(uid_of(&mut t, 1), 11);
        t.attach_journal(Journal::open(&p).unwrap());
        chown(&mut t, 2, 22);
        drop(t);
        let mut back = load_with_journal(&p, false).unwrap();
        assert_eq!((uid_of(&mut back, 1), uid_of(&mut back, 2)), (11, 22), "the change after the torn record is lost");
        // A journal torn inside its header is empty, and gets a whole header again.
        let bytes = fs::read(&jp).unwrap();
        assert_eq!(&bytes[..16], JOURNAL_MAGIC);
        fs::write(&jp, &bytes[..10]).unwrap();
        let mut t = load(&p, false).unwrap();
        t.attach_journal(Journal::open(&p).unwrap());
        chown(&mut t, 3, 33);
        drop(t);
        let mut back = load_with_journal(&p, false).unwrap();
        assert_eq!((back.len(), uid_of(&mut back, 3)), (1, 33));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_format_1_journal_is_still_read_and_continued() {
        let dir = scratch("v1");
        let p = dir.join("s");
        // Format 1: records from the first byte, no header.
        let mut old = Vec::new();
        for (ino, uid) in [(1u64, 10u32), (2, 20)] {
            let e = Entry { uid, gid: 1, mode: 0o100644, rdev: 0, birth: None, xattrs: Vec::new() };
            let body =
                bincode::serde::encode_to_vec((Key { dev: 1, ino }, Some(&e)), bincode::config::standard()).unwrap();
            old.extend_from_slice(&(body.len() as u32).to_le_bytes());
            old.extend_from_slice(&crc32(&body).to_le_bytes());
            old.extend_from_slice(&body);
        }
        fs::write(journal_path(&p), &old).unwrap();
        let mut t = load_with_journal(&p, false).unwrap();
        assert_eq!((uid_of(&mut t, 1), uid_of(&mut t, 2)), (10, 20));
        t.attach_journal(Journal::open(&p).unwrap());
        chown(&mut t, 3, 30);
        drop(t);
        let mut back = load_with_journal(&p, false).unwrap();
        assert_eq!((uid_of(&mut back, 1), uid_of(&mut back, 3)), (10, 30));
        // A header of a newer version is refused, naming the file.
        let mut newer = JOURNAL_MAGIC.to_vec();
        newer.extend_from_slice(&(JOURNAL_VERSION + 1).to_le_bytes());
        fs::write(journal_path(&p), &newer).unwrap();
        let e = load_with_journal(&p, false).unwrap_err();
        assert!(e.contains("s.journal") && e.contains("newer"), "{e}");
        assert!(Journal::open(&p).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_change_the_journal_cannot_take_is_refused() {
        let dir = scratch("full");
        let p = dir.join("s");
        let mut t = Table::new(false).unwrap();
        chown(&mut t, 1, 11);
        save(&p, &t).unwrap();
        std::os::unix::fs::symlink("/dev/full", journal_path(&p)).unwrap();
        let mut t = load_with_journal(&p, false).unwrap();
        t.attach_journal(Journal::open(&p).unwrap());
        assert_eq!(chown(&mut t, 2, 22), fakebox_proto::Reply::Errno(libc::EIO));
        assert_eq!(chown(&mut t, 1, 12), fakebox_proto::Reply::Errno(libc::EIO));
        // Nothing changed that the journal did not take.
        assert_eq!((uid_of(&mut t, 1), uid_of(&mut t, 2)), (11, 0));
        assert!(t.journal_failure().is_some_and(|w| w.contains("s.journal")));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_name_of_a_state_file_is_one_file_and_a_symlink_stays_one() {
        let dir = scratch("names");
        let real_dir = dir.join("real");
        fs::create_dir_all(&real_dir).unwrap();
        std::os::unix::fs::symlink("real/target", dir.join("link")).unwrap();
        std::os::unix::fs::symlink(&real_dir, dir.join("dirlink")).unwrap();
        let want = real_dir.canonicalize().unwrap().join("target");
        for name in ["link", "real/target", "real/./target", "dirlink/target", "real/../link"] {
            assert_eq!(resolve(&dir.join(name)).unwrap(), want, "{name}");
        }
        let mut t = Table::new(false).unwrap();
        chown(&mut t, 1, 11);
        save(&dir.join("link"), &t).unwrap();
        save(&dir.join("link"), &t).unwrap();
        assert!(fs::symlink_metadata(dir.join("link")).unwrap().file_type().is_symlink());
        assert_eq!(load(&want, false).unwrap().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Random files, and good ones with bytes changed, cut or inserted: each decodes to
    /// data or an error, and no allocation is larger than a few times the input.
    #[test]
    fn any_bytes_decode_or_fail_with_bounded_memory() {
        let mut t = Table::new(false).unwrap();
        for i in 0..40u64 {
            chown(&mut t, i, i as u32 + 1);
            let name = format!("user.k{i}");
            let v = vec![i as u8; i as usize * 3];
            let op = Op::SetXattr { real: real(i), name: &name, value: &v, flags: 0 };
            t.apply(&op, &mut Vec::new());
        }
        let dir = scratch("fuzz");
        let p = dir.join("s");
        save(&p, &t).unwrap();
        let snapshot = fs::read(&p).unwrap();
        t.attach_journal(Journal::open(&p).unwrap());
        for i in 0..40u64 {
            chown(&mut t, i, 1000 + i as u32);
        }
        drop(t);
        let journal = fs::read(journal_path(&p)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let bound = |len: usize| 32 * len.max(1024) + (1 << 20);
        for round in 0..6000 {
            let base = if round % 2 == 0 { &snapshot } else { &journal };
            let mut bytes = match round % 3 {
                0 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
                _ => base.clone(),
            };
            if round % 3 != 0 {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(bytes.len());
                    match rng.below(4) {
                        0 => bytes[at] = rng.next() as u8,
                        1 => bytes[at] = [0xff, 0xfb, 0xfc, 0xfd, 0][rng.below(5)],
                        2 => bytes.truncate(at),
                        _ => {
                            bytes.splice(at..at, [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).for_each(drop)
                        }
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
            }
            if round % 5 == 0 {
                let mut headed = MAGIC.to_vec();
                headed.extend_from_slice(&VERSION.to_le_bytes());
                headed.extend_from_slice(&bytes);
                bytes = headed;
            }
            let (_, most) = watch::largest(|| {
                let _ = decode_snapshot(&bytes);
                let _ = decode_journal(&bytes, |_, _| {});
            });
            assert!(most <= bound(bytes.len()), "round {round}: {most} bytes allocated for {} of input", bytes.len());
        }
        // A length that claims the whole address space is an error, not an abort.
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&VERSION.to_le_bytes());
        huge.extend_from_slice(&[1, 0, 0, 0]);
        huge.extend_from_slice(&[0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode_snapshot(&huge).is_err());
    }

    #[test]
    fn the_journal_replays_over_the_snapshot_and_survives_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("fbjournal-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s");
        let real =
            |ino| Real { key: Key { dev: 1, ino }, birth: None, uid: 1, gid: 1, mode: 0o100644, rdev: 0, nlink: 1 };
        let mut t = Table::new(false).unwrap();
        t.apply(&Op::Chown { real: real(1), uid: Some(10), gid: None }, &mut Vec::new());
        save(&p, &t).unwrap();
        t.attach_journal(Journal::open(&p).unwrap());
        for i in 2..50 {
            t.apply(&Op::Chown { real: real(i), uid: Some(i as u32 * 10), gid: None }, &mut Vec::new());
        }
        t.apply(&Op::Unlinked { real: real(1) }, &mut Vec::new());
        drop(t); // as if killed: no final save
        let back = load_with_journal(&p, false).unwrap();
        assert_eq!(back.len(), 48);
        // A record cut in the middle (the crash came during its write) ends the replay.
        let jp = journal_path(&p);
        let full = fs::read(&jp).unwrap();
        fs::write(&jp, &full[..full.len() - 3]).unwrap();
        let back = load_with_journal(&p, false).unwrap();
        assert_eq!(back.len(), 49, "the last record (the unlink) is gone, the rest stays");
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn saves_loads_and_refuses_damage() {
        let dir = std::env::temp_dir().join(format!("fbstate-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s");
        let mut t = Table::new(false).unwrap();
        for i in 0..100 {
            let real =
                Real { key: Key { dev: 1, ino: i }, birth: None, uid: 1, gid: 1, mode: 0o100644, rdev: 0, nlink: 1 };
            t.apply(&Op::Chown { real, uid: Some(i as u32 + 1), gid: None }, &mut Vec::new());
        }
        save(&p, &t).unwrap();
        assert_eq!(load(&p, false).unwrap().len(), 100);
        let good = fs::read(&p).unwrap();
        for cut in [1, 10, 19, 20, good.len() / 2, good.len() - 1] {
            fs::write(&p, &good[..cut]).unwrap();
            assert!(load(&p, false).is_err(), "cut {cut}");
        }
        let mut newer = good.clone();
        newer[16] = 99;
        fs::write(&p, &newer).unwrap();
        assert!(load(&p, false).unwrap_err().contains("newer"));
        // An empty file (mktemp, touch) is an empty table; fakeroot's file is named as such.
        fs::write(&p, b"").unwrap();
        assert!(load(&p, false).unwrap().is_empty());
        fs::write(&p, b"dev=fe00,ino=5,mode=100644,uid=5,gid=6,nlink=1,rdev=0\n").unwrap();
        let e = load(&p, false).unwrap_err();
        assert!(e.contains("fbstate-") && e.contains("fakeroot -s") && e.contains("import-state"), "{e}");
        assert_eq!(load_any(&p, false).unwrap().len(), 1);
        fs::remove_dir_all(&dir).unwrap();
        assert!(load(&p, false).unwrap().is_empty());
    }

    /// A length field of 2^40 (a flipped byte in a file no fakebox would write) once made
    /// bincode ask for a terabyte, and the failed allocation aborted fakebox.
    #[test]
    fn a_damaged_length_is_damage_not_an_abort() {
        let dir = std::env::temp_dir().join(format!("fbhuge-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s");
        // One entry, Key {1, 1} and an xattr name 2^40 bytes long (varint 253: a u64 follows).
        let mut body = vec![1, 1, 0, 0, 0, 0, 0, 1, 253];
        body.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let mut file = MAGIC.to_vec();
        file.extend_from_slice(&VERSION.to_le_bytes());
        file.push(1);
        file.extend_from_slice(&body);
        fs::write(&p, &file).unwrap();
        assert!(load(&p, false).unwrap_err().contains("corrupt"));
        // The same in a journal record, with its right CRC: the replay ends there.
        save(&p, &Table::new(false).unwrap()).unwrap();
        let mut rec = vec![1, 1, 1, 0, 0, 0, 0, 0, 1, 253];
        rec.extend_from_slice(&(1u64 << 40).to_le_bytes());
        let mut journal = (rec.len() as u32).to_le_bytes().to_vec();
        journal.extend_from_slice(&crc32(&rec).to_le_bytes());
        journal.extend_from_slice(&rec);
        fs::write(journal_path(&p), &journal).unwrap();
        assert!(load_with_journal(&p, false).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
