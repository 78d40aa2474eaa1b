//! The process's fake identity: real, effective, saved and filesystem ids, and the
//! supplementary groups. Inherited by fork (memory) and exec (FAKEBOX_IDS, written back by
//! the exec hooks). Changes follow the kernel's rules: euid 0 may set anything, others
//! only among their own real, effective and saved ids.
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

pub struct Set {
    pub r: AtomicU32,
    pub e: AtomicU32,
    pub s: AtomicU32,
    pub fs: AtomicU32,
}

impl Set {
    const fn new() -> Set {
        Set { r: AtomicU32::new(0), e: AtomicU32::new(0), s: AtomicU32::new(0), fs: AtomicU32::new(0) }
    }
    fn all(&self, v: u32) {
        for a in [&self.r, &self.e, &self.s, &self.fs] {
            a.store(v, Relaxed);
        }
    }
    fn is_own(&self, v: u32) -> bool {
        v == self.r.load(Relaxed) || v == self.e.load(Relaxed) || v == self.s.load(Relaxed)
    }
}

pub static UID: Set = Set::new();
pub static GID: Set = Set::new();
pub const MAX_GROUPS: usize = 256;
static GROUPS: [AtomicU32; MAX_GROUPS] = [const { AtomicU32::new(0) }; MAX_GROUPS];
static NGROUPS: AtomicUsize = AtomicUsize::new(1);

/// `-1` in the C API: leave unchanged.
const KEEP: u32 = u32::MAX;

fn privileged() -> bool {
    UID.e.load(Relaxed) == 0
}

/// Parses `r,e,s,fs:r,e,s,fs:g1,g2,...` (as the launcher and [`format`] write it).
pub fn parse(v: &[u8]) {
    let mut parts = v.split(|&b| b == b':');
    let num = |b: &[u8]| std::str::from_utf8(b).ok().and_then(|s| s.parse::<u32>().ok());
    for set in [&UID, &GID] {
        let Some(p) = parts.next() else { return };
        let vals = p.split(|&b| b == b',').filter_map(num);
        for (a, v) in [&set.r, &set.e, &set.s, &set.fs].into_iter().zip(vals) {
            a.store(v, Relaxed);
        }
    }
    if let Some(p) = parts.next() {
        let mut n = 0;
        for g in p.split(|&b| b == b',').filter_map(num).take(MAX_GROUPS) {
            GROUPS[n].store(g, Relaxed);
            n += 1;
        }
        NGROUPS.store(n, Relaxed);
    }
}

/// Writes the identity in the form [`parse`] reads.
pub fn format(w: &mut impl std::fmt::Write) -> std::fmt::Result {
    for (i, set) in [&UID, &GID].into_iter().enumerate() {
        if i > 0 {
            w.write_char(':')?;
        }
        write!(w, "{},{},{},{}", set.r.load(Relaxed), set.e.load(Relaxed), set.s.load(Relaxed), set.fs.load(Relaxed))?;
    }
    w.write_char(':')?;
    for (i, g) in groups().enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        write!(w, "{g}")?;
    }
    Ok(())
}

pub fn groups() -> impl Iterator<Item = u32> {
    (0..NGROUPS.load(Relaxed)).map(|i| GROUPS[i].load(Relaxed))
}

pub fn in_group(gid: u32) -> bool {
    gid == GID.fs.load(Relaxed) || groups().any(|g| g == gid)
}

pub fn set_groups(list: &[u32]) -> Result<(), i32> {
    if !privileged() {
        return Err(libc::EPERM);
    }
    if list.len() > MAX_GROUPS {
        return Err(libc::EINVAL);
    }
    for (i, g) in list.iter().enumerate() {
        GROUPS[i].store(*g, Relaxed);
    }
    NGROUPS.store(list.len(), Relaxed);
    Ok(())
}

pub fn ngroups() -> usize {
    NGROUPS.load(Relaxed)
}

/// setuid / setgid: root sets all four ids; others only the effective one, to an own id.
pub fn set_id(set: &Set, v: u32) -> Result<(), i32> {
    if v == KEEP {
        return Err(libc::EINVAL);
    }
    if privileged() {
        set.all(v);
        Ok(())
    } else if v == set.r.load(Relaxed) || v == set.s.load(Relaxed) {
        set.e.store(v, Relaxed);
        set.fs.store(v, Relaxed);
        Ok(())
    } else {
        Err(libc::EPERM)
    }
}

/// seteuid / setegid.
pub fn set_eid(set: &Set, v: u32) -> Result<(), i32> {
    if v == KEEP {
        return Err(libc::EINVAL);
    }
    if !privileged() && !set.is_own(v) {
        return Err(libc::EPERM);
    }
    set.e.store(v, Relaxed);
    set.fs.store(v, Relaxed);
    Ok(())
}

/// setreuid / setregid (the kernel's rule for the saved id included).
pub fn set_reid(set: &Set, r: u32, e: u32) -> Result<(), i32> {
    let (or, oe) = (set.r.load(Relaxed), set.e.load(Relaxed));
    if !privileged() && ((r != KEEP && r != or && r != oe) || (e != KEEP && !set.is_own(e))) {
        return Err(libc::EPERM);
    }
    if r != KEEP {
        set.r.store(r, Relaxed);
    }
    if e != KEEP {
        set.e.store(e, Relaxed);
        set.fs.store(e, Relaxed);
    }
    if r != KEEP || (e != KEEP && e != or) {
        set.s.store(set.e.load(Relaxed), Relaxed);
    }
    Ok(())
}

/// setresuid / setresgid.
pub fn set_resid(set: &Set, r: u32, e: u32, s: u32) -> Result<(), i32> {
    if !privileged() && [r, e, s].iter().any(|&v| v != KEEP && !set.is_own(v)) {
        return Err(libc::EPERM);
    }
    if r != KEEP {
        set.r.store(r, Relaxed);
    }
    if e != KEEP {
        set.e.store(e, Relaxed);
        set.fs.store(e, Relaxed);
    }
    if s != KEEP {
        set.s.store(s, Relaxed);
    }
    Ok(())
}

/// setfsuid / setfsgid: returns the previous value whether or not it changed.
pub fn set_fsid(set: &Set, v: u32) -> u32 {
    let old = set.fs.load(Relaxed);
    if v != KEEP && (privileged() || set.is_own(v) || v == old) {
        set.fs.store(v, Relaxed);
    }
    old
}
