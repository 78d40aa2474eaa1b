//! One fake-root session: start or join the daemon, run the command under the right
//! mechanism, wait for it, leave (the last session of a state file has it saved), and
//! exit as the command did.
use crate::cli::{Mechanism, RunArgs};
use crate::daemon::{Daemon, host};
use crate::log;
use crate::sniff::{self, Need};
use fakebox_proto::env as vars;
use fakebox_proto::ids::Cred;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// fakebox's own failure (docs/ARCHITECTURE.md, promise 11), as `env` and container runtimes use it.
pub const EXIT_FAILURE: i32 = 125;
pub const EXIT_CANNOT_RUN: i32 = 126;
pub const EXIT_NOT_FOUND: i32 = 127;

/// A failure that ends the session before or around the command: message and exit code.
pub struct Failure(pub String, pub i32);

fn fail(code: i32, msg: impl Into<String>) -> Failure {
    Failure(msg.into(), code)
}

pub fn run(args: RunArgs) -> Result<i32, Failure> {
    let shell = std::env::var_os("SHELL").filter(|s| !s.is_empty()).unwrap_or_else(|| "/bin/sh".into());
    let argv: Vec<OsString> = if args.command.is_empty() { vec![shell] } else { args.command.clone() };
    let path_var = std::env::var_os("PATH");
    let program = locate(&argv[0], path_var.as_deref())?;
    if inside_a_session() {
        return Err(join_outer(&argv, &args));
    }
    let start = choose_mechanism(args.mechanism, &program, path_var.as_deref())?;
    let lib = preload_library()?;

    // The table: the shared daemon of the state file (joined first: starting it may fork,
    // which must happen before any thread starts), or a daemon in this process.
    let backend = match &args.state {
        Some(p) => {
            let (sock, conn) = host::join(p, args.unknown_is_real)?;
            let session = conn.try_clone().map_err(|e| fail(EXIT_FAILURE, format!("socket: {e}")))?;
            Backend::Shared { sock, conn, remote: Remote::new(session, args.unknown_is_real) }
        }
        None => Backend::local(args.unknown_is_real)?,
    };
    let rundir = RunDir::create()?;
    let sock = match &backend {
        Backend::Shared { sock, .. } => sock.clone(),
        Backend::Local(daemon) => serve_local(daemon, &rundir)?,
    };

    // This session's tracer takes attach requests on a socket of its own.
    let (attach_tx, attach_rx) = std::sync::mpsc::channel();
    let attach_sock = rundir.0.join("attach");
    if args.mechanism != Mechanism::Preload {
        let l = UnixListener::bind(&attach_sock)
            .map_err(|e| fail(EXIT_FAILURE, format!("{}: {e}", attach_sock.display())))?;
        std::thread::Builder::new()
            .name("fakebox-attach".into())
            .spawn(move || crate::attach_server::serve(l, attach_tx))
            .map_err(|e| fail(EXIT_FAILURE, format!("cannot start the tracer's socket: {e}")))?;
    }
    let (hello_rd, hello_wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| fail(EXIT_FAILURE, format!("pipe: {e}")))?;
    // The first command inherits the write end (and the library closes it once it loaded).
    nix::fcntl::fcntl(hello_wr.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))
        .map_err(|e| fail(EXIT_FAILURE, format!("pipe: {e}")))?;
    let local;
    let session: &dyn fakebox_tracer::Session = match &backend {
        Backend::Shared { remote, .. } => remote,
        Backend::Local(daemon) => {
            local = InProcess(Arc::clone(daemon));
            &local
        }
    };
    // Where every process of the session maps the table from (this process holds the memfd).
    let table = session.table_path();
    let pid = spawn_command(&argv, &program, &start, &lib, &sock, &attach_sock, &args, &hello_wr, table.as_deref())?;
    drop(hello_wr);
    let status = {
        let lib_bytes = lib.as_os_str().as_encoded_bytes().to_vec();
        let log = log::enabled().then_some(log::debug as fn(std::fmt::Arguments<'_>));
        let mut engine = fakebox_tracer::engine::Engine::new(session, args.uid, args.gid, lib_bytes, log);
        engine.run(pid, &attach_rx)
    };
    // Without LD_PRELOAD (--mechanism tracer) there is no library to say hello.
    let loaded = args.mechanism == Mechanism::Tracer || said_hello(&hello_rd);

    match backend {
        Backend::Local(daemon) => daemon.stop(),
        Backend::Shared { conn, .. } => host::leave(conn, args.state.as_deref().unwrap_or(Path::new("")))?,
    }
    if !loaded {
        let (lib, cmd) = (lib.display(), argv[0].to_string_lossy());
        // A signal before the library said hello: the program died while loading (a crash
        // in a library's start-up), which is not the same as a library that did not load.
        let why = match status {
            129..=192 => format!(
                "{cmd} was killed by signal {} before the preload library {lib} said it had loaded: it may have crashed while starting (see the messages above)",
                status - 128
            ),
            _ => format!(
                "the preload library {lib} did not load into {cmd}, so it ran without the fake; its results are not what root would get (see the loader's message above)"
            ),
        };
        return Err(fail(EXIT_FAILURE, why));
    }
    Ok(status)
}

/// Is this process already inside a session (whose daemon answers)?
pub fn inside_a_session() -> bool {
    std::env::var_os(vars::SOCKET).is_some_and(|s| std::os::unix::net::UnixStream::connect(s).is_ok())
}

/// Inside a session, a nested `fakebox run` (or `fakeroot`) joins it: the command runs in
/// this very session, as any program the session starts would (the preload library and
/// the tracer carry on), rather than under a second fake. `--uid` and `--gid` are honoured
/// as a root's `setpriv` would (the session fakes the calls); the options that would need
/// a table or a mechanism of their own are refused, never ignored.
fn join_outer(argv: &[OsString], args: &RunArgs) -> Failure {
    if let Some(opt) = ["state", "mechanism", "unknown_is_real"].into_iter().find(|o| args.given(o)) {
        return fail(
            EXIT_FAILURE,
            format!(
                "--{}: this command is inside a fakebox session already (FAKEROOTKEY={}), which keeps one table and one choice of mechanism for all its programs; leave --{0} out to run it in this session, or run it outside the session",
                opt.replace('_', "-"),
                std::env::var("FAKEROOTKEY").unwrap_or_default()
            ),
        );
    }
    if args.given("uid") || args.given("gid") {
        // Through the session's own fake: these calls change the fake identity, as they
        // would a real one for root (and fail as they would for anyone else).
        // SAFETY: plain calls with values.
        let (uid, gid) = unsafe {
            (
                if args.given("uid") { args.uid } else { libc::getuid() },
                if args.given("gid") { args.gid } else { libc::getgid() },
            )
        };
        let groups = [gid];
        // SAFETY: setgroups reads one gid from a local array; the others take values.
        let r = unsafe {
            if libc::setgroups(1, groups.as_ptr()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        if let Err(e) = r {
            return fail(
                EXIT_FAILURE,
                format!("--uid {uid} --gid {gid}: cannot take that identity in this session: {e}"),
            );
        }
    }
    log::debug(format_args!("already inside a session: running {:?} in it", argv[0]));
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    // SAFETY: restore makes raw system calls only, which is what may run before an exec.
    let e = unsafe { cmd.pre_exec(crate::caller::restore) }.exec();
    let code = if e.kind() == std::io::ErrorKind::NotFound { EXIT_NOT_FOUND } else { EXIT_CANNOT_RUN };
    fail(code, format!("{}: {e}", argv[0].to_string_lossy()))
}

/// Where the session's table lives.
enum Backend {
    /// In this process (no `--state`): nothing outlives the session.
    Local(Arc<Daemon>),
    /// The shared daemon of a state file; `conn` is this session's membership.
    Shared { sock: PathBuf, conn: std::os::unix::net::UnixStream, remote: Remote },
}

impl Backend {
    fn local(unknown_is_real: bool) -> Result<Backend, Failure> {
        let table = crate::daemon::Table::new(unknown_is_real)
            .map_err(|e| fail(EXIT_FAILURE, format!("cannot make the shared table: {e}")))?;
        Ok(Backend::Local(Daemon::new(table)))
    }
}

/// Serves an in-process daemon on a socket in the session's private directory.
fn serve_local(daemon: &Arc<Daemon>, rundir: &RunDir) -> Result<PathBuf, Failure> {
    let sock = rundir.0.join("socket");
    let listener = UnixListener::bind(&sock)
        .map_err(|e| fail(EXIT_FAILURE, format!("cannot create the daemon's socket {}: {e}", sock.display())))?;
    let _ = std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600));
    let serving = Arc::clone(daemon);
    std::thread::Builder::new()
        .name("fakebox-daemon".into())
        .spawn(move || serving.serve(listener))
        .map_err(|e| fail(EXIT_FAILURE, format!("cannot start the daemon: {e}")))?;
    log::debug(format_args!("daemon on {}", sock.display()));
    Ok(sock)
}

/// The shared daemon as the tracer reaches it: lookups in the shared table (mapped
/// read-only, as every client does), changes over the session's connection.
struct Remote {
    conn: std::sync::Mutex<std::os::unix::net::UnixStream>,
    unknown_is_real: bool,
    /// The shared table's mapping (address, length), if it could be mapped.
    table: Option<(usize, usize)>,
    /// Its memfd, kept open for the agents of traced programs.
    table_fd: Option<OwnedFd>,
}

impl Remote {
    fn new(mut conn: std::os::unix::net::UnixStream, unknown_is_real: bool) -> Remote {
        let (table, table_fd) = match map_table(&mut conn) {
            Ok((fd, mapping)) => (Some(mapping), Some(fd)),
            Err(_) => (None, None),
        };
        Remote { conn: std::sync::Mutex::new(conn), unknown_is_real, table, table_fd }
    }
}

/// Asks for the shared table's memfd on `conn` and maps it read-only.
fn map_table(conn: &mut std::os::unix::net::UnixStream) -> Result<(OwnedFd, (usize, usize)), i32> {
    use fakebox_proto::{Op, Reply, fdpass, wire};
    use std::io::{Read, Write};
    let mut buf = [0u8; 32];
    let n = wire::encode(&Op::MapTable, &mut buf).map_err(|_| libc::EPROTO)?;
    conn.write_all(&buf[..n]).map_err(|_| libc::EIO)?;
    let mut h = [0u8; 4];
    let fd = fdpass::recv_with_fd(conn.as_raw_fd(), &mut h)?;
    // SAFETY: we own the received fd.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let len = wire::body_len(h).map_err(|_| libc::EPROTO)?;
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).map_err(|_| libc::EIO)?;
    match wire::decode::<Reply<'_>>(&body) {
        Ok(Reply::Done) => {
            let mapping = fdpass::map_readonly(fd.as_raw_fd())?;
            Ok((fd, mapping))
        }
        _ => Err(libc::EPROTO),
    }
}

impl fakebox_tracer::Session for Remote {
    fn apply(&self, op: &fakebox_proto::Op<'_>) -> fakebox_tracer::Answer {
        use fakebox_proto::{Op, Reply, wire};
        use fakebox_tracer::Answer;

        if let (Op::Lookup { real }, Some((base, len))) = (op, self.table) {
            // SAFETY: our read-only mapping of the table, never unmapped.
            let view = unsafe { fakebox_proto::shm::Table::open(base as *const u8, len) }.and_then(|t| t.view(real));
            if let Some(f) = view {
                return Answer::Attrs(f);
            }
        }
        let mut s = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut buf = Vec::new();
        let r = (|| {
            let len = crate::daemon::round_trip(&mut *s, op, &mut buf).ok()?;
            Some(match wire::decode::<Reply<'_>>(&buf[..len]).ok()? {
                Reply::Attrs(f) => Answer::Attrs(f),
                Reply::Done => Answer::Done,
                Reply::Errno(e) => Answer::Errno(e),
                Reply::Bytes(b) => Answer::Bytes(b.to_vec()),
            })
        })();
        r.unwrap_or(Answer::Errno(libc::EIO))
    }

    fn unknown_is_real(&self) -> bool {
        self.unknown_is_real
    }

    fn table(&self) -> Option<fakebox_proto::shm::Table> {
        let (base, len) = self.table?;
        // SAFETY: our read-only mapping of the table, never unmapped.
        unsafe { fakebox_proto::shm::Table::open(base as *const u8, len) }
    }

    fn table_fd(&self) -> Option<i32> {
        self.table_fd.as_ref().map(|f| f.as_raw_fd())
    }
}

/// Makes the table's journal durable at least once a second (a power loss then loses at
/// most the last second; a killed process loses nothing, as the journal is written
/// before a change is acknowledged).
pub fn start_flusher_for(table: &crate::daemon::Table) {
    let Some(journal) = table.journal() else { return };
    let (Ok(file), dirty) = (journal.sync_handle(), Arc::clone(&journal.dirty)) else { return };
    let _ = std::thread::Builder::new().name("fakebox-flush".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if dirty.swap(false, Ordering::AcqRel) {
                let _ = file.sync_data();
            }
        }
    });
}

/// Finds the command like execvp, or fails as a shell would (126 / 127).
fn locate(cmd: &OsStr, path: Option<&OsStr>) -> Result<PathBuf, Failure> {
    let name = cmd.to_string_lossy();
    let Some(p) = sniff::resolve(cmd, path) else {
        return Err(fail(EXIT_NOT_FOUND, format!("{name}: command not found")));
    };
    match std::fs::metadata(&p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(fail(EXIT_NOT_FOUND, format!("{name}: No such file or directory")))
        }
        Err(e) => Err(fail(EXIT_CANNOT_RUN, format!("{name}: {e}"))),
        Ok(m) if m.is_dir() => Err(fail(EXIT_CANNOT_RUN, format!("{name}: Is a directory"))),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => {
            Err(fail(EXIT_CANNOT_RUN, format!("{name}: Permission denied")))
        }
        Ok(_) => Ok(p),
    }
}

/// How the first command starts.
enum Start {
    /// With the library preloaded, after the sanitizer's runtime the program names, if any.
    Preload(Option<fakebox_proto::elf::Runtime>),
    /// Through `fakebox __attach`, under the tracer.
    Traced,
}

/// Does the first command start under the tracer?
fn choose_mechanism(m: Mechanism, program: &Path, path: Option<&OsStr>) -> Result<Start, Failure> {
    let need = sniff::need(program, path).map_err(|e| fail(EXIT_CANNOT_RUN, format!("{}: {e}", program.display())))?;
    if let Need::Refuse(why) = need {
        return Err(fail(EXIT_FAILURE, why));
    }
    if m == Mechanism::Tracer {
        return Ok(Start::Traced);
    }
    match (need, m) {
        (Need::Refuse(why), _) => Err(fail(EXIT_FAILURE, why)),
        (Need::Preload(runtime), _) => Ok(Start::Preload(runtime)),
        (Need::Tracer(_), Mechanism::Auto) => Ok(Start::Traced),
        (Need::Tracer(why), _) => Err(fail(
            EXIT_FAILURE,
            format!(
                "cannot fake {}: {why}, which LD_PRELOAD cannot reach (--mechanism preload); it would run without the fake, so it does not run",
                program.display()
            ),
        )),
    }
}

/// The daemon's table as the tracer reaches it: in this process, without a socket.
struct InProcess(Arc<Daemon>);

impl fakebox_tracer::Session for InProcess {
    fn apply(&self, op: &fakebox_proto::Op<'_>) -> fakebox_tracer::Answer {
        use fakebox_proto::Reply;
        use fakebox_tracer::Answer;
        let mut out = Vec::new();
        let mut table = self.0.table.lock().unwrap_or_else(|p| p.into_inner());
        let r = table.apply(op, &mut out);
        log::trace(format_args!("tracer {op:?} -> {r:?}"));
        match r {
            Reply::Attrs(f) => Answer::Attrs(f),
            Reply::Done => Answer::Done,
            Reply::Errno(e) => Answer::Errno(e),
            Reply::Bytes(b) => Answer::Bytes(b.to_vec()),
        }
    }

    fn unknown_is_real(&self) -> bool {
        self.0.table.lock().unwrap_or_else(|p| p.into_inner()).unknown_is_real()
    }

    fn table(&self) -> Option<fakebox_proto::shm::Table> {
        let t = self.0.table.lock().unwrap_or_else(|p| p.into_inner());
        let (base, len) = t.mapping();
        // SAFETY: the daemon's own mapping, which lives as long as the daemon.
        unsafe { fakebox_proto::shm::Table::open(base as *const u8, len) }
    }

    fn table_fd(&self) -> Option<i32> {
        use std::os::fd::AsRawFd;
        Some(self.0.table.lock().unwrap_or_else(|p| p.into_inner()).memfd().as_raw_fd())
    }
}

/// The preload library built into this binary (see build.rs).
static EMBEDDED_LIB: &[u8] = include_bytes!(env!("FAKEBOX_EMBEDDED_LIB"));

/// The preload library: next to the binary (a build tree, or a package that installs it
/// beside fakebox), in ../lib/fakebox/, else the copy embedded in this binary, written
/// out once to the user's private fakebox directory.
pub fn preload_library() -> Result<PathBuf, Failure> {
    let exe = std::env::current_exe().map_err(|e| fail(EXIT_FAILURE, format!("cannot find my own binary: {e}")))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [dir.join("libfakebox.so"), dir.join("../lib/fakebox/libfakebox.so")];
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Ok(p.canonicalize().unwrap_or_else(|_| p.clone()));
    }
    let dir = crate::private::base_dir()?;
    let name = format!("libfakebox-{:016x}.so", host::fnv64(EMBEDDED_LIB));
    // Written once, and checked byte for byte at every start: a copy that is not this
    // binary's library (damaged, or an older build's of the same name) is replaced.
    let path = crate::private::install_file(&dir, &name, EMBEDDED_LIB, 0o755).map_err(|e| {
        fail(EXIT_FAILURE, format!("cannot write the preload library to {}: {e}", dir.path.join(&name).display()))
    })?;
    Ok(path)
}

/// The session's private directory: 0700, removed when the session ends.
struct RunDir(PathBuf);

impl RunDir {
    fn create() -> Result<RunDir, Failure> {
        let dir = crate::private::temporary("fakebox-")?;
        Ok(RunDir(dir))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    // Once the command has ended, fakebox only waits for the traced processes it left
    // running: a signal that asks fakebox to end ends that wait.
    if fakebox_tracer::engine::command_ended() {
        if matches!(sig, libc::SIGINT | libc::SIGQUIT | libc::SIGTERM | libc::SIGHUP) {
            fakebox_tracer::engine::stop_waiting();
        }
        return;
    }
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 && sig != libc::SIGINT && sig != libc::SIGQUIT {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Starts the first command: directly, or through `fakebox __attach` so that the tracer
/// takes it over before it execs.
#[allow(clippy::too_many_arguments)]
fn spawn_command(
    argv: &[OsString],
    program: &Path,
    start: &Start,
    lib: &Path,
    sock: &Path,
    attach: &Path,
    args: &RunArgs,
    hello: &OwnedFd,
    table: Option<&str>,
) -> Result<i32, Failure> {
    let exe = std::env::current_exe().map_err(|e| fail(EXIT_FAILURE, format!("cannot find my own binary: {e}")))?;
    let mut ids = String::new();
    let _ = fakebox_proto::ids::format(&mut ids, &Cred::all(args.uid), &Cred::all(args.gid), [args.gid].into_iter());
    let hello_fd = hello.as_raw_fd();
    let mut cmd = if matches!(start, Start::Traced) {
        let mut c = Command::new(&exe);
        c.arg("__attach").arg(program).args(argv);
        c
    } else {
        // The program found on PATH and sniffed, under the name it was given: no second
        // search (a failed execve per PATH entry before it).
        let mut c = Command::new(program);
        c.arg0(&argv[0]).args(&argv[1..]);
        c
    };
    if args.mechanism == Mechanism::Tracer {
        // Every program is traced: no library is preloaded anywhere in the session.
        cmd.env_remove("LD_PRELOAD");
    } else {
        let runtime = match start {
            Start::Preload(Some(r)) => Some(r.name()),
            _ => None,
        };
        let given = std::env::var_os("LD_PRELOAD").unwrap_or_default();
        let added = std::env::var_os(vars::RUNTIME).unwrap_or_default();
        let mut entries = [&b""[..]; 64];
        let lib_bytes = lib.as_os_str().as_bytes();
        let (n, added_now) =
            vars::preload_order(lib_bytes, true, runtime, given.as_bytes(), added.as_bytes(), &mut entries);
        cmd.env("LD_PRELOAD", OsStr::from_bytes(&entries[..n].join(&b':'))).env(vars::HELLO_FD, hello_fd.to_string());
        match (added_now, runtime) {
            (true, Some(r)) => cmd.env(vars::RUNTIME, OsStr::from_bytes(r)),
            _ => cmd.env_remove(vars::RUNTIME),
        };
    }
    cmd.env(vars::SOCKET, sock).env(vars::LIB, lib).env(vars::IDS, ids);
    match table {
        Some(t) => cmd.env(vars::TABLE, t),
        None => cmd.env_remove(vars::TABLE),
    };
    // What tools look for to tell that they run under a fake root (dh_testroot, dpkg).
    cmd.env("FAKEROOTKEY", std::process::id().to_string())
        .env("FAKED_MODE", if args.unknown_is_real { "unknown-is-real" } else { "unknown-is-root" });
    if args.mechanism != Mechanism::Preload {
        cmd.env(vars::TRACER, std::process::id().to_string()).env(vars::EXE, &exe).env(vars::ATTACH, attach);
    }
    // The command starts with the caller's signal mask and ignored signals, which neither
    // std's posix_spawn nor its fork path would leave alone (`caller`). The pre_exec
    // makes std fork rather than posix_spawn: one fork per session.
    // SAFETY: restore makes raw system calls only, which is what may run between fork and exec.
    unsafe { cmd.pre_exec(crate::caller::restore) };
    // The terminal's SIGINT and SIGQUIT reach the command directly; fakebox outlives them
    // to report its status. SIGTERM and SIGHUP sent to fakebox are passed on. A signal the
    // caller ignores (nohup's SIGHUP, a background job's SIGINT) stays ignored, here and in
    // the command: a handler would have been reset to the default in the command's exec.
    for sig in [libc::SIGINT, libc::SIGQUIT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2] {
        if !crate::caller::caller_ignores(sig) {
            // SAFETY: installing a handler that only calls kill.
            unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
        }
    }
    let child = cmd.spawn().map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound { EXIT_NOT_FOUND } else { EXIT_CANNOT_RUN };
        fail(code, format!("{}: {e}", argv[0].to_string_lossy()))
    })?;
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::Relaxed);
    Ok(pid)
}

/// Did the preload library announce itself on the hello pipe?
fn said_hello(rd: &OwnedFd) -> bool {
    let mut b = [0u8; 1];
    // The write end is closed everywhere once the first process loaded; never block.
    let _ = nix::fcntl::fcntl(rd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
    matches!(nix::unistd::read(rd.as_raw_fd(), &mut b), Ok(1))
}
