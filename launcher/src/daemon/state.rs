//! The `--state` file: a versioned snapshot of the table, replaced atomically, and its
//! journal `STATE.journal`, where every change is appended before the client hears back.
//!
//! Snapshot: the 16-byte magic `FAKEBOX-STATE\0\0\0`, a little-endian u32 format version,
//! then a bincode 2 (standard config) `Vec<(Key, Entry)>`.
//! Journal: records of a little-endian u32 length, a u32 CRC-32 of the body, and the body,
//! a bincode 2 `(Key, Option<Entry>)`: the entry as it is after the change (None: gone).
//! Replaying is idempotent. A record cut short by a crash ends the replay; the snapshot
//! must be whole. A change is written to the journal (the page cache) before it is
//! acknowledged, so a killed process loses nothing; the journal is fsynced at least once
//! a second, so a power loss loses at most the last second.
use super::table::{Entry, Table};
use fakebox_proto::Key;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 16] = b"FAKEBOX-STATE\0\0\0";
const DAMAGED: &str = "truncated or corrupt, so it is not used: restore it from a backup, or move it away to start \
    afresh (the fake owners it held are then lost)";
pub const VERSION: u32 = 1;

/// Loads `path` into a new table. A missing file is an empty table; a file that cannot be
/// read or understood is an error (never a silent empty start, which would make wrong
/// archives).
pub fn load(path: &Path, unknown_is_real: bool) -> Result<Table, String> {
    let mut table = Table::new(unknown_is_real).map_err(|e| format!("cannot make the shared table: {e}"))?;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |why: &str| format!("{}: {why}", path.display());
    if bytes.len() < 20 || &bytes[..16] != MAGIC {
        return Err(bad("not a fakebox state file"));
    }
    let version = u32::from_le_bytes(bytes[16..20].try_into().unwrap_or_default());
    if version > VERSION {
        return Err(bad(&format!(
            "format version {version} is newer than this fakebox reads ({VERSION}); use a newer fakebox"
        )));
    }
    let (entries, used): (Vec<(Key, Entry)>, usize) = decode(&bytes[20..]).ok_or_else(|| bad(DAMAGED))?;
    if used != bytes.len() - 20 {
        return Err(bad(DAMAGED));
    }
    for (k, e) in entries {
        table.insert(k, e);
    }
    if let Some(why) = table.over_limits() {
        return Err(bad(&why));
    }
    Ok(table)
}

/// Decodes a bincode 2 (standard config) value from `bytes`. bincode allocates a string or
/// a list as long as its length field says before it reads it, so a damaged length would
/// ask for up to 2^64 bytes (and the allocation failure aborts). bincode's limit counts a
/// list's memory (its length times its element's size, up to 48 bytes an encoded byte
/// here), not its encoded bytes: a limit of a power of four at least 64 times the input
/// keeps every allocation within 256 times the input.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<(T, usize)> {
    macro_rules! within {
        ($($bits:literal),*) => {
            $(
                if bytes.len().saturating_mul(64) <= 1usize << $bits {
                    let cfg = bincode::config::standard().with_limit::<{ 1usize << $bits }>();
                    return bincode::serde::decode_from_slice(bytes, cfg).ok();
                }
            )*
        };
    }
    within!(12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42);
    None
}

/// The journal beside a state file.
pub fn journal_path(state: &Path) -> std::path::PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".journal");
    p.into()
}

/// Loads the snapshot, then replays the journal over it.
pub fn load_with_journal(path: &Path, unknown_is_real: bool) -> Result<Table, String> {
    let mut table = load(path, unknown_is_real)?;
    let jp = journal_path(path);
    let bytes = match fs::read(&jp) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(table),
        Err(e) => return Err(format!("{}: {e}", jp.display())),
    };
    for (k, e) in records(&bytes) {
        match e {
            Some(e) => table.insert(k, e),
            None => table.forget(k),
        }
    }
    if let Some(why) = table.over_limits() {
        return Err(format!("{}: {why}", jp.display()));
    }
    Ok(table)
}

/// The whole records at the start of a journal (a torn last record is left out).
pub fn records(mut bytes: &[u8]) -> impl Iterator<Item = (Key, Option<Entry>)> + '_ {
    std::iter::from_fn(move || {
        if bytes.len() < 8 {
            return None;
        }
        let len = u32::from_le_bytes(bytes[..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(bytes[4..8].try_into().ok()?);
        let body = bytes.get(8..8 + len)?;
        if crc32(body) != crc {
            return None;
        }
        let (rec, used) = decode(body)?;
        if used != len {
            return None;
        }
        bytes = &bytes[8 + len..];
        Some(rec)
    })
}

/// The append-only journal of a state file.
pub struct Journal {
    file: File,
    path: std::path::PathBuf,
    /// Written since the last fsync.
    pub dirty: std::sync::Arc<std::sync::atomic::AtomicBool>,
    failed: bool,
}

impl Journal {
    pub fn open(state: &Path) -> Result<Journal, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = journal_path(state);
        let file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Journal { file, path, dirty: Default::default(), failed: false })
    }

    /// Appends the entry for `key` as it is now (None: gone), in one write.
    pub fn append(&mut self, key: Key, entry: Option<&Entry>) {
        let body = match bincode::serde::encode_to_vec((key, entry), bincode::config::standard()) {
            Ok(b) => b,
            Err(_) => return,
        };
        let mut rec = Vec::with_capacity(8 + body.len());
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32(&body).to_le_bytes());
        rec.extend_from_slice(&body);
        match self.file.write_all(&rec) {
            Ok(()) => self.dirty.store(true, std::sync::atomic::Ordering::Release),
            Err(e) => {
                if !self.failed {
                    crate::log::error(format_args!(
                        "cannot write the journal {}: {e}; changes from now on are lost if the session is killed",
                        self.path.display()
                    ));
                }
                self.failed = true;
            }
        }
    }

    /// A second handle to the same file, for fsyncs outside the table's lock.
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// After a snapshot that holds everything: empty the journal.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
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
/// of the directory. The file is private to the user (0600).
pub fn save(path: &Path, table: &Table) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
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

#[cfg(test)]
mod tests {
    use super::*;
    use fakebox_proto::{Op, Real};

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
        for cut in [0, 10, 19, 20, good.len() / 2, good.len() - 1] {
            fs::write(&p, &good[..cut]).unwrap();
            assert!(load(&p, false).is_err(), "cut {cut}");
        }
        let mut newer = good.clone();
        newer[16] = 99;
        fs::write(&p, &newer).unwrap();
        assert!(load(&p, false).unwrap_err().contains("newer"));
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
