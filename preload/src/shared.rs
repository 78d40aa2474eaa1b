//! The daemon's shared table, mapped read-only: lookups without a round trip.
//! Mapped on first use (through the launcher's `/proc/PID/fd/N`, or the daemon passes the
//! memfd over the socket), kept across fork
//! (the mapping is inherited), made again after exec.
use crate::client;
use crate::config;
use crate::sys;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use fakebox_proto::shm::Table;

const UNTRIED: u8 = 0;
const MAPPING: u8 = 1;
const READY: u8 = 2;
const FAILED: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(UNTRIED);
static BASE: AtomicUsize = AtomicUsize::new(0);
static LEN: AtomicUsize = AtomicUsize::new(0);

/// The table, or None while it is not (yet) mapped: callers then ask the daemon.
pub fn table() -> Option<Table> {
    match STATE.load(Ordering::Acquire) {
        READY => {
            // SAFETY: BASE/LEN describe our read-only mapping, never unmapped.
            unsafe { Table::open(BASE.load(Ordering::Relaxed) as *const u8, LEN.load(Ordering::Relaxed)) }
        }
        UNTRIED => {
            if STATE.compare_exchange(UNTRIED, MAPPING, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                let ok = map().is_ok();
                STATE.store(if ok { READY } else { FAILED }, Ordering::Release);
                if ok {
                    return table();
                }
            }
            None
        }
        _ => None,
    }
}

/// After fork: a mapping another thread was making is gone with that thread's work.
pub fn after_fork() {
    // Read first: a compare-and-swap writes the page even when it fails, and a forked
    // child that only execs should not copy it.
    if STATE.load(Ordering::Relaxed) == MAPPING {
        let _ = STATE.compare_exchange(MAPPING, UNTRIED, Ordering::AcqRel, Ordering::Relaxed);
    }
}

fn map() -> sys::Res<()> {
    // Opened where the launcher holds it, or else handed over by the daemon.
    let launchers = || match config::TABLE.get() {
        b"" => Err(libc::ENOENT),
        _ => sys::openat(libc::AT_FDCWD, config::TABLE.c_str(), libc::O_RDONLY | libc::O_CLOEXEC, 0),
    };
    let r = launchers().and_then(map_fd).or_else(|_| client::fetch_table().and_then(map_fd));
    debug!("shared table: {}", if r.is_ok() { "mapped" } else { "not mapped, asking the daemon" });
    r
}

/// Maps the table behind `fd`, and closes it.
fn map_fd(fd: i32) -> sys::Res<()> {
    let r = fakebox_proto::fdpass::map_readonly(fd).map(|(base, len)| {
        BASE.store(base, Ordering::Relaxed);
        LEN.store(len, Ordering::Relaxed);
    });
    let _ = sys::close(fd);
    r
}
