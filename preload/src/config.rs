//! What the session told this process through its environment, read once (at load, or
//! at the first hook that needs it) into fixed buffers that hooks can read without locks.
use crate::ids;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use fakebox_proto::env as vars;

/// A byte string, at most `N - 1` bytes, copied once during [`init`] (into [`ARENA`]) and
/// only read afterwards.
pub struct Fixed<const N: usize> {
    /// The NUL-terminated copy, or null while unset.
    at: AtomicPtr<u8>,
    len: AtomicUsize,
}

impl<const N: usize> Fixed<N> {
    pub const fn new() -> Self {
        Fixed { at: AtomicPtr::new(core::ptr::null_mut()), len: AtomicUsize::new(0) }
    }

    fn set(&self, v: &[u8]) -> bool {
        if v.len() >= N {
            return false;
        }
        let Some(p) = ARENA.take(v.len() + 1) else { return false };
        // SAFETY: `p` is ours, v.len() + 1 bytes long, and never handed out again.
        unsafe {
            core::ptr::copy_nonoverlapping(v.as_ptr(), p, v.len());
            *p.add(v.len()) = 0;
        }
        self.len.store(v.len(), Ordering::Relaxed);
        self.at.store(p, Ordering::Release);
        true
    }

    /// The value, without its NUL.
    pub fn get(&self) -> &[u8] {
        let p = self.at.load(Ordering::Acquire);
        if p.is_null() {
            return b"";
        }
        // SAFETY: written once by `set` before `at` was published, never changed after.
        unsafe { core::slice::from_raw_parts(p, self.len.load(Ordering::Relaxed)) }
    }

    /// The value as a C string.
    pub fn c_str(&self) -> *const libc::c_char {
        let p = self.at.load(Ordering::Acquire);
        if p.is_null() { c"".as_ptr() } else { p as *const libc::c_char }
    }
}

/// Where the values live: one small buffer, so that a process touches a single page of
/// the library's memory for them at load (page faults are the price of an exec); a value
/// that does not fit (long paths) gets a mapping of its own.
struct Arena {
    buf: UnsafeCell<[u8; ARENA_SIZE]>,
    used: AtomicUsize,
}

const ARENA_SIZE: usize = 1024;

// SAFETY: only `init` takes from it, while STATE says RUNNING, on one thread.
unsafe impl Sync for Arena {}

impl Arena {
    fn take(&self, len: usize) -> Option<*mut u8> {
        let used = self.used.load(Ordering::Relaxed);
        if len <= ARENA_SIZE - used {
            self.used.store(used + len, Ordering::Relaxed);
            // SAFETY: within the buffer; the bytes from `used` on were never handed out.
            return Some(unsafe { (self.buf.get() as *mut u8).add(used) });
        }
        // Never unmapped: the values live as long as the process.
        crate::sys::Scratch::new(len).ok().map(|m| {
            let p = m.ptr;
            core::mem::forget(m);
            p
        })
    }
}

static ARENA: Arena = Arena { buf: UnsafeCell::new([0; ARENA_SIZE]), used: AtomicUsize::new(0) };

pub static SOCKET: Fixed<108> = Fixed::new();
pub static LIB: Fixed<4096> = Fixed::new();
pub static LOG: Fixed<16> = Fixed::new();
pub static LOG_FILE: Fixed<4096> = Fixed::new();
/// The fakebox binary (the tracer's trampoline); empty when the session has no tracer.
pub static EXE: Fixed<4096> = Fixed::new();
pub static TRACER: Fixed<16> = Fixed::new();
pub static ATTACH: Fixed<108> = Fixed::new();
/// Where the shared table can be opened (`/proc/PID/fd/N`); empty: ask the daemon for it.
pub static TABLE: Fixed<48> = Fixed::new();

const UNINIT: u8 = 0;
const RUNNING: u8 = 1;
const DONE: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(UNINIT);

fn getenv(name: &str) -> Option<&'static [u8]> {
    let mut key = [0u8; 32];
    key[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: getenv with a NUL-terminated name; the value lives in environ.
    let v = unsafe { libc::getenv(key.as_ptr() as *const libc::c_char) };
    if v.is_null() { None } else { Some(crate::sys::cstr(v)) }
}

/// Reads the session's variables. Runs once; concurrent callers wait for the first.
pub fn init() {
    if STATE.load(Ordering::Acquire) == DONE {
        return;
    }
    if STATE.compare_exchange(UNINIT, RUNNING, Ordering::AcqRel, Ordering::Acquire).is_err() {
        while STATE.load(Ordering::Acquire) != DONE {
            core::hint::spin_loop();
        }
        return;
    }
    let set = |f: &dyn Fn(&[u8]) -> bool, name: &str| {
        if let Some(v) = getenv(name) {
            f(v);
        }
    };
    set(&|v| SOCKET.set(v), vars::SOCKET);
    set(&|v| LIB.set(v), vars::LIB);
    set(&|v| LOG.set(v), vars::LOG);
    set(&|v| LOG_FILE.set(v), vars::LOG_FILE);
    set(&|v| EXE.set(v), vars::EXE);
    set(&|v| TRACER.set(v), vars::TRACER);
    set(&|v| ATTACH.set(v), vars::ATTACH);
    set(&|v| TABLE.set(v), vars::TABLE);
    if let Some(v) = getenv(vars::IDS) {
        ids::parse(v);
    }
    if !LOG.get().is_empty() {
        crate::log::set_level(LOG.get());
    }
    STATE.store(DONE, Ordering::Release);
}

/// Is this process part of a session at all?
pub fn in_session() -> bool {
    init();
    !SOCKET.get().is_empty()
}

/// At load: tell the launcher the library took hold, once, through the hello pipe.
pub fn hello() {
    let Some(v) = getenv(vars::HELLO_FD) else { return };
    let fd = parse_fd(v);
    // SAFETY: removing our own variable before main runs, while single-threaded.
    unsafe {
        let mut key = [0u8; 32];
        key[..vars::HELLO_FD.len()].copy_from_slice(vars::HELLO_FD.as_bytes());
        libc::unsetenv(key.as_ptr() as *const libc::c_char);
    }
    if let Some(fd) = fd.filter(|&fd| fd > 2) {
        let _ = crate::sys::write(fd, b"1");
        let _ = crate::sys::close(fd);
    }
}

/// A decimal fd number (without pulling the generic number parser into every load).
fn parse_fd(v: &[u8]) -> Option<i32> {
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    v.iter().try_fold(0i32, |n, &c| c.is_ascii_digit().then(|| n * 10 + i32::from(c - b'0')))
}
