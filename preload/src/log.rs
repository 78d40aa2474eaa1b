//! One raw-fd logger: silent unless `FAKEBOX_LOG=debug|trace`; never allocates.
use core::fmt::Write;
use core::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(0);

pub fn set_level(v: &[u8]) {
    LEVEL.store(
        match v {
            b"trace" => 2,
            b"debug" => 1,
            _ => 0,
        },
        Ordering::Relaxed,
    );
}

pub fn enabled(level: u8) -> bool {
    LEVEL.load(Ordering::Relaxed) >= level
}

/// A line built in a stack buffer; what does not fit is cut.
pub struct Line {
    buf: [u8; 512],
    len: usize,
}

impl Line {
    pub fn new() -> Line {
        let mut l = Line { buf: [0; 512], len: 0 };
        let _ = write!(l, "fakebox[{}]: ", crate::sys::getpid());
        l
    }

    pub fn finish(mut self) {
        let _ = self.write_str("\n");
        let file = crate::config::LOG_FILE.get();
        if file.is_empty() {
            let _ = crate::sys::write(2, &self.buf[..self.len]);
        } else if let Ok(fd) = crate::sys::openat(
            libc::AT_FDCWD,
            crate::config::LOG_FILE.c_str(),
            libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT | libc::O_CLOEXEC,
            0o600,
        ) {
            let _ = crate::sys::write(fd, &self.buf[..self.len]);
            let _ = crate::sys::close(fd);
        }
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = self.buf.len() - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// `debug!("...")`: one line when FAKEBOX_LOG asks for it.
macro_rules! debug {
    ($($t:tt)*) => {
        if $crate::log::enabled(1) {
            let mut l = $crate::log::Line::new();
            let _ = ::core::fmt::Write::write_fmt(&mut l, format_args!($($t)*));
            l.finish();
        }
    };
}

macro_rules! trace {
    ($($t:tt)*) => {
        if $crate::log::enabled(2) {
            let mut l = $crate::log::Line::new();
            let _ = ::core::fmt::Write::write_fmt(&mut l, format_args!($($t)*));
            l.finish();
        }
    };
}

/// A message the user must see whatever the log level (on stderr).
pub fn warn(args: core::fmt::Arguments<'_>) {
    let mut l = Line { buf: [0; 512], len: 0 };
    let _ = l.write_str("fakebox: ");
    let _ = l.write_fmt(args);
    let _ = l.write_str("\n");
    let _ = crate::sys::write(2, &l.buf[..l.len]);
}
