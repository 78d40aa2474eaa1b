//! The shared table's memory: a memfd the daemon maps read-write and seals so that
//! clients can only map it read-only (F_SEAL_FUTURE_WRITE), with a fixed size.
use fakebox_proto::shm::{self, Table};
use std::os::fd::{AsFd, BorrowedFd};

pub struct Shared {
    memfd: memfd::Memfd,
    base: *mut libc::c_void,
    len: usize,
    table: Table,
}

// SAFETY: the mapping is only written through the table's atomics, by the one writer
// that holds the daemon's lock.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    pub fn create(capacity: usize, unknown_is_real: bool) -> std::io::Result<Shared> {
        let err = |e: memfd::Error| std::io::Error::other(e.to_string());
        let memfd = memfd::MemfdOptions::default().allow_sealing(true).create("fakebox-table").map_err(err)?;
        let len = shm::size_for(capacity);
        memfd.as_file().set_len(len as u64)?;
        // SAFETY: a fresh shared mapping of the whole memfd.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                std::os::fd::AsRawFd::as_raw_fd(memfd.as_file()),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        memfd
            .add_seals(&[
                memfd::FileSeal::SealShrink,
                memfd::FileSeal::SealGrow,
                memfd::FileSeal::SealFutureWrite,
                memfd::FileSeal::SealSeal,
            ])
            .map_err(err)?;
        // SAFETY: the mapping is `len` bytes, zeroed, and lives as long as `Shared`.
        let table = unsafe { Table::init(base as *mut u8, len, unknown_is_real) }
            .ok_or_else(|| std::io::Error::other("bad shared table size"))?;
        Ok(Shared { memfd, base, len, table })
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub fn mapping(&self) -> (usize, usize) {
        (self.base as usize, self.len)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.memfd.as_file().as_fd()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; nothing borrows the table past this point.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_cannot_map_it_writable() {
        let s = Shared::create(1024, false).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s.fd());
        // SAFETY: trying a writable shared mapping of the sealed memfd: it must fail.
        let p = unsafe {
            libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        assert_eq!(p, libc::MAP_FAILED);
        // SAFETY: a read-only mapping works and sees the table.
        let r = unsafe { libc::mmap(std::ptr::null_mut(), s.len, libc::PROT_READ, libc::MAP_SHARED, fd, 0) };
        assert_ne!(r, libc::MAP_FAILED);
        let key = fakebox_proto::Key { dev: 1, ino: 2 };
        let rec = shm::Record { uid: 5, gid: 6, mode: 0o100644, rdev: 0, birth: None, xattrs: false };
        s.table().set(key, &rec).unwrap();
        // SAFETY: the read-only mapping is s.len bytes.
        let view = unsafe { Table::open(r as *const u8, s.len) }.unwrap();
        assert_eq!(view.lookup(key), Ok(Some(rec)));
        // SAFETY: unmapping the test's mapping.
        unsafe { libc::munmap(r, s.len) };
    }
}
