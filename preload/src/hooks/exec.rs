//! Processes: every exec and spawn carries the session on, even when the caller stripped
//! LD_PRELOAD or the session's variables (`env -i`), and the child inherits the fake
//! identity as it is now (docs/ARCHITECTURE.md, promise 9). A program LD_PRELOAD cannot reach is named on
//! stderr: it would run without the fake.
use crate::config;
use crate::ids;
use crate::sys::{self, Res, Scratch, ret};
use core::fmt::Write;
use fakebox_proto::elf::{self, Runtime};
use fakebox_proto::env as vars;
use fakebox_proto::mechanism::{self, Mechanism, Program, Why};
use libc::{c_char, c_int, pid_t};

type Argv = *const *const c_char;

unsafe extern "C" {
    static mut environ: *const *const c_char;
}

fn environ_now() -> Argv {
    // SAFETY: reading the process's environ pointer.
    unsafe { *core::ptr::addr_of!(environ) }
}

/// Builds `KEY=value` strings and a NULL-terminated array in one mapping.
struct EnvBuilder {
    map: Scratch,
    /// Next free pointer slot.
    slot: usize,
    slots: usize,
    /// Next free string byte, counted from the end of the pointer area.
    text: usize,
}

impl EnvBuilder {
    fn new(entries: usize, text: usize) -> Res<EnvBuilder> {
        let slots = entries + 1;
        let map = Scratch::new(slots * 8 + text)?;
        Ok(EnvBuilder { map, slot: 0, slots, text: slots * 8 })
    }

    fn push_ptr(&mut self, p: *const c_char) {
        if self.slot + 1 < self.slots {
            // SAFETY: within the pointer area of our mapping.
            unsafe { *(self.map.ptr as *mut *const c_char).add(self.slot) = p };
            self.slot += 1;
        }
    }

    /// Appends `name=` + the pieces, NUL-terminated, and adds it to the array.
    fn push(&mut self, name: &str, pieces: &[&[u8]]) -> Res<()> {
        let len = name.len() + 1 + pieces.iter().map(|p| p.len()).sum::<usize>() + 1;
        if self.text + len > self.map.len {
            return Err(libc::E2BIG);
        }
        let start = self.text;
        let bytes = self.map.bytes();
        let mut at = start;
        for part in [name.as_bytes(), b"="].into_iter().chain(pieces.iter().copied()) {
            bytes[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        bytes[at] = 0;
        self.text = at + 1;
        let p = bytes[start..].as_ptr() as *const c_char;
        self.push_ptr(p);
        Ok(())
    }

    /// Appends a NUL-terminated copy of `s` and adds it to the array.
    fn push_raw(&mut self, s: &[u8]) -> Res<()> {
        if self.text + s.len() + 1 > self.map.len {
            return Err(libc::E2BIG);
        }
        let start = self.text;
        let bytes = self.map.bytes();
        bytes[start..start + s.len()].copy_from_slice(s);
        bytes[start + s.len()] = 0;
        self.text = start + s.len() + 1;
        let p = bytes[start..].as_ptr() as *const c_char;
        self.push_ptr(p);
        Ok(())
    }

    fn finish(self) -> (Scratch, Argv) {
        // The slot after the last is still zero: the NULL terminator.
        let p = self.map.ptr as Argv;
        (self.map, p)
    }
}

fn var_name(entry: &[u8]) -> &[u8] {
    &entry[..entry.iter().position(|&b| b == b'=').unwrap_or(entry.len())]
}

fn is_session_var(name: &[u8]) -> bool {
    name == b"LD_PRELOAD"
        || vars::ALL.iter().any(|v| v.as_bytes() == name)
        || name == vars::HELLO_FD.as_bytes()
        || name == vars::RUNTIME.as_bytes()
}

/// The value [`session_env`] gives the session's variable `name` (one of [`vars::ALL`]),
/// or None when it leaves that variable out.
fn session_value<'a>(name: &[u8], ids: &'a [u8]) -> Option<&'a [u8]> {
    let always = |v: &'a [u8]| Some(v);
    let unless_empty = |v: &'a [u8]| (!v.is_empty()).then_some(v);
    match name {
        n if n == vars::SOCKET.as_bytes() => always(config::SOCKET.get()),
        n if n == vars::LIB.as_bytes() => always(config::LIB.get()),
        n if n == vars::IDS.as_bytes() => always(ids),
        n if n == vars::LOG.as_bytes() => unless_empty(config::LOG.get()),
        n if n == vars::LOG_FILE.as_bytes() => unless_empty(config::LOG_FILE.get()),
        n if n == vars::EXE.as_bytes() => unless_empty(config::EXE.get()),
        n if n == vars::TRACER.as_bytes() => unless_empty(config::TRACER.get()),
        n if n == vars::ATTACH.as_bytes() => unless_empty(config::ATTACH.get()),
        n if n == vars::TABLE.as_bytes() => unless_empty(config::TABLE.get()),
        _ => None,
    }
}

/// Does `envp` (`n` entries) already hold exactly what [`session_env`] would make of it
/// for a program that loads the library: each of the session's variables once, with the
/// value it would get, `LD_PRELOAD` naming our library alone, no hello fd? Then it can
/// go to the exec as it is: the common case (a shell running a command) needs no copy.
fn env_is_session(envp: Argv, n: usize, ids: &[u8]) -> bool {
    let lib = config::LIB.get();
    // One bit per variable of vars::ALL, and the last for LD_PRELOAD.
    let mut seen = 0u32;
    for i in 0..n {
        // SAFETY: a NULL-terminated array of C strings, as execve requires (n entries).
        let e = sys::cstr(unsafe { *envp.add(i) });
        let name = var_name(e);
        if !is_session_var(name) {
            continue;
        }
        let value = e.get(name.len() + 1..).unwrap_or(b"");
        let (bit, want) = match vars::ALL.iter().position(|v| v.as_bytes() == name) {
            Some(k) => (1 << k, session_value(name, ids)),
            None if name == b"LD_PRELOAD" => (1 << vars::ALL.len(), Some(lib)),
            None => return false, // the hello fd or a runtime put first: rebuilt without them
        };
        if seen & bit != 0 || want != Some(value) || e.len() == name.len() {
            return false;
        }
        seen |= bit;
    }
    let mut expect = 1u32 << vars::ALL.len();
    for (k, v) in vars::ALL.iter().enumerate() {
        if session_value(v.as_bytes(), ids).is_some() {
            expect |= 1 << k;
        }
    }
    seen == expect
}

/// `envp` with the session's variables put back, for a program `verdict` describes; the
/// mapping must live until the exec. A program whose loader cannot take the library (musl,
/// another loader: `Verdict::Foreign`) gets the variables without it, for its children.
fn session_env(envp: Argv, verdict: Verdict) -> Res<(Option<Scratch>, Argv)> {
    if !config::in_session() {
        return Ok((None, envp));
    }
    let load = verdict != Verdict::Foreign;
    let runtime = match &verdict {
        Verdict::Preload(Some(r)) => Some(r.name()),
        _ => None,
    };
    let mut n = 0;
    let mut other_preload: &[u8] = b"";
    let mut added: &[u8] = b"";
    if !envp.is_null() {
        // SAFETY: a NULL-terminated array of C strings, as execve requires.
        while !unsafe { *envp.add(n) }.is_null() {
            let e = sys::cstr(unsafe { *envp.add(n) });
            let name = var_name(e);
            if name == b"LD_PRELOAD" {
                other_preload = &e[11..];
            } else if name == vars::RUNTIME.as_bytes() {
                added = &e[name.len() + 1..];
            }
            n += 1;
        }
    }
    let mut idbuf = Small::default();
    let ids_ok = ids::format(&mut idbuf).is_ok();
    let ids = idbuf.bytes();
    if load && runtime.is_none() && ids_ok && !envp.is_null() && env_is_session(envp, n, ids) {
        return Ok((None, envp));
    }
    let lib = config::LIB.get();
    let mut b = EnvBuilder::new(n + vars::ALL.len() + 3, 16384 + other_preload.len() + lib.len())?;
    for i in 0..n {
        // SAFETY: as above.
        let p = unsafe { *envp.add(i) };
        if !is_session_var(var_name(sys::cstr(p))) {
            b.push_ptr(p);
        }
    }
    let mut entries: [&[u8]; 32] = [b""; 32];
    let (k, added_now) = vars::preload_order(lib, load, runtime, other_preload, added, &mut entries);
    let mut pieces: [&[u8]; 64] = [b""; 64];
    for (i, e) in entries[..k].iter().enumerate() {
        pieces[2 * i] = if i == 0 { b"" } else { b":" };
        pieces[2 * i + 1] = e;
    }
    if k > 0 {
        b.push("LD_PRELOAD", &pieces[..2 * k])?;
    }
    if let (true, Some(r)) = (added_now, runtime) {
        b.push(vars::RUNTIME, &[r])?;
    }
    for name in vars::ALL {
        if let Some(v) = session_value(name.as_bytes(), ids) {
            b.push(name, &[v])?;
        }
    }
    let (map, p) = b.finish();
    Ok((Some(map), p))
}

/// A short string on the stack.
#[derive(Default)]
struct Small {
    buf: Vec0,
    len: usize,
}
struct Vec0([u8; 2048]);
impl Default for Vec0 {
    fn default() -> Self {
        Vec0([0; 2048])
    }
}
impl Small {
    fn bytes(&self) -> &[u8] {
        &self.buf.0[..self.len]
    }
}
impl Write for Small {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.0.len() {
            return Err(core::fmt::Error);
        }
        self.buf.0[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Reads a file through its first bytes, already read (program headers, PT_INTERP and
/// notes usually lie there: one system call for the whole sniff), then through pread.
struct FdAt<'a> {
    fd: c_int,
    head: &'a [u8],
}
impl elf::ReadAt for FdAt<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        let cached = usize::try_from(offset).ok().and_then(|o| self.head.get(o..o.checked_add(buf.len())?));
        match cached {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                buf.len()
            }
            None => sys::pread(self.fd, buf, offset).unwrap_or(0),
        }
    }
}

/// What the program about to run needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// LD_PRELOAD reaches it (or the kernel will refuse it anyway). A sanitizer's runtime
    /// that it names goes before the library (see `env::preload_order`).
    Preload(Option<Runtime>),
    /// A loader that cannot take a glibc library (musl...): it must not see LD_PRELOAD.
    Foreign,
    /// Only the tracer can fake it (`mechanism::decide` said so, or the tracer refuses it).
    Tracer,
}

/// The program an exec names: a path relative to a directory fd (with execveat's
/// flags), or with AT_EMPTY_PATH and an empty path, the fd itself.
#[derive(Clone, Copy)]
struct Target {
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
}

impl Target {
    fn path(path: *const c_char) -> Target {
        Target { dirfd: libc::AT_FDCWD, path, flags: 0 }
    }

    fn by_fd(&self) -> bool {
        self.flags & libc::AT_EMPTY_PATH != 0 && sys::cstr(self.path).is_empty()
    }
}

/// What opening the program for the sniff gave.
enum Opened {
    /// An fd of ours to read it through (closed after).
    Own(c_int),
    /// The program's own fd, readable as it is (not closed).
    Theirs(c_int),
    /// It is there but cannot be read (mode 0111, no /proc for an fd opened O_PATH...).
    Unreadable,
    /// Not there (or not reachable): the exec fails the same way, and nothing runs.
    Missing,
}

fn open_target(t: Target) -> Opened {
    if t.by_fd() {
        let mut buf = [0u8; 32];
        if let Ok(fd) = sys::openat(libc::AT_FDCWD, fd_path(t.dirfd, &mut buf), libc::O_RDONLY | libc::O_CLOEXEC, 0) {
            return Opened::Own(fd);
        }
        let mut one = [0u8; 1];
        return match sys::pread(t.dirfd, &mut one, 0) {
            Ok(_) => Opened::Theirs(t.dirfd),
            Err(libc::EBADF) if sys::fcntl_getfd(t.dirfd).is_err() => Opened::Missing,
            Err(_) => Opened::Unreadable,
        };
    }
    let nofollow = if t.flags & libc::AT_SYMLINK_NOFOLLOW != 0 { libc::O_NOFOLLOW } else { 0 };
    match sys::openat(t.dirfd, t.path, libc::O_RDONLY | libc::O_CLOEXEC | nofollow, 0) {
        Ok(fd) => Opened::Own(fd),
        Err(_) => {
            // SAFETY: statx fills the buffer it is given; all-zero is a valid statx.
            let mut st: libc::statx = unsafe { core::mem::zeroed() };
            match sys::statx(t.dirfd, t.path, t.flags & libc::AT_SYMLINK_NOFOLLOW, &mut st) {
                Ok(()) => Opened::Unreadable,
                Err(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG | libc::EACCES) => Opened::Missing,
                Err(_) => Opened::Unreadable,
            }
        }
    }
}

/// What reading the head of an opened program gave.
enum Head {
    /// This many bytes, and whether its exec raises privileges (its real mode, file
    /// capabilities).
    Read(usize, bool),
    /// Not a regular file: the exec fails (EACCES), nothing runs.
    NotAFile,
    Unreadable,
}

fn read_head(fd: c_int, head: &mut [u8]) -> Head {
    // SAFETY: as in open_target.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    if sys::statx(fd, c"".as_ptr(), libc::AT_EMPTY_PATH, &mut st).is_err() {
        return Head::Unreadable;
    }
    if u32::from(st.stx_mode) & libc::S_IFMT != libc::S_IFREG {
        return Head::NotAFile;
    }
    let caps = sys::fgetxattr_size(fd, c"security.capability").is_ok();
    let privileged = mechanism::raises_privileges(u32::from(st.stx_mode), caps);
    match sys::pread(fd, head, 0) {
        Ok(n) => Head::Read(n, privileged),
        Err(_) => Head::Unreadable,
    }
}

/// Looks at the program about to run, and at the interpreters its `#!` lines name, and
/// applies `mechanism::decide` to each until it says which mechanism runs it.
fn sniff(target: Target) -> Verdict {
    if target.path.is_null() || !config::in_session() {
        return Verdict::Preload(None);
    }
    let mut head = [0u8; 4096]; // the string table of most programs, for `elf::Runtime`
    let mut interp = [0u8; 512];
    let mut t = target;
    for scripts in 0..=mechanism::MAX_SCRIPTS {
        let (fd, own) = match open_target(t) {
            Opened::Own(fd) => (fd, true),
            Opened::Theirs(fd) => (fd, false),
            Opened::Unreadable => return tracer_for(t.path, Why::Unreadable, None),
            Opened::Missing => return Verdict::Preload(None),
        };
        let read = read_head(fd, &mut head);
        let (n, program) = match read {
            Head::Read(n, privileged) => (n, Program { head: Some(&head[..n]), privileged, scripts }),
            Head::Unreadable => (0, Program { head: None, privileged: false, scripts }),
            Head::NotAFile => (0, Program { head: Some(&[]), privileged: false, scripts }),
        };
        let decision = mechanism::decide(program, &mut FdAt { fd, head: &head[..n] });
        if own {
            let _ = sys::close(fd);
        }
        match decision {
            Mechanism::Preload(runtime) => return Verdict::Preload(runtime),
            Mechanism::NotExecutable => return Verdict::Preload(None),
            Mechanism::Tracer(why) | Mechanism::Refuse(why) => {
                let foreign = match why {
                    Why::Elf(e) => e.interp != elf::Interp::None && e.interp != elf::Interp::Glibc,
                    _ => false,
                };
                return tracer_for(t.path, why, Some(foreign));
            }
            Mechanism::Script { interp: (a, b), .. } => {
                // The kernel finds the interpreter from the current directory.
                let len = (b - a).min(interp.len() - 1);
                interp[..len].copy_from_slice(&head[a..a + len]);
                interp[len] = 0;
                t = Target::path(interp.as_ptr() as *const c_char);
            }
        }
    }
    tracer_for(t.path, Why::TooManyScripts, None)
}

/// The verdict for a program only the tracer fakes; a session without a tracer
/// (--mechanism preload) says on stderr that it runs without the fake.
fn tracer_for(path: *const c_char, why: Why, foreign: Option<bool>) -> Verdict {
    if !config::EXE.get().is_empty() {
        return Verdict::Tracer;
    }
    crate::log::warn(format_args!(
        "{} is a {} program, which LD_PRELOAD cannot reach, and this session has no tracer (--mechanism preload): it runs WITHOUT the fake",
        String0(sys::cstr(path)),
        why.describe()
    ));
    if foreign == Some(true) { Verdict::Foreign } else { Verdict::Preload(None) }
}

/// Displays bytes without allocating.
struct String0<'a>(&'a [u8]);
impl core::fmt::Display for String0<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for chunk in self.0.utf8_chunks() {
            f.write_str(chunk.valid())?;
        }
        Ok(())
    }
}

/// execvp's search: the path it will run, written into `buf` (or `file` itself when it
/// names a path). None when nothing on PATH matches (execvp will say ENOENT or EACCES).
fn resolve(file: *const c_char, buf: &mut [u8; 4096]) -> Option<*const c_char> {
    let name = sys::cstr(file);
    if name.is_empty() || name.contains(&b'/') {
        return Some(file);
    }
    // SAFETY: getenv of a constant name.
    let path = unsafe { libc::getenv(c"PATH".as_ptr()) };
    let path = if path.is_null() { &b"/bin:/usr/bin"[..] } else { sys::cstr(path) };
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let len = dir.len() + 1 + name.len();
        if len >= buf.len() {
            continue;
        }
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + 1..len].copy_from_slice(name);
        buf[len] = 0;
        let p = buf.as_ptr() as *const c_char;
        if runnable(p) {
            return Some(p);
        }
    }
    None
}

/// Would execve run `p` (a regular file we may execute), as execvp's tries find out?
/// faccessat2 first; where the kernel lacks it (before 5.8) or a seccomp profile denies
/// it, faccessat; where that too is denied, the mode bits.
fn runnable(p: *const c_char) -> bool {
    // SAFETY: statx fills the buffer it is given; all-zero is a valid statx.
    let mut st: libc::statx = unsafe { core::mem::zeroed() };
    let regular = |st: &mut libc::statx| {
        sys::statx(libc::AT_FDCWD, p, 0, st).is_ok() && u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFREG
    };
    let denied = |e| e == libc::ENOSYS || e == libc::EPERM;
    match sys::faccessat2(libc::AT_FDCWD, p, libc::X_OK, libc::AT_EACCESS) {
        Ok(()) => return regular(&mut st),
        Err(e) if !denied(e) => return false,
        Err(_) => {}
    }
    match sys::faccessat(libc::AT_FDCWD, p, libc::X_OK) {
        Ok(()) => return regular(&mut st),
        Err(e) if !denied(e) => return false,
        Err(_) => {}
    }
    regular(&mut st) && u32::from(st.stx_mode) & 0o111 != 0
}

/// `fakebox __attach [--fd N] PATH ARGV...`: the arguments that hand `path` to the tracer
/// without changing the pid (with `--fd`, the program is the file open at fd N, which
/// the trampoline's exec keeps open). The mapping must live until the exec.
fn trampoline(path: *const c_char, fd: Option<c_int>, argv: Argv) -> Res<(Scratch, Argv)> {
    let mut n = 0;
    // SAFETY: a NULL-terminated array, as execve requires.
    while !argv.is_null() && !unsafe { *argv.add(n) }.is_null() {
        n += 1;
    }
    let mut b = EnvBuilder::new(n + 5, 64)?;
    b.push_ptr(config::EXE.c_str());
    b.push_raw(b"__attach")?;
    if let Some(fd) = fd {
        let mut w = Small::default();
        let _ = write!(w, "{fd}");
        b.push_raw(b"--fd")?;
        b.push_raw(w.bytes())?;
    }
    b.push_ptr(path);
    for i in 0..n {
        // SAFETY: as above.
        b.push_ptr(unsafe { *argv.add(i) });
    }
    Ok(b.finish())
}

/// execve as the session needs it: through the tracer, or with the library, or without.
fn exec_as(path: *const c_char, argv: Argv, envp: Argv, verdict: Verdict) -> Res<()> {
    let (_keep_env, env) = session_env(envp, verdict)?;
    if verdict == Verdict::Tracer {
        let (_keep_argv, targv) = trampoline(path, None, argv)?;
        return sys::execve(config::EXE.c_str(), targv, env);
    }
    sys::execve(path, argv, env)
}

/// The tracer's trampoline for a program named by an fd, or by a directory fd and a
/// relative path: an fd of the program that survives the trampoline's exec goes with it
/// (`__attach --fd`), and `__attach` runs that with execveat.
fn exec_traced_at(t: Target, argv: Argv, envp: Argv) -> Res<()> {
    let nofollow = if t.flags & libc::AT_SYMLINK_NOFOLLOW != 0 { libc::O_NOFOLLOW } else { 0 };
    let fd = if t.by_fd() {
        sys::fcntl_dupfd(t.dirfd, 0)?
    } else {
        sys::openat(t.dirfd, t.path, libc::O_PATH | nofollow, 0)?
    };
    let mut buf = [0u8; 32];
    let shown = if t.by_fd() { fd_path(t.dirfd, &mut buf) } else { t.path };
    let r = session_env(envp, Verdict::Tracer).and_then(|(_keep_env, env)| {
        let (_keep_argv, targv) = trampoline(shown, Some(fd), argv)?;
        sys::execve(config::EXE.c_str(), targv, env)
    });
    let _ = sys::close(fd); // only reached when the exec failed
    r
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakebox_execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    ret(exec_as(path, argv, envp, sniff(Target::path(path))).map(|()| 0))
}

next!(real_execvpe = c"execvpe": unsafe extern "C" fn(*const c_char, Argv, Argv) -> c_int);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakebox_execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    let mut buf = [0u8; 4096];
    if let Some(p) = resolve(file, &mut buf) {
        let v = sniff(Target::path(p));
        if v == Verdict::Tracer {
            return ret(exec_as(p, argv, envp, v).map(|()| 0));
        }
        let Some(real) = real_execvpe() else { return ret(Err(libc::ENOSYS)) };
        return match session_env(envp, v) {
            // SAFETY: forwarding to glibc's execvpe with a valid environment. The path
            // found is what was sniffed: glibc does not search again (it still hands a
            // file the kernel refuses to /bin/sh).
            Ok((_keep, env)) => unsafe { real(p, argv, env) },
            Err(e) => ret(Err(e)),
        };
    }
    let Some(real) = real_execvpe() else { return ret(Err(libc::ENOSYS)) };
    match session_env(envp, Verdict::Preload(None)) {
        // SAFETY: as above (glibc reports the failure).
        Ok((_keep, env)) => unsafe { real(file, argv, env) },
        Err(e) => ret(Err(e)),
    }
}

pub unsafe fn execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    unsafe { fakebox_execve(path, argv, envp) }
}
pub unsafe fn execv(path: *const c_char, argv: Argv) -> c_int {
    unsafe { fakebox_execve(path, argv, environ_now()) }
}
pub unsafe fn execvp(file: *const c_char, argv: Argv) -> c_int {
    unsafe { fakebox_execvpe(file, argv, environ_now()) }
}
pub unsafe fn execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    unsafe { fakebox_execvpe(file, argv, envp) }
}

/// `/proc/self/fd/N`, for messages and for opening the file an fd names.
fn fd_path(fd: c_int, buf: &mut [u8; 32]) -> *const c_char {
    let mut w = Small::default();
    let _ = write!(w, "/proc/self/fd/{fd}");
    let b = w.bytes();
    buf[..b.len()].copy_from_slice(b);
    buf[b.len()] = 0;
    buf.as_ptr() as *const c_char
}

pub unsafe fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    unsafe { execveat(fd, c"".as_ptr(), argv, envp, libc::AT_EMPTY_PATH) }
}

/// execveat, and fexecve through it: the file the kernel will run is sniffed (the fd
/// itself with AT_EMPTY_PATH, else the path from the directory fd).
pub unsafe fn execveat(dirfd: c_int, path: *const c_char, argv: Argv, envp: Argv, flags: c_int) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    let t = Target { dirfd, path, flags };
    let v = sniff(t);
    if v == Verdict::Tracer {
        let named = !path.is_null() && !t.by_fd() && flags & libc::AT_SYMLINK_NOFOLLOW == 0;
        if named && (dirfd == libc::AT_FDCWD || sys::cstr(path).first() == Some(&b'/')) {
            return ret(exec_as(path, argv, envp, v).map(|()| 0));
        }
        return ret(exec_traced_at(t, argv, envp).map(|()| 0));
    }
    ret(session_env(envp, v).and_then(|(_keep, env)| sys::execveat(dirfd, path, argv, env, flags).map(|()| 0)))
}

next!(real_fork = c"fork": unsafe extern "C" fn() -> pid_t);
next!(real_fork_old_name = c"__fork": unsafe extern "C" fn() -> pid_t);

/// fork and its old name __fork: the child takes over the parent's connections to the
/// daemon (client::after_fork) before it asks anything. A hook, rather than a
/// pthread_atfork handler registered at every load: that registration wrote a page of
/// libc's in every exec'd program, forking or not. Not seen here: a child forked inside
/// libc (daemon, forkpty) or by _Fork, which is left alone because it must stay safe in a
/// signal handler and a hook's first call resolves the real function with dlsym. Such a
/// child, like a vfork child, leaves the pool alone and opens a connection per request:
/// slower, the same to the program.
pub unsafe fn fork() -> pid_t {
    forked(real_fork())
}

pub unsafe fn __fork() -> pid_t {
    forked(real_fork_old_name())
}

fn forked(real: Option<unsafe extern "C" fn() -> pid_t>) -> pid_t {
    let Some(real) = real else { return ret(Err(libc::ENOSYS)) };
    // SAFETY: libc's fork, with no arguments.
    let pid = unsafe { real() };
    if pid == 0 {
        crate::client::after_fork();
    }
    pid
}

type Spawn =
    unsafe extern "C" fn(*mut pid_t, *const c_char, *const libc::c_void, *const libc::c_void, Argv, Argv) -> c_int;
next!(real_posix_spawn = c"posix_spawn" @ c"GLIBC_2.15": Spawn);
next!(real_posix_spawnp = c"posix_spawnp" @ c"GLIBC_2.15": Spawn);

/// posix_spawn runs its child's exec inside glibc, where no hook reaches: a program for
/// the tracer is spawned as the trampoline instead.
#[allow(clippy::too_many_arguments)]
fn spawn(
    real: Option<Spawn>,
    verdict: Verdict,
    pid: *mut pid_t,
    path: *const c_char,
    fa: *const libc::c_void,
    attr: *const libc::c_void,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let Some(real) = real else { return libc::ENOSYS };
    let env = match session_env(envp, verdict) {
        Ok(e) => e,
        Err(e) => return e,
    };
    if verdict == Verdict::Tracer {
        let Some(plain) = real_posix_spawn() else { return libc::ENOSYS };
        return match trampoline(path, None, argv) {
            // SAFETY: glibc's posix_spawn with valid arrays.
            Ok((_keep, targv)) => unsafe { plain(pid, config::EXE.c_str(), fa, attr, targv, env.1) },
            Err(e) => e,
        };
    }
    // SAFETY: forwarding to glibc with a valid environment; posix_spawn returns errno.
    unsafe { real(pid, path, fa, attr, argv, env.1) }
}

pub unsafe fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    fa: *const libc::c_void,
    attr: *const libc::c_void,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let v = sniff(Target::path(path));
    spawn(real_posix_spawn(), v, pid, path, fa, attr, argv, envp)
}

pub unsafe fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    fa: *const libc::c_void,
    attr: *const libc::c_void,
    argv: Argv,
    envp: Argv,
) -> c_int {
    let mut buf = [0u8; 4096];
    match resolve(file, &mut buf) {
        Some(p) => {
            // The path found is what was sniffed: glibc does not search again.
            let v = sniff(Target::path(p));
            spawn(real_posix_spawnp(), v, pid, p, fa, attr, argv, envp)
        }
        None => spawn(real_posix_spawnp(), Verdict::Preload(None), pid, file, fa, attr, argv, envp),
    }
}

next!(real_system = c"system": unsafe extern "C" fn(*const c_char) -> c_int);
next!(real_popen = c"popen": unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE);

/// The environment that system() and popen() pass to /bin/sh is `environ` itself: put
/// the session's variables back into it if the program removed them.
fn repair_environ() {
    if !config::in_session() || environ_is_whole() {
        return;
    }
    let Ok((keep, env)) = session_env(environ_now(), Verdict::Preload(None)) else { return };
    // The built array becomes the process's environment; its mapping is never unmapped.
    core::mem::forget(keep);
    // SAFETY: replacing environ with a complete NULL-terminated array, as clearenv/putenv do.
    unsafe { *core::ptr::addr_of_mut!(environ) = env };
}

/// Does `environ` still carry the session as it is now?
fn environ_is_whole() -> bool {
    let get = |name: &core::ffi::CStr| {
        // SAFETY: getenv of a constant name.
        let v = unsafe { libc::getenv(name.as_ptr()) };
        if v.is_null() { None } else { Some(sys::cstr(v)) }
    };
    let mut idbuf = Small::default();
    let _ = ids::format(&mut idbuf);
    let lib = config::LIB.get();
    get(c"LD_PRELOAD").is_some_and(|p| vars::preload_entries(p).any(|x| x == lib))
        && get(c"FAKEBOX_SOCKET") == Some(config::SOCKET.get())
        && get(c"FAKEBOX_IDS") == Some(idbuf.bytes())
        && get(c"FAKEBOX_RUNTIME").is_none() // this program's sanitizer runtime, not /bin/sh's
}

pub unsafe fn system(cmd: *const c_char) -> c_int {
    repair_environ();
    match real_system() {
        // SAFETY: forwarding the caller's argument.
        Some(real) => unsafe { real(cmd) },
        None => ret(Err(libc::ENOSYS)),
    }
}

pub unsafe fn popen(cmd: *const c_char, kind: *const c_char) -> *mut libc::FILE {
    repair_environ();
    match real_popen() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(cmd, kind) },
        None => core::ptr::null_mut(),
    }
}
