//! Tables written by another tool, read as an import: fakeroot's save file (`fakeroot -s
//! FILE`), a text file of one line per inode,
//!
//!   dev=fe00,ino=10060483,mode=104755,uid=5,gid=6,nlink=1,rdev=0
//!
//! with `dev` in hexadecimal (the `st_dev` glibc's stat gives, the encoding of fakebox's
//! [`Key`] too), `mode` in octal (file type included: a device fakeroot made is
//! `20644`), the rest in decimal (faked.c writes them with `%llx`, `%llo` and `%llu`).
//!
//! An imported entry has no birth time: like fakeroot, it trusts the device and inode
//! number, and the table still drops it when the file type on disk no longer matches
//! (`fakebox_proto::inode::is_stale`). It takes the inode's birth time the first time a
//! session changes it.
use super::table::Entry;
use fakebox_proto::Key;

/// Does this file look like an SQLite database (pseudo's `files.db`)?
pub fn is_sqlite(bytes: &[u8]) -> bool {
    bytes.starts_with(b"SQLite format 3\0")
}

/// The entries of pseudo's database (`$PSEUDO_LOCALSTATEDIR/files.db`), read with SQLite,
/// read-only: every inode of its `files` table that is not being deleted (one row per
/// path: hard links share their inode's entry), with the xattrs of its `xattrs` table
/// that fakebox keeps (`security.*`, `trusted.*`; the others are the file's own).
/// `dev`, `mode` (file type included) and `rdev` are stored as glibc's stat gives them,
/// the encoding of fakebox's [`Key`] and entries too. Like a fakeroot import, no birth time.
pub fn read_pseudo(path: &std::path::Path) -> Result<Vec<(Key, Entry)>, String> {
    use rusqlite::{Connection, OpenFlags};
    let why = |e: rusqlite::Error| match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DatabaseBusy => {
            "the database is in use: stop pseudo's server first (pseudo -S)".to_string()
        }
        e => format!("{e}: not a pseudo database"),
    };
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(why)?;
    let mut entries: std::collections::BTreeMap<Key, Entry> = std::collections::BTreeMap::new();
    let mut q = db.prepare("SELECT dev, ino, uid, gid, mode, rdev FROM files WHERE deleting = 0").map_err(why)?;
    let rows = q
        .query_map([], |r| {
            let n = |i: usize| r.get::<_, i64>(i);
            Ok((n(0)?, n(1)?, n(2)?, n(3)?, n(4)?, n(5)?))
        })
        .map_err(why)?;
    for row in rows {
        let (dev, ino, uid, gid, mode, rdev) = row.map_err(why)?;
        let id =
            |v: i64, what: &str| u32::try_from(v).map_err(|_| format!("{what} {v} of inode {ino} is out of range"));
        let key = Key { dev: dev as u64, ino: ino as u64 };
        let e = Entry {
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mode: id(mode, "mode")?,
            rdev: rdev as u64,
            birth: None,
            xattrs: Vec::new(),
        };
        entries.insert(key, e);
    }
    let mut q = db.prepare("SELECT dev, ino, name, value FROM xattrs").map_err(why)?;
    let mut rows = q.query([]).map_err(why)?;
    while let Some(r) = rows.next().map_err(why)? {
        let key = Key { dev: r.get::<_, i64>(0).map_err(why)? as u64, ino: r.get::<_, i64>(1).map_err(why)? as u64 };
        let name: String = r.get(2).map_err(why)?;
        // pseudo binds the value as a blob in a column declared VARCHAR: either may come back.
        let value = r.get_ref(3).map_err(why)?.as_bytes().map_err(|e| format!("xattr {name}: {e}"))?.to_vec();
        if let Some(e) = entries.get_mut(&key)
            && fakebox_proto::rules::is_faked_xattr(name.as_bytes())
        {
            e.xattrs.push((name, value));
        }
    }
    Ok(entries.into_iter().collect())
}

/// Does this file look like fakeroot's save file (rather than fakebox's state)?
pub fn is_fakeroot(bytes: &[u8]) -> bool {
    bytes.starts_with(b"dev=")
}

/// The entries of a fakeroot save file, or the first line that is not one (numbered
/// from 1). An empty file is an empty table, as it is for fakeroot.
pub fn decode_fakeroot(bytes: &[u8]) -> Result<Vec<(Key, Entry)>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text: not a fakeroot save file".to_string())?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(fakeroot_line(line).map_err(|why| format!("line {}: {why}: not a fakeroot save file", n + 1))?);
    }
    Ok(out)
}

fn fakeroot_line(line: &str) -> Result<(Key, Entry), String> {
    let (mut dev, mut ino, mut mode, mut uid, mut gid, mut rdev) = (None, None, None, None, None, Some(0));
    for field in line.trim().split(',') {
        let (k, v) = field.split_once('=').ok_or_else(|| format!("`{field}` is not KEY=VALUE"))?;
        let num = |radix| u64::from_str_radix(v, radix).map_err(|e| format!("{k}={v}: {e}"));
        let id = |radix| num(radix).and_then(|n| u32::try_from(n).map_err(|e| format!("{k}={v}: {e}")));
        match k {
            "dev" => dev = Some(num(16)?),
            "ino" => ino = Some(num(10)?),
            "mode" => mode = Some(id(8)?),
            "uid" => uid = Some(id(10)?),
            "gid" => gid = Some(id(10)?),
            "rdev" => rdev = Some(num(10)?),
            "nlink" => {
                num(10)?;
            }
            _ => return Err(format!("unknown field `{k}`")),
        }
    }
    fn need<T>(v: Option<T>, k: &str) -> Result<T, String> {
        v.ok_or_else(|| format!("no {k}="))
    }
    let key = Key { dev: need(dev, "dev")?, ino: need(ino, "ino")? };
    let e = Entry {
        uid: need(uid, "uid")?,
        gid: need(gid, "gid")?,
        mode: need(mode, "mode")?,
        rdev: need(rdev, "rdev")?,
        birth: None,
        xattrs: Vec::new(),
    };
    Ok((key, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_fakeroot_writes() {
        // As fakeroot 1.31 wrote it for: touch a; chown 5:6 a; chmod 4755 a; mknod d c 1 3;
        // mkdir dd; ln -s a l; chown -h 7:8 l.
        let save = "dev=fe00,ino=10060483,mode=104755,uid=5,gid=6,nlink=1,rdev=0\n\
                    dev=fe00,ino=10060484,mode=20644,uid=0,gid=0,nlink=1,rdev=259\n\
                    dev=fe00,ino=10060485,mode=40755,uid=0,gid=0,nlink=2,rdev=0\n\
                    dev=fe00,ino=10060486,mode=120777,uid=7,gid=8,nlink=1,rdev=0\n";
        assert!(is_fakeroot(save.as_bytes()));
        let got = decode_fakeroot(save.as_bytes()).unwrap();
        let e = |uid, gid, mode, rdev| Entry { uid, gid, mode, rdev, birth: None, xattrs: Vec::new() };
        let k = |ino| Key { dev: 0xfe00, ino };
        assert_eq!(
            got,
            [
                (k(10060483), e(5, 6, 0o104755, 0)),
                (k(10060484), e(0, 0, 0o20644, libc::makedev(1, 3))),
                (k(10060485), e(0, 0, 0o40755, 0)),
                (k(10060486), e(7, 8, 0o120777, 0)),
            ]
        );
        assert!(decode_fakeroot(b"").unwrap().is_empty());
        assert!(decode_fakeroot(b"\n").unwrap().is_empty());
    }

    #[test]
    fn a_line_that_is_not_fakeroots_names_its_number() {
        for (bad, why) in [
            ("dev=fe00,ino=1,mode=100644,uid=0,gid=0,nlink=1,rdev=0\ndev=fe00,ino=2,mode=9,uid=0,gid=0", "line 2"),
            ("dev=fe00,ino=1,mode=100644,gid=0", "no uid="),
            ("dev=fe00,ino=1,mode=100644,uid=99999999999,gid=0", "uid=99999999999"),
            ("dev=fe00,ino=x,mode=100644,uid=0,gid=0", "ino=x"),
            ("dev=fe00,ino=1,mode=100644,uid=0,gid=0,size=3", "unknown field `size`"),
            ("dev=fe00 ino=1", "invalid digit"),
            ("dev,ino=1", "`dev` is not KEY=VALUE"),
        ] {
            let e = decode_fakeroot(bad.as_bytes()).unwrap_err();
            assert!(e.contains(why) && e.contains("not a fakeroot save file"), "{bad}: {e}");
        }
        assert!(decode_fakeroot(b"dev=\xff").unwrap_err().contains("not text"));
    }
}
