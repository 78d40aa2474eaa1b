//! What the session told this process through its environment, read once (at load, or
//! at the first hook that needs it) into fixed buffers that hooks can read without locks.
use crate::ids;
use fakebox_proto::env as vars;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// A byte string written once during [`init`] and only read afterwards.
pub struct Fixed<const N: usize> {
    buf: UnsafeCell<[u8; N]>,
    len: AtomicUsize,
}

// SAFETY: written only while INIT is in progress on one thread, read after it is done.
unsafe impl<const N: usize> Sync for Fixed<N> {}

impl<const N: usize> Fixed<N> {
    pub const fn new() -> Self {
        Fixed { buf: UnsafeCell::new([0; N]), len: AtomicUsize::new(0) }
    }

    fn set(&self, v: &[u8]) -> bool {
        if v.len() >= N {
            return false;
        }
        // SAFETY: see the Sync impl.
        unsafe {
            let b = &mut *self.buf.get();
            b[..v.len()].copy_from_slice(v);
            b[v.len()] = 0;
        }
        self.len.store(v.len(), Ordering::Release);
        true
    }

    /// The value, without its NUL.
    pub fn get(&self) -> &[u8] {
        let n = self.len.load(Ordering::Acquire);
        // SAFETY: see the Sync impl.
        unsafe { &(&*self.buf.get())[..n] }
    }

    /// The value as a C string.
    pub fn c_str(&self) -> *const libc::c_char {
        self.buf.get() as *const libc::c_char
    }
}

pub static SOCKET: Fixed<108> = Fixed::new();
pub static LIB: Fixed<4096> = Fixed::new();
pub static LOG: Fixed<16> = Fixed::new();
pub static LOG_FILE: Fixed<4096> = Fixed::new();
/// The fakebox binary (the tracer's trampoline); empty when the session has no tracer.
pub static EXE: Fixed<4096> = Fixed::new();
pub static TRACER: Fixed<16> = Fixed::new();
pub static ATTACH: Fixed<108> = Fixed::new();

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
            std::hint::spin_loop();
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
    if let Some(v) = getenv(vars::IDS) {
        ids::parse(v);
    }
    crate::log::set_level(LOG.get());
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
    let fd = std::str::from_utf8(v).ok().and_then(|s| s.parse::<i32>().ok());
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
