//! The fake-inode table: the one place that decides what each operation means.
//!
//! Rules (docs/ARCHITECTURE.md, "What a session promises"):
//! - an inode the session never touched shows root (or, with `--unknown-is-real`, its real
//!   owner) and its real mode;
//! - chown/chmod/create record; chown of a non-directory clears setuid, setgid (when group
//!   execute is set) and the file capability, as the kernel does for root;
//! - a new inode in a setgid directory takes the directory's group, and a new directory
//!   its setgid bit;
//! - an inode whose last link goes away is forgotten; an entry whose birth time or file
//!   type no longer matches the inode is stale (the number was reused) and is dropped.
//! - an entry that says nothing beyond the default view is not kept.
use super::shared;
use fakebox_proto::inode::mode;
pub use fakebox_proto::op::{MAX_ENTRIES, MAX_XATTR_BYTES};
use fakebox_proto::op::{
    XATTR_CREATE, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX, XATTR_VALUES_MAX,
};
use fakebox_proto::shm::Record;
use fakebox_proto::{Birth, Fake, Key, Op, Real, Reply};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub rdev: u64,
    pub birth: Option<Birth>,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The table: owner, group, mode and device of every recorded inode in the shared
/// memory clients read ([`shared::Shared`]); extended attributes here, asked for when a
/// record says it has some; and what the shared table could not take.
pub struct Table {
    /// Where every change goes before it is acknowledged (with `--state`).
    journal: Option<super::state::Journal>,
    shared: shared::Shared,
    overflow: HashMap<Key, Record>,
    xattrs: HashMap<Key, Vec<(String, Vec<u8>)>>,
    unknown_is_real: bool,
    /// What `xattrs` holds: every name with its NUL, and every value.
    xattr_bytes: usize,
    /// The limits: [`MAX_ENTRIES`], [`MAX_XATTR_BYTES`] (smaller in tests).
    max_entries: usize,
    max_xattr_bytes: usize,
    /// The daemon said on stderr that the table is full.
    said_full: bool,
}

/// The bytes one inode's extended attributes count for against [`MAX_XATTR_BYTES`].
fn xattr_size(x: &[(String, Vec<u8>)]) -> usize {
    x.iter().map(|(n, v)| n.len() + 1 + v.len()).sum()
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({} entries)", self.len())
    }
}

const ENODATA: i32 = libc::ENODATA;
const EEXIST: i32 = libc::EEXIST;
const EINVAL: i32 = libc::EINVAL;
const E2BIG: i32 = libc::E2BIG;
const ERANGE: i32 = libc::ERANGE;
const ENOSPC: i32 = libc::ENOSPC;
const EIO: i32 = libc::EIO;

/// The reply to a change: the inode as the session now sees it, or the errno.
fn attrs(r: Result<((), Fake), i32>) -> Reply<'static> {
    match r {
        Ok(((), fake)) => Reply::Attrs(fake),
        Err(e) => Reply::Errno(e),
    }
}

impl Table {
    /// A new, empty table with its shared memory. Fails only if the kernel gives no memfd.
    pub fn new(unknown_is_real: bool) -> std::io::Result<Table> {
        Table::with_capacity(unknown_is_real, fakebox_proto::shm::DEFAULT_CAPACITY)
    }

    pub fn with_capacity(unknown_is_real: bool, capacity: usize) -> std::io::Result<Table> {
        let shared = shared::Shared::create(capacity, unknown_is_real)?;
        Ok(Table {
            journal: None,
            shared,
            overflow: HashMap::new(),
            xattrs: HashMap::new(),
            unknown_is_real,
            xattr_bytes: 0,
            max_entries: MAX_ENTRIES,
            max_xattr_bytes: MAX_XATTR_BYTES,
            said_full: false,
        })
    }

    /// Other limits than [`MAX_ENTRIES`] and [`MAX_XATTR_BYTES`] (for tests).
    #[cfg(test)]
    pub fn with_limits(mut self, entries: usize, xattr_bytes: usize) -> Table {
        self.max_entries = entries;
        self.max_xattr_bytes = xattr_bytes;
        self
    }

    /// Why a table loaded from a state file is more than the daemon keeps (a file no
    /// fakebox wrote), if it is.
    pub fn over_limits(&self) -> Option<String> {
        if self.len() > self.max_entries {
            return Some(format!(
                "it records {} inodes, more than the {} a session keeps",
                self.len(),
                self.max_entries
            ));
        }
        (self.xattr_bytes > self.max_xattr_bytes).then(|| {
            format!(
                "it holds {} bytes of extended attributes, more than the {} a session keeps",
                self.xattr_bytes, self.max_xattr_bytes
            )
        })
    }

    /// The bytes of extended attributes held, counted as [`MAX_XATTR_BYTES`] counts them.
    #[cfg(test)]
    pub fn xattr_bytes(&self) -> usize {
        self.xattr_bytes
    }

    /// The shared table's mapping in this process (address, length).
    pub fn mapping(&self) -> (usize, usize) {
        self.shared.mapping()
    }

    /// The memfd clients map (read-only).
    pub fn memfd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.shared.fd()
    }

    pub fn unknown_is_real(&self) -> bool {
        self.unknown_is_real
    }

    pub fn len(&self) -> usize {
        self.shared.table().len() + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, key: Key) -> Option<Entry> {
        let r = self.shared.table().get(key).or_else(|| self.overflow.get(&key).copied())?;
        let xattrs = if r.xattrs { self.xattrs.get(&key).cloned().unwrap_or_default() } else { Vec::new() };
        Some(Entry { uid: r.uid, gid: r.gid, mode: r.mode, rdev: r.rdev, birth: r.birth, xattrs })
    }

    /// From now on every change is journaled.
    pub fn attach_journal(&mut self, j: super::state::Journal) {
        self.journal = Some(j);
    }

    pub fn journal(&self) -> Option<&super::state::Journal> {
        self.journal.as_ref()
    }

    pub fn journal_mut(&mut self) -> Option<&mut super::state::Journal> {
        self.journal.as_mut()
    }

    /// Why the journal refused a change, if it ever did (the change was refused with EIO).
    pub fn journal_failure(&self) -> Option<String> {
        self.journal.as_ref().and_then(|j| j.failure()).map(|why| format!("{why}: changes were refused (EIO)"))
    }

    /// Drops the entry for `key`, journaled; Err(EIO) (and nothing changes) when the
    /// journal cannot take it.
    fn remove(&mut self, key: Key) -> Result<(), i32> {
        if let Some(j) = &mut self.journal {
            j.append(key, None).map_err(|_| EIO)?;
        }
        self.forget(key);
        Ok(())
    }

    /// Drops the entry for `key` (not journaled: for replaying a journal).
    pub fn forget(&mut self, key: Key) {
        self.shared.table().remove(key);
        self.overflow.remove(&key);
        if let Some(x) = self.xattrs.remove(&key) {
            self.xattr_bytes -= xattr_size(&x);
        }
    }

    /// Records `e` for `key`, journaled; Err(EIO) (and nothing changes) when the journal
    /// cannot take it.
    fn put(&mut self, key: Key, e: Entry) -> Result<(), i32> {
        if let Some(j) = &mut self.journal {
            j.append(key, Some(&e)).map_err(|_| EIO)?;
        }
        self.insert(key, e);
        Ok(())
    }

    /// Every entry, for saving.
    pub fn entries(&self) -> Vec<(Key, Entry)> {
        let keys =
            self.shared.table().entries().map(|(k, _)| k).chain(self.overflow.keys().copied()).collect::<Vec<_>>();
        keys.into_iter().filter_map(|k| self.get(k).map(|e| (k, e))).collect()
    }

    pub fn insert(&mut self, key: Key, e: Entry) {
        let rec =
            Record { uid: e.uid, gid: e.gid, mode: e.mode, rdev: e.rdev, birth: e.birth, xattrs: !e.xattrs.is_empty() };
        self.xattr_bytes += xattr_size(&e.xattrs);
        let old = if e.xattrs.is_empty() { self.xattrs.remove(&key) } else { self.xattrs.insert(key, e.xattrs) };
        if let Some(x) = old {
            self.xattr_bytes -= xattr_size(&x);
        }
        if self.shared.table().set(key, &rec).is_err() {
            // Full: keep it here, and from now on clients ask about what they miss.
            self.shared.table().set_incomplete();
            self.overflow.insert(key, rec);
        } else {
            self.overflow.remove(&key);
        }
    }

    /// What an inode the session never touched looks like.
    fn default_entry(&self, real: &Real) -> Entry {
        let f = fakebox_proto::inode::default_view(real, self.unknown_is_real);
        Entry { uid: f.uid, gid: f.gid, mode: f.mode, rdev: f.rdev, birth: real.birth, xattrs: Vec::new() }
    }

    /// The recorded entry for `real`, after dropping it if the inode number was reused.
    fn current(&mut self, real: &Real) -> Option<Entry> {
        let e = self.get(real.key)?;
        if fakebox_proto::inode::is_stale(e.mode, e.birth, real) {
            // Not dropped when the journal refuses: it is found stale again next time.
            let _ = self.remove(real.key);
            return None;
        }
        Some(e)
    }

    fn view(&mut self, real: &Real) -> Fake {
        let e = self.current(real).unwrap_or_else(|| self.default_entry(real));
        Fake { uid: e.uid, gid: e.gid, mode: e.mode, rdev: e.rdev }
    }

    /// Runs `f` on the entry for `real` (made from the default view if absent) and keeps
    /// the result only if it differs from that default. Err(EIO): the journal could not
    /// take the change, which is then not made. ENOSPC, with nothing changed, if keeping it
    /// would pass [`MAX_ENTRIES`] or [`MAX_XATTR_BYTES`].
    fn update<R>(&mut self, real: &Real, f: impl FnOnce(&mut Entry) -> R) -> Result<(R, Fake), i32> {
        let now = self.current(real);
        let known = now.is_some();
        let mut e = now.unwrap_or_else(|| self.default_entry(real));
        let r = f(&mut e);
        let fake = Fake { uid: e.uid, gid: e.gid, mode: e.mode, rdev: e.rdev };
        e.birth = real.birth;
        if e == self.default_entry(real) {
            if self.get(real.key).is_some() {
                self.remove(real.key)?;
            }
        } else {
            let old = self.xattrs.get(&real.key).map_or(0, |x| xattr_size(x));
            let new = xattr_size(&e.xattrs);
            let no_room = !known && self.len() >= self.max_entries;
            let no_xattr_room = new > old && self.xattr_bytes - old + new > self.max_xattr_bytes;
            if no_room || no_xattr_room {
                if !self.said_full {
                    self.said_full = true;
                    crate::log::error(format_args!(
                        "the session's table is full ({} inodes, {} bytes of extended attributes): changes \
                         that need more fail with ENOSPC",
                        self.max_entries, self.max_xattr_bytes
                    ));
                }
                return Err(ENOSPC);
            }
            self.put(real.key, e)?;
        }
        Ok((r, fake))
    }

    /// Applies one operation. Replies that carry bytes borrow them from `out`.
    pub fn apply<'o>(&mut self, op: &Op<'_>, out: &'o mut Vec<u8>) -> Reply<'o> {
        match *op {
            Op::Hello { .. } => Reply::Done,
            // The server hands attach requests to the tracer; the table has no part in them.
            Op::Attach { .. } | Op::MapTable | Op::Join { .. } | Op::Leave => Reply::Errno(EINVAL),
            Op::Lookup { real } => Reply::Attrs(self.view(&real)),
            Op::Chown { real, uid, gid } => {
                let r = self.update(&real, |e| {
                    if let Some(u) = uid {
                        e.uid = u;
                    }
                    if let Some(g) = gid {
                        e.gid = g;
                    }
                    if !mode::is_dir(e.mode) {
                        e.mode &= !mode::ISUID;
                        if e.mode & mode::IXGRP != 0 {
                            e.mode &= !mode::ISGID;
                        }
                        e.xattrs.retain(|(n, _)| n != "security.capability");
                    }
                });
                attrs(r)
            }
            Op::Chmod { real, mode: m } => attrs(self.update(&real, |e| e.mode = (e.mode & mode::IFMT) | (m & 0o7777))),
            Op::Create { real, parent, uid, gid, mode: m, rdev } => {
                let (mut gid, mut m) = (gid, m);
                if let Some(p) = parent {
                    let pv = self.view(&p);
                    if pv.mode & mode::ISGID != 0 && mode::is_dir(pv.mode) {
                        gid = pv.gid;
                        if mode::is_dir(m) {
                            m |= mode::ISGID;
                        }
                    }
                }
                if self.get(real.key).is_some() && self.remove(real.key).is_err() {
                    return Reply::Errno(EIO); // an earlier incarnation's record, whatever it said
                }
                attrs(self.update(&real, |e| {
                    *e = Entry { uid, gid, mode: m, rdev, birth: real.birth, xattrs: Vec::new() };
                }))
            }
            Op::Unlinked { real } => {
                // A record with another birth time is a later inode with the same number
                // (made while this news was on its way): it stays.
                let ours =
                    self.get(real.key).is_some_and(|e| !matches!((e.birth, real.birth), (Some(a), Some(b)) if a != b));
                if (mode::is_dir(real.mode) || real.nlink <= 1) && ours && self.remove(real.key).is_err() {
                    return Reply::Errno(EIO);
                }
                Reply::Done
            }
            Op::SetXattr { real, name, value, flags } => {
                if name.is_empty() || name.len() > XATTR_NAME_MAX {
                    return Reply::Errno(if name.is_empty() { EINVAL } else { ERANGE });
                }
                if value.len() > XATTR_SIZE_MAX {
                    return Reply::Errno(E2BIG);
                }
                let r = self.update(&real, |e| {
                    let at = e.xattrs.iter().position(|(n, _)| n == name);
                    // What the inode would hold afterwards, within the kernel's limits.
                    let names: usize = e.xattrs.iter().map(|(n, _)| n.len() + 1).sum::<usize>()
                        + if at.is_none() { name.len() + 1 } else { 0 };
                    let values: usize = e.xattrs.iter().map(|(_, v)| v.len()).sum::<usize>() + value.len()
                        - at.map_or(0, |i| e.xattrs[i].1.len());
                    match (at, flags) {
                        (Some(_), XATTR_CREATE) => Err(EEXIST),
                        (None, XATTR_REPLACE) => Err(ENODATA),
                        _ if names > XATTR_LIST_MAX || values > XATTR_VALUES_MAX => Err(ENOSPC),
                        (Some(i), _) => {
                            e.xattrs[i].1 = value.to_vec();
                            Ok(())
                        }
                        (None, _) => {
                            e.xattrs.push((name.to_string(), value.to_vec()));
                            Ok(())
                        }
                    }
                });
                match r.and_then(|(r, _)| r) {
                    Ok(()) => Reply::Done,
                    Err(e) => Reply::Errno(e),
                }
            }
            Op::GetXattr { real, name } => {
                out.clear();
                let Some(e) = self.current(&real) else { return Reply::Errno(ENODATA) };
                match e.xattrs.iter().find(|(n, _)| n == name) {
                    Some((_, v)) => {
                        out.extend_from_slice(v);
                        Reply::Bytes(out)
                    }
                    None => Reply::Errno(ENODATA),
                }
            }
            Op::ListXattr { real } => {
                out.clear();
                if let Some(e) = self.current(&real) {
                    for (n, _) in &e.xattrs {
                        out.extend_from_slice(n.as_bytes());
                        out.push(0);
                    }
                }
                Reply::Bytes(out)
            }
            Op::RemoveXattr { real, name } => {
                let r = self.update(&real, |e| {
                    let before = e.xattrs.len();
                    e.xattrs.retain(|(n, _)| n != name);
                    before != e.xattrs.len()
                });
                match r {
                    Ok((true, _)) => Reply::Done,
                    Ok((false, _)) => Reply::Errno(ENODATA),
                    Err(e) => Reply::Errno(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ino: u64) -> Real {
        Real {
            key: Key { dev: 1, ino },
            birth: Some(Birth { sec: 100, nsec: 0 }),
            uid: 1000,
            gid: 1000,
            mode: 0o100644,
            rdev: 0,
            nlink: 1,
        }
    }

    fn attrs(t: &mut Table, op: Op<'_>) -> Fake {
        let mut out = Vec::new();
        match t.apply(&op, &mut out) {
            Reply::Attrs(f) => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_is_root_or_real() {
        let r = file(1);
        assert_eq!(attrs(&mut Table::new(false).unwrap(), Op::Lookup { real: r }).uid, 0);
        assert_eq!(attrs(&mut Table::new(true).unwrap(), Op::Lookup { real: r }).uid, 1000);
    }

    #[test]
    fn chown_records_and_clears_setuid_like_the_kernel() {
        let mut t = Table::new(false).unwrap();
        let r = file(1);
        attrs(&mut t, Op::Chmod { real: r, mode: 0o6755 });
        let f = attrs(&mut t, Op::Chown { real: r, uid: Some(5), gid: None });
        assert_eq!((f.uid, f.gid, f.mode), (5, 0, 0o100755));
        // setgid without group execute is a mandatory-locking mark: kept.
        attrs(&mut t, Op::Chmod { real: r, mode: 0o2644 });
        let f = attrs(&mut t, Op::Chown { real: r, uid: None, gid: Some(7) });
        assert_eq!((f.uid, f.gid, f.mode), (5, 7, 0o102644));
    }

    #[test]
    fn default_views_are_not_stored() {
        let mut t = Table::new(false).unwrap();
        let r = file(1);
        attrs(&mut t, Op::Chown { real: r, uid: Some(0), gid: Some(0) });
        assert!(t.is_empty());
        attrs(&mut t, Op::Chown { real: r, uid: Some(3), gid: Some(0) });
        assert_eq!(t.len(), 1);
        attrs(&mut t, Op::Chown { real: r, uid: Some(0), gid: None });
        assert!(t.is_empty());
    }

    #[test]
    fn reused_inode_numbers_start_clean() {
        let mut t = Table::new(false).unwrap();
        let r = file(1);
        attrs(&mut t, Op::Chown { real: r, uid: Some(42), gid: Some(42) });
        let reborn = Real { birth: Some(Birth { sec: 101, nsec: 0 }), ..r };
        assert_eq!(attrs(&mut t, Op::Lookup { real: reborn }).uid, 0);
        assert!(t.is_empty());
        // Without birth times, a change of file type still tells.
        attrs(&mut t, Op::Chown { real: Real { birth: None, ..r }, uid: Some(42), gid: None });
        let dir = Real { birth: None, mode: 0o40755, ..r };
        assert_eq!(attrs(&mut t, Op::Lookup { real: dir }).uid, 0);
    }

    #[test]
    fn last_link_forgets() {
        let mut t = Table::new(false).unwrap();
        let r = Real { nlink: 2, ..file(1) };
        attrs(&mut t, Op::Chown { real: r, uid: Some(9), gid: None });
        let mut out = Vec::new();
        t.apply(&Op::Unlinked { real: r }, &mut out);
        assert_eq!(attrs(&mut t, Op::Lookup { real: r }).uid, 9);
        t.apply(&Op::Unlinked { real: Real { nlink: 1, ..r } }, &mut out);
        assert_eq!(attrs(&mut t, Op::Lookup { real: r }).uid, 0);
    }

    #[test]
    fn news_of_an_earlier_inode_leaves_a_later_one_alone() {
        let mut t = Table::new(false).unwrap();
        let old = file(1);
        let new = Real { birth: Some(Birth { sec: 200, nsec: 0 }), ..old };
        attrs(&mut t, Op::Chown { real: new, uid: Some(9), gid: None });
        t.apply(&Op::Unlinked { real: old }, &mut Vec::new());
        assert_eq!(attrs(&mut t, Op::Lookup { real: new }).uid, 9);
        t.apply(&Op::Unlinked { real: new }, &mut Vec::new());
        assert_eq!(attrs(&mut t, Op::Lookup { real: new }).uid, 0);
    }

    #[test]
    fn devices_and_setgid_directories() {
        let mut t = Table::new(false).unwrap();
        let dir = Real { mode: 0o40755, ..file(1) };
        attrs(&mut t, Op::Chown { real: dir, uid: None, gid: Some(50) });
        attrs(&mut t, Op::Chmod { real: dir, mode: 0o2775 });
        let dev = file(2);
        let f = attrs(&mut t, Op::Create { real: dev, parent: Some(dir), uid: 0, gid: 0, mode: 0o20644, rdev: 0x103 });
        assert_eq!((f.gid, f.mode, f.rdev), (50, 0o20644, 0x103));
        let sub = Real { mode: 0o40755, ..file(3) };
        let f = attrs(&mut t, Op::Create { real: sub, parent: Some(dir), uid: 0, gid: 0, mode: 0o40755, rdev: 0 });
        assert_eq!((f.gid, f.mode), (50, 0o42755));
    }

    #[test]
    fn xattrs_stay_within_the_kernels_limits() {
        let mut t = Table::new(false).unwrap();
        let mut out = Vec::new();
        let r = file(40);
        let long = |i: usize| format!("security.{i:04}{}", "y".repeat(242));
        let set = |t: &mut Table, name: &str, value: &[u8]| {
            t.apply(&Op::SetXattr { real: r, name, value, flags: 0 }, &mut Vec::new()) == Reply::Done
        };
        let mut n = 0;
        while set(&mut t, &long(n), b"v") {
            n += 1;
        }
        // 255-byte names, 256 bytes with the NUL: 256 of them fill the 64 KiB list.
        assert_eq!(n, XATTR_LIST_MAX / 256);
        let past = t.apply(&Op::SetXattr { real: r, name: &long(n), value: b"v", flags: 0 }, &mut out);
        assert_eq!(past, Reply::Errno(ENOSPC));
        assert!(set(&mut t, &long(0), b"replacing keeps the list as long"));
        let Reply::Bytes(list) = t.apply(&Op::ListXattr { real: r }, &mut out) else { panic!("no list") };
        assert_eq!(list.len(), XATTR_LIST_MAX);
        // Values: sixteen of the largest size, then no more.
        let r2 = file(41);
        let big = vec![7u8; XATTR_SIZE_MAX];
        for i in 0..16 {
            let name = format!("security.v{i}");
            assert_eq!(t.apply(&Op::SetXattr { real: r2, name: &name, value: &big, flags: 0 }, &mut out), Reply::Done);
        }
        let full = t.apply(&Op::SetXattr { real: r2, name: "security.w", value: b"x", flags: 0 }, &mut out);
        assert_eq!(full, Reply::Errno(ENOSPC));
        let smaller = t.apply(&Op::SetXattr { real: r2, name: "security.v0", value: b"x", flags: 0 }, &mut out);
        assert_eq!(smaller, Reply::Done, "a smaller value in place of a large one fits");
    }

    #[test]
    fn xattrs_follow_the_kernels_flags() {
        let mut t = Table::new(false).unwrap();
        let r = file(1);
        let mut out = Vec::new();
        let set = |t: &mut Table, flags| {
            let mut o = Vec::new();
            t.apply(&Op::SetXattr { real: r, name: "security.capability", value: b"v", flags }, &mut o) == Reply::Done
        };
        assert!(!set(&mut t, XATTR_REPLACE));
        assert!(set(&mut t, XATTR_CREATE));
        assert!(!set(&mut t, XATTR_CREATE));
        assert_eq!(t.apply(&Op::ListXattr { real: r }, &mut out), Reply::Bytes(b"security.capability\0"));
        assert_eq!(t.apply(&Op::GetXattr { real: r, name: "security.capability" }, &mut out), Reply::Bytes(b"v"));
        // chown of a file drops its capability, as the kernel does.
        attrs(&mut t, Op::Chown { real: r, uid: Some(1), gid: None });
        assert_eq!(
            t.apply(&Op::GetXattr { real: r, name: "security.capability" }, &mut out),
            Reply::Errno(libc::ENODATA)
        );
    }

    #[test]
    fn absurd_requests_stop_at_the_limits() {
        let mut t = Table::new(false).unwrap().with_limits(3, 64);
        let mut out = Vec::new();
        // Any device, any inode number: each is one more entry, up to the limit.
        let real = |dev, ino| Real { key: Key { dev, ino }, ..file(0) };
        let keys = [real(u64::MAX, u64::MAX), real(0, 0), real(1 << 63, 7)];
        for r in keys {
            attrs(&mut t, Op::Chown { real: r, uid: Some(u32::MAX), gid: Some(u32::MAX) });
        }
        let past = real(5, 5);
        for op in [
            Op::Chown { real: past, uid: Some(1), gid: None },
            Op::Chmod { real: past, mode: 0o7777 },
            Op::Create { real: past, parent: None, uid: 1, gid: 1, mode: 0o20600, rdev: u64::MAX },
            Op::SetXattr { real: past, name: "user.a", value: b"v", flags: 0 },
        ] {
            assert_eq!(t.apply(&op, &mut out), Reply::Errno(ENOSPC), "{op:?}");
        }
        assert_eq!(t.len(), 3);
        // What is already recorded still changes, and lookups answer as always.
        assert_eq!(attrs(&mut t, Op::Chown { real: keys[1], uid: Some(2), gid: None }).uid, 2);
        assert_eq!(attrs(&mut t, Op::Lookup { real: past }).uid, 0);
        // A change back to the default view needs no room.
        attrs(&mut t, Op::Chown { real: past, uid: Some(0), gid: Some(0) });
        // Room again once an inode is gone.
        t.apply(&Op::Unlinked { real: keys[0] }, &mut out);
        assert_eq!(attrs(&mut t, Op::Chown { real: past, uid: Some(1), gid: None }).uid, 1);
        assert_eq!(t.len(), 3);
        assert!(t.over_limits().is_none());

        // Extended attributes: 64 bytes in all, names (with their NULs) and values.
        let mut t = Table::new(false).unwrap().with_limits(100, 64);
        // The errno a set fails with, or 0.
        let set = |t: &mut Table, r, name, value: &[u8]| match t
            .apply(&Op::SetXattr { real: r, name, value, flags: 0 }, &mut Vec::new())
        {
            Reply::Errno(e) => e,
            _ => 0,
        };
        assert_eq!(set(&mut t, file(1), "user.a", &[1; 50]), 0);
        assert_eq!(t.xattr_bytes(), 57);
        assert_eq!(set(&mut t, file(2), "user.b", &[2; 8]), ENOSPC);
        assert_eq!(set(&mut t, file(1), "user.c", &[2; 8]), ENOSPC);
        assert_eq!(set(&mut t, file(1), "user.a", &[1; 10]), 0, "a smaller value fits");
        assert_eq!(set(&mut t, file(2), "user.b", &[2; 8]), 0);
        assert_eq!(t.xattr_bytes(), 17 + 15);
        assert_eq!(t.apply(&Op::RemoveXattr { real: file(1), name: "user.a" }, &mut out), Reply::Done);
        t.apply(&Op::Unlinked { real: file(2) }, &mut out);
        assert_eq!(t.xattr_bytes(), 0);
        // A state file past the limits (no fakebox wrote it) is refused when loaded.
        let mut t = Table::new(false).unwrap().with_limits(1, 64);
        let e = |uid| Entry { uid, gid: 0, mode: 0o100644, rdev: 0, birth: None, xattrs: Vec::new() };
        t.insert(Key { dev: 1, ino: 1 }, e(1));
        assert!(t.over_limits().is_none());
        t.insert(Key { dev: 1, ino: 2 }, e(2));
        assert!(t.over_limits().unwrap().contains("2 inodes"));
    }
}
