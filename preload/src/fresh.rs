//! Files this process has just made and that nobody has recorded anything for since:
//! tar opens each new file with O_CREAT|O_EXCL, then fchowns it to root and fchmods it.
//! While the shared table's change count is what it was before the create, such a file
//! is still the default view (fake root's, the mode on disk), so those calls need no
//! statx to learn which inode the descriptor holds. That is three statx per extracted
//! file less.
//!
//! A mark is per descriptor number. It goes when the library sees the number closed or
//! reused (close, dup2, dup3, close_range, closefrom, a new open), and all marks go when
//! glibc may close a descriptor out of sight (fclose, fcloseall, freopen, closedir) and at
//! exec (a vfork child shares this memory). Any change recorded anywhere in the session
//! also ends every mark, since the change count moves.
use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

const SLOTS: usize = 1024;

/// Per descriptor: 0, or the epoch (high 16 bits) and the table's change count plus one
/// (low 48 bits) at the time of the create. Mapped at the first mark: most programs make
/// no file, and 8 KiB of .bss would push the statics every exec touches onto one more page.
static MARKS: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());
/// Bumped to drop every mark at once.
static EPOCH: AtomicU64 = AtomicU64::new(1);

const COUNT_BITS: u32 = 48;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// `fd` was just created, with the change count `fake::plain_create` gave.
pub fn made(fd: i32, count: u64) {
    if let Some(m) = usize::try_from(fd).ok().and_then(|i| marks_or_map()?.get(i)) {
        m.store(EPOCH.load(Ordering::Relaxed) << COUNT_BITS | (count + 1), Ordering::Relaxed);
    }
}

/// Is `fd` a file this process made that is still the default view, with nothing
/// recorded anywhere since?
pub fn still(fd: i32) -> bool {
    let Some(m) = slot(fd) else { return false };
    let v = m.load(Ordering::Relaxed);
    if v == 0 || v >> COUNT_BITS != EPOCH.load(Ordering::Relaxed) & 0xffff {
        return false;
    }
    crate::shared::table().is_some_and(|t| t.writes() + 1 == v & COUNT_MASK)
}

/// The number `fd` no longer holds what it held.
pub fn forget(fd: i32) {
    if let Some(m) = slot(fd) {
        m.store(0, Ordering::Relaxed);
    }
}

/// Descriptors from `first` to `last` are closed.
pub fn forget_range(first: u32, last: u32) {
    if marks().is_some() {
        for fd in first..=last.min(SLOTS as u32 - 1) {
            forget(fd as i32);
        }
    }
}

/// glibc may have closed a descriptor where the library cannot see it.
pub fn forget_all() {
    if marks().is_some() {
        EPOCH.store((EPOCH.load(Ordering::Relaxed) + 1) & 0xffff | 1, Ordering::Relaxed);
    }
}

fn marks() -> Option<&'static [AtomicU64; SLOTS]> {
    // SAFETY: once set, MARKS points to a mapping of SLOTS zeroed words that is never unmapped.
    unsafe { MARKS.load(Ordering::Acquire).cast::<[AtomicU64; SLOTS]>().as_ref() }
}

fn slot(fd: i32) -> Option<&'static AtomicU64> {
    usize::try_from(fd).ok().and_then(|i| marks()?.get(i))
}

/// The marks, mapped on first use (None if the kernel refuses: then nothing is marked).
fn marks_or_map() -> Option<&'static [AtomicU64; SLOTS]> {
    if let Some(m) = marks() {
        return Some(m);
    }
    let map = crate::sys::Scratch::new(SLOTS * core::mem::size_of::<AtomicU64>()).ok()?;
    if MARKS.compare_exchange(core::ptr::null_mut(), map.ptr.cast(), Ordering::AcqRel, Ordering::Acquire).is_ok() {
        core::mem::forget(map); // kept for the life of the process
    } // else another thread mapped them first, and `map` goes
    marks()
}
