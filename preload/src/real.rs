//! The next definition of a libc function, for the few hooks that must call libc itself
//! (fopen, posix_spawn, nftw...) rather than the kernel. Resolved once, on first use.
use core::ffi::CStr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// The resolved address, 0 until the first use. It holds no pointer of its own (the
/// names are arguments), so it lies in .bss: the loader relocates nothing here.
pub struct Next {
    addr: AtomicUsize,
}

impl Next {
    pub const fn new() -> Next {
        Next { addr: AtomicUsize::new(0) }
    }

    /// The address of `name` (at `version`, if given), or None if libc has no such
    /// function (the hook then fails with ENOSYS).
    pub fn addr(&self, name: &CStr, version: Option<&CStr>) -> Option<usize> {
        let a = self.addr.load(Ordering::Relaxed);
        if a != 0 {
            return Some(a);
        }
        // SAFETY: dlsym/dlvsym with NUL-terminated names.
        let p = unsafe {
            match version {
                Some(v) => libc::dlvsym(libc::RTLD_NEXT, name.as_ptr(), v.as_ptr()),
                None => libc::dlsym(libc::RTLD_NEXT, name.as_ptr()),
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
            static N: $crate::real::Next = $crate::real::Next::new();
            // SAFETY: the symbol is the libc function of this exact C signature.
            N.addr($sym, next!(@ver $($ver)?)).map(|a| unsafe { core::mem::transmute::<usize, $ty>(a) })
        }
    };
    (@ver) => { None };
    (@ver $v:literal) => { Some($v) };
}
