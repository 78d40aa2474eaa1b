//! A stopped thread: its registers, its memory, and the paths it names.
use std::ffi::OsStr;
use std::io::{Error, Result};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub type Regs = libc::user_regs_struct;

/// The errno of the last failed call.
pub fn errno() -> i32 {
    last().raw_os_error().unwrap_or(libc::EIO)
}

fn last() -> Error {
    Error::last_os_error()
}

pub fn get_regs(tid: i32) -> Result<Regs> {
    // SAFETY: PTRACE_GETREGS into a local of the right type.
    unsafe {
        let mut r: Regs = std::mem::zeroed();
        if libc::ptrace(libc::PTRACE_GETREGS, tid, 0, &mut r as *mut Regs) < 0 {
            return Err(last());
        }
        Ok(r)
    }
}

pub fn set_regs(tid: i32, r: &Regs) -> Result<()> {
    // SAFETY: PTRACE_SETREGS from a valid struct.
    if unsafe { libc::ptrace(libc::PTRACE_SETREGS, tid, 0, r as *const Regs) } < 0 {
        return Err(last());
    }
    Ok(())
}

/// The six system call arguments.
pub fn args(r: &Regs) -> [u64; 6] {
    [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9]
}

pub fn set_arg(r: &mut Regs, i: usize, v: u64) {
    match i {
        0 => r.rdi = v,
        1 => r.rsi = v,
        2 => r.rdx = v,
        3 => r.r10 = v,
        4 => r.r8 = v,
        _ => r.r9 = v,
    }
}

pub fn read(tid: i32, addr: u64, buf: &mut [u8]) -> Result<usize> {
    let local = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: reading another process's memory into our buffer.
    let n = unsafe { libc::process_vm_readv(tid, &local, 1, &remote, 1, 0) };
    if n < 0 { Err(last()) } else { Ok(n as usize) }
}

pub fn write(tid: i32, addr: u64, data: &[u8]) -> Result<()> {
    let local = libc::iovec { iov_base: data.as_ptr() as *mut libc::c_void, iov_len: data.len() };
    let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: data.len() };
    // SAFETY: writing our buffer into another process's memory.
    let n = unsafe { libc::process_vm_writev(tid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(last());
    }
    if n as usize != data.len() {
        return Err(Error::from_raw_os_error(libc::EFAULT));
    }
    Ok(())
}

/// A NUL-terminated string, read page by page so that a string ending just before an
/// unmapped page still reads.
pub fn read_cstr(tid: i32, addr: u64) -> Result<Vec<u8>> {
    if addr == 0 {
        return Err(Error::from_raw_os_error(libc::EFAULT));
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() <= libc::PATH_MAX as usize {
        let room = 4096 - (at % 4096) as usize;
        let mut chunk = [0u8; 4096];
        let n = read(tid, at, &mut chunk[..room])?;
        if n == 0 {
            return Err(Error::from_raw_os_error(libc::EFAULT));
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Err(Error::from_raw_os_error(libc::ENAMETOOLONG))
}

/// Where the tracer finds what the tracee names: an absolute path as it is (with
/// /proc/self rewritten to the tracee), a relative one below the tracee's cwd or dirfd
/// through /proc. `empty_ok` is AT_EMPTY_PATH: an empty path names `dirfd` itself.
pub fn resolve(tgid: i32, tid: i32, dirfd: i32, path: &[u8], empty_ok: bool) -> Result<PathBuf> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Error::from_raw_os_error(libc::ENOENT));
        }
        return Ok(if dirfd == libc::AT_FDCWD {
            format!("/proc/{tid}/cwd").into()
        } else {
            format!("/proc/{tid}/fd/{dirfd}").into()
        });
    }
    if path[0] == b'/' {
        for (prefix, with) in [
            (&b"/proc/self"[..], format!("/proc/{tgid}")),
            (&b"/proc/thread-self"[..], format!("/proc/{tgid}/task/{tid}")),
        ] {
            if path.starts_with(prefix) && matches!(path.get(prefix.len()), None | Some(b'/')) {
                let mut p = with.into_bytes();
                p.extend_from_slice(&path[prefix.len()..]);
                return Ok(PathBuf::from(OsStr::from_bytes(&p)));
            }
        }
        return Ok(PathBuf::from(OsStr::from_bytes(path)));
    }
    let base = if dirfd == libc::AT_FDCWD { format!("/proc/{tid}/cwd") } else { format!("/proc/{tid}/fd/{dirfd}") };
    let mut p = base.into_bytes();
    p.push(b'/');
    p.extend_from_slice(path);
    Ok(PathBuf::from(OsStr::from_bytes(&p)))
}

/// The thread group a thread belongs to, from /proc.
pub fn tgid_of(tid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// The process's umask, from /proc (needed where the tracer creates a file for it).
pub fn umask_of(tid: i32) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}
