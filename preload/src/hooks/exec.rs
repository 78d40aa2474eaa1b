//! Processes: every exec and spawn carries the session on, even when the caller stripped
//! LD_PRELOAD or the session's variables (`env -i`), and the child inherits the fake
//! identity as it is now (DESIGN §3.9). A program LD_PRELOAD cannot reach is named on
//! stderr: it would run without the fake.
use crate::config;
use crate::ids;
use crate::sys::{self, Res, Scratch, ret};
use core::fmt::Write;
use fakebox_proto::elf::{self, Exec, Runtime};
use fakebox_proto::env as vars;
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
    /// Only the tracer can fake it (static, Go, musl, another ELF class).
    Tracer,
}

/// Looks at the program about to run (following `#!` to the interpreter).
fn sniff(dirfd: c_int, path: *const c_char, depth: u32) -> Verdict {
    if path.is_null() || !config::in_session() || depth > 2 {
        return Verdict::Preload(None);
    }
    let Ok(fd) = sys::openat(dirfd, path, libc::O_RDONLY | libc::O_CLOEXEC, 0) else { return Verdict::Preload(None) };
    let mut head = [0u8; 4096]; // the string table of most programs, for `elf::Runtime`
    let n = sys::pread(fd, &mut head, 0).unwrap_or(0);
    let kind = elf::classify(&head[..n], &mut FdAt { fd, head: &head[..n] });
    let _ = sys::close(fd);
    match kind {
        Exec::Elf(e) if e.preload_reaches() => Verdict::Preload(e.runtime),
        Exec::Elf(e) => {
            if config::EXE.get().is_empty() {
                crate::log::warn(format_args!(
                    "{} is a {} program, which LD_PRELOAD cannot reach, and this session has no tracer (--mechanism preload): it runs WITHOUT the fake",
                    String0(sys::cstr(path)),
                    e.describe()
                ));
                let foreign = e.interp != elf::Interp::None && e.interp != elf::Interp::Glibc;
                return if foreign { Verdict::Foreign } else { Verdict::Preload(None) };
            }
            Verdict::Tracer
        }
        Exec::Script { interp, .. } => {
            let mut p = [0u8; 512];
            let len = (interp.1 - interp.0).min(p.len() - 1);
            p[..len].copy_from_slice(&head[interp.0..interp.0 + len]);
            // The script's own path goes to the tracer; the kernel then finds the interpreter.
            sniff(libc::AT_FDCWD, p.as_ptr() as *const c_char, depth + 1)
        }
        Exec::Unknown => Verdict::Preload(None),
    }
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
/// names a path). None when nothing on PATH matches (execvp will say ENOENT).
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
        if sys::faccessat2(libc::AT_FDCWD, p, libc::X_OK, libc::AT_EACCESS).is_ok() {
            return Some(p);
        }
    }
    None
}

/// `fakebox __attach PATH ARGV...`: the arguments that hand `path` to the tracer
/// without changing the pid. The mapping must live until the exec.
fn trampoline(path: *const c_char, argv: Argv) -> Res<(Scratch, Argv)> {
    let mut n = 0;
    // SAFETY: a NULL-terminated array, as execve requires.
    while !argv.is_null() && !unsafe { *argv.add(n) }.is_null() {
        n += 1;
    }
    let mut b = EnvBuilder::new(n + 3, 64)?;
    b.push_ptr(config::EXE.c_str());
    b.push_raw(b"__attach")?;
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
        let (_keep_argv, targv) = trampoline(path, argv)?;
        return sys::execve(config::EXE.c_str(), targv, env);
    }
    sys::execve(path, argv, env)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakebox_execve(path: *const c_char, argv: Argv, envp: Argv) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    ret(exec_as(path, argv, envp, sniff(libc::AT_FDCWD, path, 0)).map(|()| 0))
}

next!(real_execvpe = c"execvpe": unsafe extern "C" fn(*const c_char, Argv, Argv) -> c_int);

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fakebox_execvpe(file: *const c_char, argv: Argv, envp: Argv) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    let mut buf = [0u8; 4096];
    if let Some(p) = resolve(file, &mut buf) {
        let v = sniff(libc::AT_FDCWD, p, 0);
        if v == Verdict::Tracer {
            return ret(exec_as(p, argv, envp, v).map(|()| 0));
        }
        let Some(real) = real_execvpe() else { return ret(Err(libc::ENOSYS)) };
        return match session_env(envp, v) {
            // SAFETY: forwarding to glibc's execvpe with a valid environment.
            Ok((_keep, env)) => unsafe { real(file, argv, env) },
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

/// fexecve and execveat with AT_EMPTY_PATH name the program by fd: the tracer's
/// trampoline reaches it through /proc/self/fd (the same process after the exec).
fn fd_path(fd: c_int, buf: &mut [u8; 32]) -> *const c_char {
    let mut w = Small::default();
    let _ = write!(w, "/proc/self/fd/{fd}");
    let b = w.bytes();
    buf[..b.len()].copy_from_slice(b);
    buf[b.len()] = 0;
    buf.as_ptr() as *const c_char
}

pub unsafe fn fexecve(fd: c_int, argv: Argv, envp: Argv) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    let v = sniff(fd, c"".as_ptr(), 0);
    if v == Verdict::Tracer {
        let mut buf = [0u8; 32];
        return ret(exec_as(fd_path(fd, &mut buf), argv, envp, v).map(|()| 0));
    }
    ret(session_env(envp, v)
        .and_then(|(_keep, env)| sys::execveat(fd, c"".as_ptr(), argv, env, libc::AT_EMPTY_PATH).map(|()| 0)))
}

pub unsafe fn execveat(dirfd: c_int, path: *const c_char, argv: Argv, envp: Argv, flags: c_int) -> c_int {
    crate::fresh::forget_all(); // a vfork child shares the marks with its parent
    let v = sniff(dirfd, path, 0);
    if v == Verdict::Tracer && (dirfd == libc::AT_FDCWD || sys::cstr(path).first() == Some(&b'/')) {
        return ret(exec_as(path, argv, envp, v).map(|()| 0));
    }
    if v == Verdict::Tracer && sys::cstr(path).is_empty() {
        let mut buf = [0u8; 32];
        return ret(exec_as(fd_path(dirfd, &mut buf), argv, envp, v).map(|()| 0));
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
        return match trampoline(path, argv) {
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
    let v = sniff(libc::AT_FDCWD, path, 0);
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
            let v = sniff(libc::AT_FDCWD, p, 0);
            let target = if v == Verdict::Tracer { p } else { file };
            spawn(real_posix_spawnp(), v, pid, target, fa, attr, argv, envp)
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
