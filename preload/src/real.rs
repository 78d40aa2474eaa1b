//! The next definition of a libc function, for the few hooks that must call libc itself
//! (fopen, posix_spawn, nftw...) rather than the kernel. Resolved once, on first use.
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Next {
    name: &'static std::ffi::CStr,
    version: Option<&'static std::ffi::CStr>,
    addr: AtomicUsize,
}

impl Next {
    pub const fn new(name: &'static std::ffi::CStr, version: Option<&'static std::ffi::CStr>) -> Next {
        Next { name, version, addr: AtomicUsize::new(0) }
    }

    /// The address, or None if libc has no such function (the hook then fails with ENOSYS).
    pub fn addr(&self) -> Option<usize> {
        let a = self.addr.load(Ordering::Relaxed);
        if a != 0 {
            return Some(a);
        }
        // SAFETY: dlsym/dlvsym with NUL-terminated names.
        let p = unsafe {
            match self.version {
                Some(v) => libc::dlvsym(libc::RTLD_NEXT, self.name.as_ptr(), v.as_ptr()),
                None => libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()),
            }
        };
        if p.is_null() {
            return None;
        }
        self.addr.store(p as usize, Ordering::Relaxed);
        Some(p as usize)
    }
}

/// `next!(NAME: fn(args) -> ret)` declares a static [`Next`] and a typed accessor
/// `NAME()` returning the function pointer, or None.
macro_rules! next {
    ($vis:vis $name:ident = $sym:literal $(@ $ver:literal)? : $ty:ty) => {
        $vis fn $name() -> Option<$ty> {
            static N: $crate::real::Next = $crate::real::Next::new($sym, next!(@ver $($ver)?));
            // SAFETY: the symbol is the libc function of this exact C signature.
            N.addr().map(|a| unsafe { std::mem::transmute::<usize, $ty>(a) })
        }
    };
    (@ver) => { None };
    (@ver $v:literal) => { Some($v) };
}
