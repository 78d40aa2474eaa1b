//! Tree walks inside glibc (fts, nftw, ftw) stat through private calls no hook sees: their
//! results are put right before the program reads them. readdir's entry types too: a
//! device node is a plain file on disk, and `find -type c` trusts d_type without a stat.
use crate::fake;
use libc::{c_char, c_int, c_void};

/// glibc's FTSENT (fts.h); FTSENT64 has the same layout on x86_64.
#[repr(C)]
pub struct FtsEnt {
    cycle: *mut FtsEnt,
    parent: *mut FtsEnt,
    link: *mut FtsEnt,
    number: libc::c_long,
    pointer: *mut c_void,
    accpath: *mut c_char,
    path: *mut c_char,
    errno: c_int,
    symfd: c_int,
    pathlen: u16,
    namelen: u16,
    ino: libc::ino_t,
    dev: libc::dev_t,
    nlink: libc::nlink_t,
    level: i16,
    info: u16,
    flags: u16,
    instr: u16,
    statp: *mut libc::stat,
}

// fts_info values that come with a valid fts_statp.
const FTS_D: u16 = 1;
const FTS_DC: u16 = 2;
const FTS_DEFAULT: u16 = 3;
const FTS_DP: u16 = 6;
const FTS_F: u16 = 8;
const FTS_SL: u16 = 12;
const FTS_SLNONE: u16 = 13;

/// Writes the session's view over a struct stat glibc filled in itself. Without the
/// birth time, a reused inode number is still told apart by its file type.
fn fix_stat(st: &mut libc::stat) {
    let real = fakebox_proto::kernel::real_of_stat(st);
    if let Ok(f) = fake::view(&real) {
        st.st_uid = f.uid;
        st.st_gid = f.gid;
        st.st_mode = f.mode;
        st.st_rdev = f.rdev;
    }
}

fn fix_ent(e: *mut FtsEnt) {
    // SAFETY: an FTSENT glibc just handed out.
    let e = unsafe { &mut *e };
    if matches!(e.info, FTS_D | FTS_DC | FTS_DEFAULT | FTS_DP | FTS_F | FTS_SL | FTS_SLNONE) && !e.statp.is_null() {
        // SAFETY: fts_statp points at the entry's own struct stat.
        fix_stat(unsafe { &mut *e.statp });
    }
}

type FtsRead = unsafe extern "C" fn(*mut c_void) -> *mut FtsEnt;
type FtsChildren = unsafe extern "C" fn(*mut c_void, c_int) -> *mut FtsEnt;
next!(real_fts_read = c"fts_read": FtsRead);
next!(real_fts64_read = c"fts64_read": FtsRead);
next!(real_fts_children = c"fts_children": FtsChildren);
next!(real_fts64_children = c"fts64_children": FtsChildren);

fn read_with(real: Option<FtsRead>, fts: *mut c_void) -> *mut FtsEnt {
    let Some(real) = real else { return core::ptr::null_mut() };
    // SAFETY: forwarding the caller's stream.
    let e = unsafe { real(fts) };
    if !e.is_null() {
        fix_ent(e);
    }
    e
}

fn children_with(real: Option<FtsChildren>, fts: *mut c_void, opts: c_int) -> *mut FtsEnt {
    let Some(real) = real else { return core::ptr::null_mut() };
    // SAFETY: forwarding the caller's stream.
    let first = unsafe { real(fts, opts) };
    let mut e = first;
    while !e.is_null() {
        fix_ent(e);
        // SAFETY: walking glibc's list.
        e = unsafe { (*e).link };
    }
    first
}

pub unsafe fn fts_read(fts: *mut c_void) -> *mut FtsEnt {
    read_with(real_fts_read(), fts)
}
pub unsafe fn fts64_read(fts: *mut c_void) -> *mut FtsEnt {
    read_with(real_fts64_read(), fts)
}
pub unsafe fn fts_children(fts: *mut c_void, opts: c_int) -> *mut FtsEnt {
    children_with(real_fts_children(), fts, opts)
}
pub unsafe fn fts64_children(fts: *mut c_void, opts: c_int) -> *mut FtsEnt {
    children_with(real_fts64_children(), fts, opts)
}

// nftw and ftw: the program's callback is called through a trampoline that hands it a
// corrected copy of the struct stat. The callback in use is kept per thread (nftw runs on
// the caller's thread) and restored after, so nested walks work.

pub type NftwFn = unsafe extern "C" fn(*const c_char, *const libc::stat, c_int, *mut c_void) -> c_int;
pub type FtwFn = unsafe extern "C" fn(*const c_char, *const libc::stat, c_int) -> c_int;
type Nftw = unsafe extern "C" fn(*const c_char, NftwFn, c_int, c_int) -> c_int;

// The callbacks' per-thread slots live in csrc/shims.c (C's __thread).
const NFTW_CB: c_int = 0;
const FTW_CB: c_int = 1;
unsafe extern "C" {
    fn fakebox_walk_cb(which: c_int) -> *mut c_void;
    fn fakebox_walk_cb_swap(which: c_int, cb: *mut c_void) -> *mut c_void;
}

next!(real_nftw = c"nftw" @ c"GLIBC_2.3.3": Nftw);
next!(real_nftw64 = c"nftw64" @ c"GLIBC_2.3.3": Nftw);

fn fixed_copy(st: *const libc::stat) -> Option<libc::stat> {
    if st.is_null() {
        return None;
    }
    // SAFETY: glibc's buffer for this entry.
    let mut copy = unsafe { *st };
    fix_stat(&mut copy);
    Some(copy)
}

unsafe extern "C" fn nftw_tramp(path: *const c_char, st: *const libc::stat, flag: c_int, ftw: *mut c_void) -> c_int {
    let copy = fixed_copy(st);
    let p = copy.as_ref().map_or(st, |c| c as *const libc::stat);
    // SAFETY: the slot holds null or the NftwFn that with_nftw put there.
    match unsafe { core::mem::transmute::<*mut c_void, Option<NftwFn>>(fakebox_walk_cb(NFTW_CB)) } {
        // SAFETY: the program's own callback, with its own arguments.
        Some(cb) => unsafe { cb(path, p, flag, ftw) },
        None => 0,
    }
}

unsafe extern "C" fn ftw_tramp(path: *const c_char, st: *const libc::stat, flag: c_int, _ftw: *mut c_void) -> c_int {
    let copy = fixed_copy(st);
    let p = copy.as_ref().map_or(st, |c| c as *const libc::stat);
    // SAFETY: the slot holds null or the FtwFn that with_ftw put there.
    match unsafe { core::mem::transmute::<*mut c_void, Option<FtwFn>>(fakebox_walk_cb(FTW_CB)) } {
        // SAFETY: as above.
        Some(cb) => unsafe { cb(path, p, flag) },
        None => 0,
    }
}

fn walk(real: Option<Nftw>, dir: *const c_char, tramp: NftwFn, nopenfd: c_int, flags: c_int) -> c_int {
    let Some(real) = real else { return -1 };
    // SAFETY: glibc's nftw with our trampoline.
    unsafe { real(dir, tramp, nopenfd, flags) }
}

/// Runs `f` with `cb` as this thread's callback in slot `which`, then puts the old one back.
fn with_cb(which: c_int, cb: *mut c_void, f: impl FnOnce() -> c_int) -> c_int {
    // SAFETY: this thread's own slot.
    let old = unsafe { fakebox_walk_cb_swap(which, cb) };
    let r = f();
    // SAFETY: as above.
    unsafe { fakebox_walk_cb_swap(which, old) };
    r
}

fn with_nftw(cb: NftwFn, f: impl FnOnce() -> c_int) -> c_int {
    with_cb(NFTW_CB, cb as *mut c_void, f)
}

fn with_ftw(cb: FtwFn, f: impl FnOnce() -> c_int) -> c_int {
    with_cb(FTW_CB, cb as *mut c_void, f)
}

pub unsafe fn nftw(dir: *const c_char, cb: NftwFn, nopenfd: c_int, flags: c_int) -> c_int {
    with_nftw(cb, || walk(real_nftw(), dir, nftw_tramp, nopenfd, flags))
}
pub unsafe fn nftw64(dir: *const c_char, cb: NftwFn, nopenfd: c_int, flags: c_int) -> c_int {
    with_nftw(cb, || walk(real_nftw64(), dir, nftw_tramp, nopenfd, flags))
}
/// ftw is nftw without flags (following symlinks) and with a three-argument callback.
pub unsafe fn ftw(dir: *const c_char, cb: FtwFn, nopenfd: c_int) -> c_int {
    with_ftw(cb, || walk(real_nftw(), dir, ftw_tramp, nopenfd, 0))
}
pub unsafe fn ftw64(dir: *const c_char, cb: FtwFn, nopenfd: c_int) -> c_int {
    with_ftw(cb, || walk(real_nftw64(), dir, ftw_tramp, nopenfd, 0))
}

// readdir: a recorded device node shows its type in the directory entry as well.

next!(real_readdir = c"readdir": unsafe extern "C" fn(*mut c_void) -> *mut libc::dirent);
next!(real_readdir64 = c"readdir64": unsafe extern "C" fn(*mut c_void) -> *mut libc::dirent64);

/// The type a directory entry should report, if the session knows better than the disk.
fn entry_type(dir: *mut c_void, ino: u64, d_type: u8) -> Option<u8> {
    if d_type != libc::DT_REG {
        return None;
    }
    let t = crate::shared::table()?;
    if !t.has_devices() {
        return None;
    }
    // SAFETY: the program's open directory stream.
    let fd = unsafe { libc::dirfd(dir as *mut libc::DIR) };
    let dev = fake::see_fd(fd).ok()?.real.key.dev;
    fakebox_proto::kernel::dirent_type(t.lookup(fakebox_proto::Key { dev, ino }).map(|r| r.map(|r| r.mode)))
}

pub unsafe fn readdir(dir: *mut c_void) -> *mut libc::dirent {
    let Some(real) = real_readdir() else { return core::ptr::null_mut() };
    // SAFETY: forwarding the caller's stream; the entry is glibc's, ours to adjust.
    unsafe {
        let e = real(dir);
        if !e.is_null()
            && let Some(t) = entry_type(dir, (*e).d_ino, (*e).d_type)
        {
            (*e).d_type = t;
        }
        e
    }
}

pub unsafe fn readdir64(dir: *mut c_void) -> *mut libc::dirent64 {
    let Some(real) = real_readdir64() else { return core::ptr::null_mut() };
    // SAFETY: as above.
    unsafe {
        let e = real(dir);
        if !e.is_null()
            && let Some(t) = entry_type(dir, (*e).d_ino, (*e).d_type)
        {
            (*e).d_type = t;
        }
        e
    }
}
