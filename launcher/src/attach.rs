//! `fakebox __attach PATH ARGV0 [ARG]...`: hands a process to the tracer without changing
//! its pid, then becomes PATH. The preload library's exec hooks (and the launcher, for a
//! first command the preload cannot reach) run it in place of a program LD_PRELOAD cannot
//! reach: it asks the session's tracer to PTRACE_SEIZE it, installs the seccomp filter the
//! tracer sends, and execs the program with the arguments and environment it was given.
use fakebox_proto::env as vars;
use fakebox_proto::mechanism::Why;
use fakebox_proto::{Op, Reply, wire};
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;

fn die(code: i32, msg: std::fmt::Arguments<'_>) -> ! {
    eprintln!("fakebox: {msg}");
    std::process::exit(code);
}

pub fn main(args: &[OsString]) -> ! {
    // `--fd N`: the program is the file open at fd N (the exec hooks' fexecve and execveat
    // by directory fd); PATH is only its name for messages.
    let (fd, args) = match args {
        [flag, n, rest @ ..] if flag == "--fd" => match n.to_str().and_then(|n| n.parse::<i32>().ok()) {
            Some(fd) => (Some(fd), rest),
            None => die(125, format_args!("__attach: bad --fd {}", n.to_string_lossy())),
        },
        _ => (None, args),
    };
    let [path, argv @ ..] = args else { die(125, format_args!("__attach: no program given")) };
    let shown = path.to_string_lossy();
    // A program this user cannot read runs undumpable: the tracer could not read its
    // memory, so it could not fake it (see `mechanism::decide`).
    let target = fd.map(|fd| std::path::PathBuf::from(format!("/proc/self/fd/{fd}")));
    let target = target.as_deref().unwrap_or(std::path::Path::new(path));
    if let Err(e) = std::fs::File::open(target)
        && e.kind() == std::io::ErrorKind::PermissionDenied
        && std::fs::metadata(target).is_ok()
    {
        die(126, format_args!("cannot fake {shown}: {}; it does not run", Why::Unreadable.refusal()));
    }
    if let Err(e) = attach() {
        die(
            125,
            format_args!("cannot trace {shown}, which LD_PRELOAD cannot reach: {e}; it does not run without the fake"),
        );
    }
    let c = |s: &OsString| CString::new(s.as_bytes()).unwrap_or_default();
    let cpath = c(path);
    let cargs: Vec<CString> = argv.iter().map(c).collect();
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let env = environment(target);
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    envp.push(std::ptr::null());
    // The program starts with the signal state this process was started with (std's
    // runtime has ignored SIGPIPE since).
    let _ = crate::caller::restore();
    let e = match fd {
        Some(fd) => {
            // The fd was opened for this exec alone: the program does not get it, unless it
            // is a script, whose interpreter reads it as /dev/fd/N (as with fexecve).
            let mut magic = [0u8; 2];
            let script = std::fs::File::open(target)
                .and_then(|f| std::os::unix::fs::FileExt::read_exact_at(&f, &mut magic, 0))
                .is_ok_and(|()| &magic == b"#!");
            if !script {
                // SAFETY: setting FD_CLOEXEC on an fd this process was handed.
                unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
            }
            // SAFETY: execveat with NULL-terminated arrays that outlive the call; the raw
            // system call, as below.
            unsafe {
                libc::syscall(libc::SYS_execveat, fd, c"".as_ptr(), ptrs.as_ptr(), envp.as_ptr(), libc::AT_EMPTY_PATH)
            }
        }
        // SAFETY: execve with NULL-terminated arrays that outlive the call. The raw system
        // call, so that the preload library loaded into this very binary does not hand us
        // off again.
        None => unsafe { libc::syscall(libc::SYS_execve, cpath.as_ptr(), ptrs.as_ptr(), envp.as_ptr()) },
    };
    let err = std::io::Error::last_os_error();
    let _ = e;
    let code = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    die(code, format_args!("{shown}: {err}"))
}

/// The environment the program gets: ours, except that a program whose loader is not
/// glibc's (musl) must not be asked to preload a glibc library; the tracer fakes it, and
/// its children, whatever they are, are traced too.
fn environment(program: &std::path::Path) -> Vec<CString> {
    let foreign = crate::sniff::foreign_loader(program);
    let lib = std::env::var_os(vars::LIB).unwrap_or_default();
    std::env::vars_os()
        .filter_map(|(k, v)| {
            if foreign && k == "LD_PRELOAD" {
                let rest: Vec<&[u8]> = vars::preload_entries(v.as_bytes()).filter(|x| *x != lib.as_bytes()).collect();
                if rest.is_empty() {
                    return None;
                }
                return CString::new([b"LD_PRELOAD=".as_slice(), &rest.join(&b':')].concat()).ok();
            }
            CString::new([k.as_bytes(), b"=", v.as_bytes()].concat()).ok()
        })
        .collect()
}

fn attach() -> Result<(), String> {
    let sock = std::env::var_os(vars::ATTACH).ok_or("this session has no tracer (--mechanism preload)")?;
    if let Some(pid) = std::env::var(vars::TRACER).ok().and_then(|v| v.parse::<libc::c_ulong>().ok()) {
        // Yama ptrace_scope 1 lets only a declared tracer attach; without Yama this is EINVAL.
        // SAFETY: a plain prctl.
        unsafe { libc::prctl(libc::PR_SET_PTRACER, pid, 0, 0, 0) };
    }
    let ids = std::env::var(vars::IDS).unwrap_or_default();
    let mut groups = [0u32; 1];
    let (uid, gid, _) = fakebox_proto::ids::parse(ids.as_bytes(), &mut groups).unwrap_or_default();
    // SAFETY: gettid cannot fail.
    let tid = unsafe { libc::gettid() };
    let mut s = UnixStream::connect(&sock).map_err(|e| format!("cannot reach the session's tracer: {e}"))?;
    let mut buf = Vec::new();
    let len = crate::daemon::round_trip(&mut s, &Op::Attach { tid, uid, gid }, &mut buf)
        .map_err(|e| format!("the tracer did not answer: {e}"))?;
    match wire::decode::<Reply<'_>>(&buf[..len]).map_err(|_| "bad answer")? {
        Reply::Bytes(filter) => {
            fakebox_tracer::filter::install(filter).map_err(|e| format!("cannot install the seccomp filter: {e}"))
        }
        Reply::Errno(e) => Err(format!("the tracer could not attach: {}", std::io::Error::from_raw_os_error(e))),
        _ => Err("bad answer".into()),
    }
}
