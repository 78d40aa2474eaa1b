//! Passing the shared table's memfd over a unix socket (SCM_RIGHTS), and mapping it:
//! the daemon sends, the preload library and the tracer receive. No allocation.
#![allow(unsafe_code)]

fn errno() -> i32 {
    // SAFETY: glibc's per-thread errno.
    unsafe { *libc::__errno_location() }
}

/// Sends `data` with `fd` attached, in one message.
pub fn send_with_fd(sock: i32, data: &[u8], fd: i32) -> Result<(), i32> {
    let mut iov = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let mut cbuf = [0u64; 4]; // room for one fd's control message, aligned
    // SAFETY: a one-fd SCM_RIGHTS message built in local buffers.
    unsafe {
        let mut msg: libc::msghdr = core::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = libc::CMSG_SPACE(core::mem::size_of::<libc::c_int>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(core::mem::size_of::<libc::c_int>() as u32) as usize;
        core::ptr::write_unaligned(libc::CMSG_DATA(c) as *mut libc::c_int, fd);
        if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) != data.len() as isize {
            return Err(errno());
        }
    }
    Ok(())
}

/// Receives exactly `buf.len()` bytes and the fd sent with them (close-on-exec).
pub fn recv_with_fd(sock: i32, buf: &mut [u8]) -> Result<i32, i32> {
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let mut cbuf = [0u64; 4];
    // SAFETY: recvmsg into local buffers; the control message is checked before use.
    unsafe {
        let mut msg: libc::msghdr = core::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = core::mem::size_of_val(&cbuf);
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_WAITALL);
        if n < 0 {
            return Err(errno());
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS {
            return Err(libc::EPROTO);
        }
        let fd = core::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::c_int);
        if n as usize != buf.len() {
            libc::syscall(libc::SYS_close, fd);
            return Err(libc::EPROTO);
        }
        Ok(fd)
    }
}

/// Maps the whole memfd read-only; returns (address, length). Raw system calls, so that
/// the preload library does not go through its own hooks.
pub fn map_readonly(fd: i32) -> Result<(usize, usize), i32> {
    // SAFETY: fstat into a zeroed local; a shared read-only mapping of the file.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        if libc::syscall(libc::SYS_fstat, fd, &mut st as *mut libc::stat) < 0 {
            return Err(errno());
        }
        let len = st.st_size as usize;
        let p = libc::syscall(libc::SYS_mmap, 0usize, len, libc::PROT_READ, libc::MAP_SHARED, fd, 0usize);
        if p < 0 {
            return Err(errno());
        }
        if crate::shm::Table::open(p as *const u8, len).is_none() {
            libc::syscall(libc::SYS_munmap, p, len);
            return Err(libc::EPROTO);
        }
        Ok((p as usize, len))
    }
}
