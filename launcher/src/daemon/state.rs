//! The `--state` file: a versioned snapshot of the table, replaced atomically.
//!
//! Layout: the 16-byte magic `FAKEBOX-STATE\0\0\0`, a little-endian u32 format version,
//! then a bincode 2 (standard config) `Vec<(Key, Entry)>`.
use super::table::{Entry, Table};
use fakebox_proto::Key;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 16] = b"FAKEBOX-STATE\0\0\0";
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
    let cfg = bincode::config::standard();
    let (entries, used): (Vec<(Key, Entry)>, usize) =
        bincode::serde::decode_from_slice(&bytes[20..], cfg).map_err(|e| bad(&format!("corrupt: {e}")))?;
    if used != bytes.len() - 20 {
        return Err(bad("corrupt: trailing bytes"));
    }
    for (k, e) in entries {
        table.insert(k, e);
    }
    Ok(table)
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
}
