//! The process's fake identity: real, effective, saved and filesystem ids, and the
//! supplementary groups. Inherited by fork (memory) and exec (FAKEBOX_IDS, written back by
//! the exec hooks). Changes follow the kernel's rules: euid 0 may set anything, others
//! only among their own real, effective and saved ids (the rules live in `fakebox_proto::ids`).
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use fakebox_proto::ids::Cred;

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
}

pub static UID: Set = Set::new();
pub static GID: Set = Set::new();
pub const MAX_GROUPS: usize = 256;
static GROUPS: [AtomicU32; MAX_GROUPS] = [const { AtomicU32::new(0) }; MAX_GROUPS];
static NGROUPS: AtomicUsize = AtomicUsize::new(1);

fn privileged() -> bool {
    UID.e.load(Relaxed) == 0
}

/// Takes the identity from FAKEBOX_IDS (as the launcher and the exec hooks write it).
pub fn parse(v: &[u8]) {
    let mut groups = [0u32; MAX_GROUPS];
    let Some((uid, gid, n)) = fakebox_proto::ids::parse(v, &mut groups) else { return };
    for (set, c) in [(&UID, uid), (&GID, gid)] {
        set.r.store(c.r, Relaxed);
        set.e.store(c.e, Relaxed);
        set.s.store(c.s, Relaxed);
        set.fs.store(c.fs, Relaxed);
    }
    for (slot, g) in GROUPS.iter().zip(&groups[..n]) {
        slot.store(*g, Relaxed);
    }
    NGROUPS.store(n, Relaxed);
}

/// Writes the identity in the form [`parse`] reads.
pub fn format(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    fakebox_proto::ids::format(w, &cred(&UID), &cred(&GID), groups())
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

/// Applies one of [`Cred`]'s changes to `set`, with the caller's privilege.
pub fn change<R>(set: &Set, f: impl FnOnce(&mut Cred, bool) -> R) -> R {
    let mut c =
        Cred { r: set.r.load(Relaxed), e: set.e.load(Relaxed), s: set.s.load(Relaxed), fs: set.fs.load(Relaxed) };
    let r = f(&mut c, privileged());
    set.r.store(c.r, Relaxed);
    set.e.store(c.e, Relaxed);
    set.s.store(c.s, Relaxed);
    set.fs.store(c.fs, Relaxed);
    r
}

/// The ids as one value.
pub fn cred(set: &Set) -> Cred {
    Cred { r: set.r.load(Relaxed), e: set.e.load(Relaxed), s: set.s.load(Relaxed), fs: set.fs.load(Relaxed) }
}
