//! What a freestanding binary must bring itself: the memory routines the compiler calls,
//! and reads and writes of the program's memory that fail with EFAULT instead of a crash.
use crate::sys;
use core::arch::asm;

/// # Safety
/// The C contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: rep movsb copies n bytes forward (the direction flag is clear in the ABI).
    unsafe {
        asm!("rep movsb", inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") n => _, options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// The C contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: no overlap that a forward copy would clobber.
        return unsafe { memcpy(dst, src, n) };
    }
    // SAFETY: backwards, from the last byte (std; rep movsb; cld).
    unsafe {
        asm!(
            "std", "rep movsb", "cld",
            inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _, inout("rcx") n => _,
            options(nostack),
        );
    }
    dst
}

/// # Safety
/// The C contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: rep stosb stores n bytes.
    unsafe {
        asm!("rep stosb", inout("rdi") dst => _, inout("rcx") n => _, in("al") c as u8, options(nostack, preserves_flags));
    }
    dst
}

/// # Safety
/// The C contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: both hold n bytes; volatile keeps this loop from becoming a memcmp call.
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// The C contract.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

/// Copies between the program's memory at `addr` and `local` through the kernel, so that
/// a bad address is EFAULT (false), as the real call would say, not a crash.
fn copy_user(addr: u64, local: *mut u8, len: usize, write: bool) -> bool {
    let pid = sys::getpid() as u64;
    let l = [local as u64, len as u64]; // struct iovec
    let r = [addr, len as u64];
    let nr = if write { libc::SYS_process_vm_writev } else { libc::SYS_process_vm_readv };
    sys::call(nr, [pid, l.as_ptr() as u64, 1, r.as_ptr() as u64, 1, 0]) == len as i64
}

pub fn read_user<const N: usize>(addr: u64, out: &mut [u64; N]) -> bool {
    copy_user(addr, out.as_mut_ptr() as *mut u8, N * 8, false)
}

pub fn write_user<const N: usize>(addr: u64, v: &[u64; N]) -> bool {
    copy_user(addr, v.as_ptr() as *mut u8, N * 8, true)
}
