//! The shared table: the daemon publishes every recorded inode's owner, group, mode and
//! device in a memfd that clients map read-only, so a stat costs a real stat plus a lookup
//! here, with no round trip. One writer (the daemon, under its lock); readers never lock:
//! each slot is a seqlock (an odd sequence number means "being written").
//!
//! Layout: a 4 KiB header, a 128 KiB filter (one bit per key), then `capacity` slots of 56
//! bytes, open addressing with linear probing. A removal shifts the following entries back
//! (no tombstones, so the table never fills up with the dead); while it does, a table-wide
//! sequence number is odd, and a reader whose probe missed during a shift looks again. When the table cannot take an
//! entry the daemon keeps it elsewhere and clears `complete`: readers then ask the daemon
//! about keys they miss.
#![allow(unsafe_code)]

use crate::{Birth, Key};
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering, fence};

pub const MAGIC: u64 = 0x3430_4d48_5342_4642; // "FBSHM04" little-endian, plus a version byte
pub const HEADER: usize = 4096;
pub const SLOT: usize = 56;
/// Default capacity: 2 Mi slots (112 MiB of address space, sparse until used), enough for
/// 1.5 million recorded inodes.
pub const DEFAULT_CAPACITY: usize = 1 << 21;
/// Inserts stop (and `complete` clears) above this share of used slots.
const MAX_LOAD_PERCENT: usize = 75;
/// How many times a reader looks again at a slot being written (its sequence odd), or
/// probes again while a removal moves entries, before it gives up: a writer killed
/// mid-write (`kill -9` of the daemon) leaves a slot odd for good. About a millisecond of
/// spinning; a reader that gives up asks the daemon instead ([`Unsure`]).
pub const READ_RETRIES: u32 = 1 << 16;

/// A reader gave up ([`READ_RETRIES`]): a slot stayed half-written, or entries kept
/// moving. The table cannot tell; ask the daemon (and fail the call if it is gone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsure;

#[repr(C)]
struct Header {
    magic: AtomicU64,
    capacity: AtomicU64,
    /// Bit 0: unknown files show their real owner. Bit 1: the table holds every entry.
    flags: AtomicU32,
    _pad: AtomicU32,
    /// Odd while a removal moves entries.
    moving: AtomicU64,
    live: AtomicU64,
    /// Counts the writer's changes (every set, removal and loss of completeness), bumped
    /// before each: a reader that sees the same count twice knows nothing was recorded
    /// in between.
    writes: AtomicU64,
}

const UNKNOWN_IS_REAL: u32 = 1;
const COMPLETE: u32 = 2;
/// Some directory has been recorded with its setgid bit (new files there take its group).
const SETGID_DIRS: u32 = 4;
/// Some device node has been recorded (readdir must then correct entry types).
const DEVICES: u32 = 8;
/// Some record has no birth time (its filesystem reports none), so only a change of file
/// type shows that it went stale. (Never cleared once set.)
const NO_BIRTH: u32 = 16;
/// Some record has extended attributes. (Never cleared once set.)
const XATTRS: u32 = 32;

#[repr(C)]
struct Slot {
    seq: AtomicU32,
    /// Low byte: 0 empty, 1 live. Bit 8: has a birth time. Bit 9: has xattrs.
    state: AtomicU32,
    dev: AtomicU64,
    ino: AtomicU64,
    birth_sec: AtomicI64,
    birth_nsec: AtomicU32,
    uid: AtomicU32,
    gid: AtomicU32,
    mode: AtomicU32,
    rdev: AtomicU64,
}

const _: () = assert!(core::mem::size_of::<Slot>() == SLOT);
const _: () = assert!(core::mem::size_of::<Header>() <= HEADER);

const EMPTY: u32 = 0;
const LIVE: u32 = 1;
const HAS_BIRTH: u32 = 1 << 8;
const HAS_XATTRS: u32 = 1 << 9;

/// What the table holds for one inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub rdev: u64,
    pub birth: Option<Birth>,
    /// The daemon holds extended attributes for it (ask it for their values).
    pub xattrs: bool,
}

/// The table cannot take another entry.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// The table over a mapping. Readers may share it freely; the write methods must only be
/// called by the one writer.
pub struct Table {
    base: *mut u8,
    capacity: usize,
}

// SAFETY: all access to the mapping goes through atomics.
unsafe impl Send for Table {}
unsafe impl Sync for Table {}

/// Bytes of mapping a table of `capacity` slots needs.
pub const fn size_for(capacity: usize) -> usize {
    HEADER + BLOOM + capacity * SLOT
}

/// A filter of one bit per key in front of the slots: most stats in a session are of
/// files it never recorded (system headers, /usr), and a clear bit answers them from
/// these 32 pages, where a probe would touch (and fault in) a slot page per lookup.
/// Bits are set before a record is written and never cleared (a removal only makes a
/// false positive, which the probe then answers).
const BLOOM_BITS: u64 = 1 << 20;
pub const BLOOM: usize = (BLOOM_BITS / 8) as usize;

/// Inode numbers come in runs (a directory's files are made one after another): a run of
/// BLOCK consecutive numbers on one device lands in BLOCK consecutive slots, one or two
/// pages, while the runs themselves scatter. A process touching many new files then maps
/// a page per BLOCK files, not one per file.
const BLOCK: u64 = 16;

fn hash(k: Key) -> u64 {
    let mut x = k.dev.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (k.ino / BLOCK);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    x.wrapping_mul(BLOCK) + k.ino % BLOCK
}

impl Table {
    /// Starts a new table in zeroed memory (a fresh memfd) of `len` bytes.
    ///
    /// # Safety
    /// `base` must point to `len` writable bytes that stay mapped while the table lives.
    pub unsafe fn init(base: *mut u8, len: usize, unknown_is_real: bool) -> Option<Table> {
        let capacity = len.checked_sub(HEADER + BLOOM)? / SLOT;
        if capacity == 0 || !capacity.is_power_of_two() || base.is_null() {
            return None;
        }
        let t = Table { base, capacity };
        let h = t.header();
        h.capacity.store(capacity as u64, Ordering::Relaxed);
        h.flags.store(COMPLETE | if unknown_is_real { UNKNOWN_IS_REAL } else { 0 }, Ordering::Relaxed);
        h.magic.store(MAGIC, Ordering::Release);
        Some(t)
    }

    /// A table another process made, mapped (read-only is enough) at `base`, `len` bytes.
    ///
    /// # Safety
    /// `base` must point to `len` readable bytes that stay mapped while the table lives.
    pub unsafe fn open(base: *const u8, len: usize) -> Option<Table> {
        if base.is_null() || len < HEADER {
            return None;
        }
        let t = Table { base: base as *mut u8, capacity: 0 };
        let h = t.header();
        if h.magic.load(Ordering::Acquire) != MAGIC {
            return None;
        }
        let capacity = h.capacity.load(Ordering::Relaxed) as usize;
        if capacity == 0 || !capacity.is_power_of_two() || size_for(capacity) > len {
            return None;
        }
        Some(Table { capacity, ..t })
    }

    fn header(&self) -> &Header {
        // SAFETY: the mapping starts with the header (checked by init/open).
        unsafe { &*(self.base as *const Header) }
    }

    fn slot(&self, i: usize) -> &Slot {
        debug_assert!(i < self.capacity);
        // SAFETY: i < capacity, and the mapping holds `capacity` slots after the header.
        unsafe { &*(self.base.add(HEADER + BLOOM + i * SLOT) as *const Slot) }
    }

    /// The filter's word and bit for `key`.
    fn bloom(&self, key: Key) -> (&AtomicU64, u64) {
        let mut x = key.dev.rotate_left(32) ^ key.ino.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 32;
        let bit = x & (BLOOM_BITS - 1);
        // SAFETY: the filter's BLOOM bytes follow the header; bit / 64 indexes a word there.
        let word = unsafe { &*(self.base.add(HEADER + (bit / 64) as usize * 8) as *const AtomicU64) };
        (word, 1 << (bit % 64))
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn unknown_is_real(&self) -> bool {
        self.header().flags.load(Ordering::Relaxed) & UNKNOWN_IS_REAL != 0
    }

    /// Does the table hold every recorded entry (so that a miss means "never touched")?
    pub fn complete(&self) -> bool {
        self.header().flags.load(Ordering::Acquire) & COMPLETE != 0
    }

    pub fn len(&self) -> usize {
        self.header().live.load(Ordering::Relaxed) as usize
    }

    /// Might a directory entry be a device node the disk holds as a plain file? (Never
    /// cleared once set.)
    pub fn has_devices(&self) -> bool {
        self.header().flags.load(Ordering::Acquire) & DEVICES != 0
    }

    /// Might a directory pass its group on to new files? (Never cleared once set.)
    pub fn has_setgid_dirs(&self) -> bool {
        self.header().flags.load(Ordering::Acquire) & SETGID_DIRS != 0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Does every record carry a birth time? Then a record left over from an earlier
    /// inode with the same number shows itself stale to every reader, and a new file
    /// needs no check against it when it is made.
    pub fn births_everywhere(&self) -> bool {
        self.header().flags.load(Ordering::Acquire) & NO_BIRTH == 0
    }

    /// Might any record have extended attributes? (Never cleared once set.)
    pub fn has_xattrs(&self) -> bool {
        self.header().flags.load(Ordering::Acquire) & XATTRS != 0
    }

    /// How many changes the writer has begun (see `Header::writes`).
    pub fn writes(&self) -> u64 {
        self.header().writes.load(Ordering::Acquire)
    }

    /// Slot `i` as it is: (state, key, record). Whole for the writer, who alone changes
    /// slots; a reader must check the sequence around it ([`Table::read`]).
    fn load(&self, i: usize) -> (u32, Key, Record) {
        let s = self.slot(i);
        let state = s.state.load(Ordering::Relaxed);
        let key = Key { dev: s.dev.load(Ordering::Relaxed), ino: s.ino.load(Ordering::Relaxed) };
        let birth = (state & HAS_BIRTH != 0)
            .then(|| Birth { sec: s.birth_sec.load(Ordering::Relaxed), nsec: s.birth_nsec.load(Ordering::Relaxed) });
        let rec = Record {
            uid: s.uid.load(Ordering::Relaxed),
            gid: s.gid.load(Ordering::Relaxed),
            mode: s.mode.load(Ordering::Relaxed),
            rdev: s.rdev.load(Ordering::Relaxed),
            birth,
            xattrs: state & HAS_XATTRS != 0,
        };
        (state & 0xff, key, rec)
    }

    /// A consistent copy of slot `i` for a reader: retried while the writer writes it, at
    /// most [`READ_RETRIES`] times.
    fn read(&self, i: usize) -> Result<(u32, Key, Record), Unsure> {
        let s = self.slot(i);
        for _ in 0..READ_RETRIES {
            let s1 = s.seq.load(Ordering::Acquire);
            if s1 & 1 != 0 {
                core::hint::spin_loop();
                continue;
            }
            let got = self.load(i);
            fence(Ordering::Acquire);
            if s.seq.load(Ordering::Relaxed) == s1 {
                return Ok(got);
            }
        }
        Err(Unsure)
    }

    /// The record for `key`, if the table has one (a reader's lookup). Never waits on the
    /// writer for long: a slot being written, or a probe that missed while a removal moved
    /// entries, is retried at most [`READ_RETRIES`] times; then the answer is [`Unsure`]
    /// and the caller asks the daemon.
    pub fn lookup(&self, key: Key) -> Result<Option<Record>, Unsure> {
        let (word, bit) = self.bloom(key);
        if word.load(Ordering::Acquire) & bit == 0 {
            return Ok(None); // never set: no record, and no slot page touched
        }
        let moving = &self.header().moving;
        for _ in 0..READ_RETRIES {
            let g = moving.load(Ordering::Acquire);
            if g & 1 != 0 {
                core::hint::spin_loop();
                continue;
            }
            if let Some(r) = self.probe(key, |i| self.read(i))?.1 {
                return Ok(Some(r)); // a whole record with this key is right wherever it sat
            }
            fence(Ordering::Acquire);
            if moving.load(Ordering::Relaxed) == g {
                return Ok(None); // no entry moved while we looked: a true miss
            }
        }
        Err(Unsure)
    }

    /// The record for `key` as the writer sees it (it alone changes the table, so
    /// nothing is half-written while it looks).
    pub fn get(&self, key: Key) -> Option<Record> {
        self.own_probe(key).1
    }

    fn own_probe(&self, key: Key) -> (usize, Option<Record>) {
        let Ok(found) = self.probe(key, |i| Ok::<_, core::convert::Infallible>(self.load(i)));
        found
    }

    /// Linear probe for `key` with `read`: (the slot where it is or where the probe
    /// stopped, record).
    fn probe<E>(
        &self,
        key: Key,
        read: impl Fn(usize) -> Result<(u32, Key, Record), E>,
    ) -> Result<(usize, Option<Record>), E> {
        let mask = self.capacity - 1;
        let mut i = hash(key) as usize & mask;
        for _ in 0..self.capacity {
            let (state, k, rec) = read(i)?;
            match state {
                LIVE if k == key => return Ok((i, Some(rec))),
                LIVE => i = (i + 1) & mask,
                _ => return Ok((i, None)),
            }
        }
        Ok((i, None))
    }

    fn write(&self, i: usize, state: u32, key: Key, rec: &Record) {
        let s = self.slot(i);
        let seq = s.seq.load(Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let mut st = state;
        if rec.birth.is_some() {
            st |= HAS_BIRTH;
        }
        if rec.xattrs {
            st |= HAS_XATTRS;
        }
        s.dev.store(key.dev, Ordering::Relaxed);
        s.ino.store(key.ino, Ordering::Relaxed);
        let b = rec.birth.unwrap_or(Birth { sec: 0, nsec: 0 });
        s.birth_sec.store(b.sec, Ordering::Relaxed);
        s.birth_nsec.store(b.nsec, Ordering::Relaxed);
        s.uid.store(rec.uid, Ordering::Relaxed);
        s.gid.store(rec.gid, Ordering::Relaxed);
        s.mode.store(rec.mode, Ordering::Relaxed);
        s.rdev.store(rec.rdev, Ordering::Relaxed);
        s.state.store(st, Ordering::Relaxed);
        s.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// Sets the record for `key` (writer only). Fails when the table is too full; the
    /// caller then keeps the entry elsewhere and calls [`Table::set_incomplete`].
    pub fn set(&self, key: Key, rec: &Record) -> Result<(), Full> {
        use crate::inode::mode;
        self.header().writes.fetch_add(1, Ordering::AcqRel);
        if rec.birth.is_none() {
            self.header().flags.fetch_or(NO_BIRTH, Ordering::Release);
        }
        if rec.xattrs {
            self.header().flags.fetch_or(XATTRS, Ordering::Release);
        }
        match rec.mode & mode::IFMT {
            mode::IFDIR if rec.mode & mode::ISGID != 0 => {
                self.header().flags.fetch_or(SETGID_DIRS, Ordering::Release);
            }
            mode::IFCHR | mode::IFBLK => {
                self.header().flags.fetch_or(DEVICES, Ordering::Release);
            }
            _ => {}
        }
        let (word, bit) = self.bloom(key);
        word.fetch_or(bit, Ordering::Release);
        let (i, found) = self.own_probe(key);
        if found.is_some() {
            self.write(i, LIVE, key, rec);
            return Ok(());
        }
        let live = &self.header().live;
        if (live.load(Ordering::Relaxed) as usize + 1) * 100 > self.capacity * MAX_LOAD_PERCENT {
            return Err(Full);
        }
        self.write(i, LIVE, key, rec);
        live.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Removes the record for `key`, if any (writer only), and shifts back the entries
    /// after it that probed past it.
    pub fn remove(&self, key: Key) {
        let (mut hole, found) = self.own_probe(key);
        if found.is_none() {
            return;
        }
        let h = self.header();
        h.writes.fetch_add(1, Ordering::AcqRel);
        h.moving.fetch_add(1, Ordering::AcqRel);
        let mask = self.capacity - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let (state, k, rec) = self.load(j);
            if state != LIVE {
                break;
            }
            let home = hash(k) as usize & mask;
            // Does the entry at j belong at or before the hole (cyclically)?
            let fits = if hole <= j { home <= hole || home > j } else { home <= hole && home > j };
            if fits {
                self.write(hole, LIVE, k, &rec);
                hole = j;
            }
        }
        self.write(
            hole,
            EMPTY,
            Key { dev: 0, ino: 0 },
            &Record { uid: 0, gid: 0, mode: 0, rdev: 0, birth: None, xattrs: false },
        );
        h.live.fetch_sub(1, Ordering::Relaxed);
        h.moving.fetch_add(1, Ordering::Release);
    }

    /// What the session sees for `real`, if the table can tell: a current record, or the
    /// default view of a file never touched. None: ask the daemon (a stale record, which
    /// it drops, a miss in a table that overflowed, or a lookup that gave up).
    pub fn view(&self, real: &crate::Real) -> Option<crate::Fake> {
        self.view_lazy(real, || real.birth)
    }

    /// [`Table::view`] of an inode seen without its birth time (a `struct stat`):
    /// `birth` fetches it, and is called only when the record has one to compare.
    pub fn view_lazy(&self, real: &crate::Real, birth: impl FnOnce() -> Option<Birth>) -> Option<crate::Fake> {
        match self.lookup(real.key) {
            Err(Unsure) => None,
            Ok(Some(r)) => {
                let seen = crate::Real { birth: if r.birth.is_some() { birth() } else { real.birth }, ..*real };
                // A stale record is the daemon's to drop: ask it.
                (!crate::inode::is_stale(r.mode, r.birth, &seen)).then_some(crate::Fake {
                    uid: r.uid,
                    gid: r.gid,
                    mode: r.mode,
                    rdev: r.rdev,
                })
            }
            Ok(None) if self.complete() => Some(crate::inode::default_view(real, self.unknown_is_real())),
            Ok(None) => None,
        }
    }

    /// From now on a miss must be asked of the daemon (writer only).
    pub fn set_incomplete(&self) {
        self.header().writes.fetch_add(1, Ordering::AcqRel);
        self.header().flags.fetch_and(!COMPLETE, Ordering::Release);
    }

    /// Every live entry (writer side: consistent while nobody writes).
    pub fn entries(&self) -> impl Iterator<Item = (Key, Record)> + '_ {
        (0..self.capacity).filter_map(|i| {
            let (state, k, r) = self.load(i);
            (state == LIVE).then_some((k, r))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{vec, vec::Vec};

    fn table(cap: usize) -> (Vec<u64>, Table) {
        let mut mem = vec![0u64; size_for(cap) / 8 + 1];
        // SAFETY: the vector outlives the table in each test.
        let t = unsafe { Table::init(mem.as_mut_ptr() as *mut u8, size_for(cap), false) }.unwrap();
        (mem, t)
    }

    fn rec(uid: u32) -> Record {
        Record {
            uid,
            gid: 2,
            mode: 0o100644,
            rdev: 0,
            birth: Some(Birth { sec: 5, nsec: 6 }),
            xattrs: uid.is_multiple_of(2),
        }
    }

    #[test]
    fn the_filter_answers_misses_without_touching_a_slot() {
        let cap = 1 << 12;
        let len = size_for(cap);
        // SAFETY: a private anonymous mapping, unmapped at the end of the test.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(base, libc::MAP_FAILED);
            let t = Table::init(base as *mut u8, len, false).unwrap();
            let present = Key { dev: 1, ino: 42 };
            t.set(present, &rec(5)).unwrap();
            // The slots become unreadable: a lookup that touched one would crash.
            let slots = (base as *mut u8).add(HEADER + BLOOM);
            assert_eq!(libc::mprotect(slots as *mut libc::c_void, cap * SLOT, libc::PROT_NONE), 0);
            let mut answered = 0;
            for ino in 1000..3000 {
                let k = Key { dev: 1, ino };
                let (word, bit) = t.bloom(k);
                if word.load(Ordering::Relaxed) & bit == 0 {
                    assert_eq!(t.lookup(k), Ok(None));
                    answered += 1;
                }
            }
            assert!(answered > 1990, "{answered} of 2000 misses answered by the filter");
            assert_eq!(libc::mprotect(slots as *mut libc::c_void, cap * SLOT, libc::PROT_READ), 0);
            assert_eq!(t.lookup(present).map(|r| r.map(|r| r.uid)), Ok(Some(5)));
            libc::munmap(base, len);
        }
    }

    #[test]
    fn consecutive_inodes_share_pages() {
        let mask = (DEFAULT_CAPACITY - 1) as u64;
        let start = hash(Key { dev: 27, ino: 4096 }) & mask;
        for i in 0..BLOCK {
            assert_eq!(hash(Key { dev: 27, ino: 4096 + i }) & mask, start + i);
        }
        assert_ne!(hash(Key { dev: 27, ino: 4096 + BLOCK }) & mask, start + BLOCK);
        assert_ne!(hash(Key { dev: 28, ino: 4096 }) & mask, start);
    }

    #[test]
    fn set_lookup_remove_and_reuse() {
        let (_m, t) = table(64);
        for i in 0..40 {
            t.set(Key { dev: 1, ino: i }, &rec(i as u32)).unwrap();
        }
        assert_eq!(t.len(), 40);
        for i in 0..40 {
            assert_eq!(t.lookup(Key { dev: 1, ino: i }), Ok(Some(rec(i as u32))));
        }
        assert_eq!(t.lookup(Key { dev: 2, ino: 0 }), Ok(None));
        for i in 0..40 {
            t.remove(Key { dev: 1, ino: i });
        }
        assert!(t.is_empty());
        // Removed entries leave nothing behind: the table takes as many again.
        for i in 100..140 {
            t.set(Key { dev: 1, ino: i }, &rec(1)).unwrap();
        }
        assert_eq!(t.entries().count(), 40);
        for i in 100..140 {
            assert_eq!(t.lookup(Key { dev: 1, ino: i }), Ok(Some(rec(1))));
        }
    }

    #[test]
    fn every_change_counts_and_a_record_without_birth_shows() {
        let (_m, t) = table(64);
        let k = Key { dev: 3, ino: 7 };
        let w0 = t.writes();
        t.set(k, &rec(1)).unwrap();
        assert!(t.writes() > w0 && t.births_everywhere());
        let w1 = t.writes();
        t.remove(Key { dev: 3, ino: 8 }); // nothing there: nothing changes
        assert_eq!(t.writes(), w1);
        t.remove(k);
        let w2 = t.writes();
        assert!(w2 > w1);
        t.set(k, &Record { birth: None, ..rec(1) }).unwrap();
        assert!(t.writes() > w2 && !t.births_everywhere());
        let w3 = t.writes();
        t.set_incomplete();
        assert!(t.writes() > w3);
    }

    #[test]
    fn a_record_with_xattrs_shows_in_the_header() {
        let (_m, t) = table(64);
        t.set(Key { dev: 3, ino: 1 }, &Record { xattrs: false, ..rec(1) }).unwrap();
        assert!(!t.has_xattrs());
        t.set(Key { dev: 3, ino: 2 }, &Record { xattrs: true, ..rec(1) }).unwrap();
        assert!(t.has_xattrs());
        t.remove(Key { dev: 3, ino: 2 });
        assert!(t.has_xattrs()); // never cleared
    }

    #[test]
    fn a_full_table_says_so() {
        let (_m, t) = table(16);
        let ok = (0..16).filter(|&i| t.set(Key { dev: 9, ino: i }, &rec(1)).is_ok()).count();
        assert_eq!(ok, 12);
        assert!(t.complete());
        t.set_incomplete();
        assert!(!t.complete());
    }

    #[test]
    fn removals_in_clusters_keep_every_other_key_findable() {
        let (_m, t) = table(256);
        let mut x: u64 = 7;
        let mut live = std::collections::BTreeSet::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = Key { dev: 1, ino: x % 300 };
            if x.is_multiple_of(3) {
                t.remove(k);
                live.remove(&k.ino);
            } else if t.set(k, &rec(k.ino as u32)).is_ok() {
                live.insert(k.ino);
            }
            if x.is_multiple_of(97) {
                for ino in 0..300 {
                    let got = t.lookup(Key { dev: 1, ino }).unwrap();
                    assert_eq!(got.is_some(), live.contains(&ino), "ino {ino}");
                }
            }
        }
        assert_eq!(t.len(), live.len());
    }

    #[test]
    fn a_key_survives_its_neighbours_coming_and_going() {
        let (_m, t) = table(64);
        t.set(Key { dev: 6, ino: 1000 }, &rec(4)).unwrap();
        for round in 0..2000u64 {
            for i in 0..30 {
                t.set(Key { dev: 5, ino: round * 100 + i }, &rec(1)).unwrap();
            }
            for i in 0..30 {
                t.remove(Key { dev: 5, ino: round * 100 + i });
                assert_eq!(t.lookup(Key { dev: 6, ino: 1000 }), Ok(Some(rec(4))), "round {round} i {i}");
            }
        }
    }

    #[test]
    fn readers_never_miss_a_key_while_others_are_removed() {
        let (m, t) = table(64);
        let base = m.as_ptr() as usize;
        let len = size_for(64);
        // A key that stays, among keys that come and go around it.
        t.set(Key { dev: 6, ino: 1000 }, &rec(4)).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let reader = std::thread::spawn(move || {
            // SAFETY: the mapping outlives the thread (joined below).
            let r = unsafe { Table::open(base as *const u8, len) }.unwrap();
            let mut n = 0u64;
            while !s2.load(Ordering::Relaxed) {
                // A reader that gave up (the writer was preempted mid-removal) would ask
                // the daemon: never a wrong answer.
                if let Ok(got) = r.lookup(Key { dev: 6, ino: 1000 }) {
                    assert_eq!(got, Some(rec(4)));
                }
                n += 1;
            }
            n
        });
        for round in 0..20_000u64 {
            for i in 0..30 {
                t.set(Key { dev: 5, ino: round * 100 + i }, &rec(1)).unwrap();
            }
            for i in 0..30 {
                t.remove(Key { dev: 5, ino: round * 100 + i });
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        drop(m);
    }

    #[test]
    fn readers_see_whole_records_while_the_writer_writes() {
        let (m, t) = table(1024);
        let base = m.as_ptr() as usize;
        let len = size_for(1024);
        t.set(Key { dev: 3, ino: 3 }, &Record { uid: 0, gid: 0, mode: 0, rdev: 0, birth: None, xattrs: false })
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s2, st2) = (stop.clone(), started.clone());
        let reader = std::thread::spawn(move || {
            // SAFETY: the mapping outlives the thread (joined below).
            let r = unsafe { Table::open(base as *const u8, len) }.unwrap();
            let mut seen = 0;
            st2.store(true, Ordering::Release);
            while !s2.load(Ordering::Relaxed) {
                if let Ok(Some(x)) = r.lookup(Key { dev: 3, ino: 3 }) {
                    assert_eq!(x.gid, x.uid * 2, "torn read");
                    seen += 1;
                }
            }
            seen
        });
        while !started.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        for i in 0..200_000u32 {
            t.set(Key { dev: 3, ino: 3 }, &Record { uid: i, gid: i * 2, mode: 0, rdev: 0, birth: None, xattrs: false })
                .unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
        drop(m);
    }

    #[test]
    fn a_slot_left_half_written_makes_readers_give_up_not_spin() {
        // The writer was killed in the middle of writing a slot: its sequence stays odd.
        // Readers whose probe meets it give up after READ_RETRIES and say so (the caller
        // then asks the daemon); keys the filter rules out are still answered.
        let (_m, t) = table(64);
        let k = Key { dev: 1, ino: 7 };
        t.set(k, &rec(5)).unwrap();
        let (i, _) = t.own_probe(k);
        t.slot(i).seq.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        assert_eq!(t.lookup(k), Err(Unsure));
        let real = crate::Real { key: k, birth: None, uid: 0, gid: 0, mode: 0o100644, rdev: 0, nlink: 1 };
        assert_eq!(t.view(&real), None, "a reader that gave up asks the daemon");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        let never = (0..1000).map(|ino| Key { dev: 9, ino }).find(|&k| {
            let (word, bit) = t.bloom(k);
            word.load(Ordering::Relaxed) & bit == 0
        });
        assert_eq!(t.lookup(never.unwrap()), Ok(None));
        // The writer's own view is whole (it alone writes), and a removal left half done
        // (the table-wide sequence odd) makes readers give up too.
        assert_eq!(t.get(k), Some(rec(5)));
        t.slot(i).seq.fetch_add(1, Ordering::Relaxed);
        assert_eq!(t.lookup(k), Ok(Some(rec(5))));
        t.header().moving.fetch_add(1, Ordering::Relaxed);
        assert_eq!(t.lookup(k), Err(Unsure));
    }
}
