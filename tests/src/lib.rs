//! Helpers for fakebox's end-to-end tests.
//!
//! Every case runs a real program inside `fakebox run` in a fresh directory and compares
//! what it prints with what a real root would see. When the test process is root, each
//! case runs twice: once as root, and once dropped to uid/gid 65534 with `setpriv` (in a
//! directory that user owns), because fakebox's users are ordinary users. Both runs must
//! print the same thing.
//!
//! Nothing here skips: a missing fakebox binary or a missing tool is a panic that says
//! what to install.
//!
//! `FAKEBOX_TESTS_NATIVE=1` (as root only) checks the expectations themselves: every case
//! runs once, as real root, with a stand-in for `fakebox run` that just runs the command.
//! Cases about what fakebox must *not* do on disk are expected to fail that way.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The PATH every case runs with (no pyenv shims: `python3` is `/usr/bin/python3`).
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The uid and gid an unprivileged run uses when the tests run as root.
pub const UNPRIVILEGED: u32 = 65534;

/// How long one run of a case may take, unless `FAKEBOX_TEST_TIMEOUT` (seconds) says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const TEMP_PREFIX: &str = "fakebox-tests.";

/// Who a case runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// The test process is root and the case runs as root.
    Root,
    /// The test process is root and the case runs as uid/gid 65534 through `setpriv`.
    Dropped,
    /// The test process is an ordinary user and the case runs as that user.
    Current(u32),
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Root => write!(f, "real root (uid 0)"),
            Identity::Dropped => write!(f, "uid/gid {UNPRIVILEGED} (setpriv from root)"),
            Identity::Current(uid) => write!(f, "the current user (uid {uid})"),
        }
    }
}

impl Identity {
    fn tag(self) -> String {
        match self {
            Identity::Root => "root".into(),
            Identity::Dropped => format!("u{UNPRIVILEGED}"),
            Identity::Current(uid) => format!("u{uid}"),
        }
    }

    /// The real uid the case runs with.
    pub fn uid(self) -> u32 {
        match self {
            Identity::Root => 0,
            Identity::Dropped => UNPRIVILEGED,
            Identity::Current(uid) => uid,
        }
    }
}

/// The effective uid of the test process (the owner of `/proc/self`).
pub fn current_uid() -> u32 {
    fs::metadata("/proc/self").expect("cannot stat /proc/self: is /proc mounted?").uid()
}

/// The identities every case runs as: root and uid 65534 when the tests run as root,
/// else only the current user.
pub fn identities() -> Vec<Identity> {
    match current_uid() {
        0 if native() => vec![Identity::Root],
        0 => vec![Identity::Root, Identity::Dropped],
        _ if native() => panic!("FAKEBOX_TESTS_NATIVE=1 needs the tests to run as root"),
        uid => vec![Identity::Current(uid)],
    }
}

/// `true` when FAKEBOX_TESTS_NATIVE=1: the cases run as real root without fakebox.
pub fn native() -> bool {
    std::env::var_os("FAKEBOX_TESTS_NATIVE").is_some_and(|v| v == "1")
}

const NATIVE_SHIM: &str = r#"#!/bin/bash
# Stand-in for `fakebox run [OPTIONS] [--] COMMAND...`: runs COMMAND as it is.
[ "$1" = run ] || { echo "fakebox-native: only 'run' is supported" >&2; exit 125; }
shift
while [ $# -gt 0 ]; do
  case $1 in
    --) shift; break ;;
    --state|--uid|--gid|--mechanism) shift 2 ;;
    --*) shift ;;
    *) break ;;
  esac
done
exec "$@"
"#;

struct Env {
    base: PathBuf,
    bin: PathBuf,
    fakebox: PathBuf,
}

static ENV: OnceLock<Env> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);
static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();

fn env() -> &'static Env {
    ENV.get_or_init(|| {
        let src = if native() { None } else { Some(locate_fakebox()) };
        remove_stale_bases();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let base = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}.{nanos}", std::process::id()));
        let bin = base.join("bin");
        for d in [&base, &bin, &base.join("cases")] {
            fs::create_dir_all(d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
            set_mode(d, 0o755);
        }
        let out = base.join("out");
        fs::create_dir_all(&out).unwrap_or_else(|e| panic!("cannot create {}: {e}", out.display()));
        set_mode(&out, 0o700);

        let fakebox = bin.join("fakebox");
        match src {
            Some(src) => {
                copy_exe(&src, &fakebox);
                let lib_src = src.with_file_name("libfakebox.so");
                if lib_src.is_file() {
                    copy_exe(&lib_src, &bin.join("libfakebox.so"));
                } else {
                    eprintln!("fakebox-tests: warning: no {} next to the fakebox binary", lib_src.display());
                }
            }
            None => {
                fs::write(&fakebox, NATIVE_SHIM).expect("cannot write the native stand-in");
                set_mode(&fakebox, 0o755);
            }
        }
        if current_uid() == 0 {
            require("setpriv");
        }
        Env { base, bin, fakebox }
    })
}

fn locate_fakebox() -> PathBuf {
    if let Some(p) = std::env::var_os("FAKEBOX").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            panic!("FAKEBOX={} is not a file", p.display());
        }
        return p;
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf();
    let mut targets = Vec::new();
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|t| !t.is_empty()) {
        let t = PathBuf::from(t);
        targets.push(if t.is_absolute() { t } else { workspace.join(t) });
    }
    targets.push(workspace.join("target"));
    let mut looked = Vec::new();
    for t in &targets {
        for profile in ["release", "debug"] {
            let p = t.join(profile).join("fakebox");
            if p.is_file() {
                return p;
            }
            looked.push(p.display().to_string());
        }
    }
    panic!(
        "fakebox binary not found (looked at {}). Build it first with \
         `cargo build --release --workspace`, or set FAKEBOX=/path/to/fakebox.",
        looked.join(", ")
    );
}

/// Removes the temp dirs of earlier test processes that are gone.
fn remove_stale_bases() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('.').next() else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn set_mode(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", p.display()));
}

fn copy_exe(from: &Path, to: &Path) {
    fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
    set_mode(to, 0o755);
}

/// The path of the fakebox binary the tests run (a copy any user may execute).
pub fn fakebox() -> PathBuf {
    env().fakebox.clone()
}

/// A directory, readable and searchable by everyone, for programs built by the tests.
pub fn bin_dir() -> PathBuf {
    env().bin.clone()
}

/// Finds `tool` on the tests' PATH.
pub fn which(tool: &str) -> Option<PathBuf> {
    PATH.split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| fs::metadata(p).map(|m| m.is_file() && m.mode() & 0o111 != 0).unwrap_or(false))
}

/// Panics unless `tool` is installed: a test never skips for lack of a tool.
pub fn require(tool: &str) -> PathBuf {
    which(tool).unwrap_or_else(|| {
        panic!(
            "this test needs `{tool}`, which is not on PATH ({PATH}); \
             install it (.ci/run lists the Debian packages the tests need)"
        )
    })
}

/// Panics unless `path` exists.
pub fn require_path(path: &str) -> PathBuf {
    let p = PathBuf::from(path);
    if !p.exists() {
        panic!("this test needs {path}, which does not exist on this machine");
    }
    p
}

/// Builds a C program once per test process with `compiler` (`gcc`, `musl-gcc`) and
/// returns the path of the executable. Panics if the compiler is missing or fails.
pub fn build_c_with(compiler: &str, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    cached(name, || {
        let cc = require(compiler);
        let dir = bin_dir();
        let src = dir.join(format!("{name}.c"));
        fs::write(&src, source).unwrap_or_else(|e| panic!("cannot write {}: {e}", src.display()));
        let exe = dir.join(name);
        let out = Command::new(cc)
            .args(flags)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .env("PATH", PATH)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
        if !out.status.success() {
            panic!("{compiler} could not build {name}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        set_mode(&exe, 0o755);
        exe
    })
}

/// Builds a C program with gcc (`-O2 -Wall` plus `flags`).
pub fn build_c(name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let mut all = vec!["-O2", "-Wall"];
    all.extend_from_slice(flags);
    build_c_with("gcc", name, source, &all)
}

/// Builds a static Go program (CGO_ENABLED=0) once per test process.
pub fn build_go(name: &str, source: &str) -> PathBuf {
    build_go_with(name, source, false)
}

/// Builds a Go program with cgo (dynamically linked against glibc) once per test process.
pub fn build_cgo(name: &str, source: &str) -> PathBuf {
    require("gcc");
    build_go_with(name, source, true)
}

fn build_go_with(name: &str, source: &str, cgo: bool) -> PathBuf {
    cached(name, || {
        let go = require("go");
        let dir = bin_dir();
        let work = dir.join(format!("{name}.go.d"));
        fs::create_dir_all(&work).unwrap_or_else(|e| panic!("cannot create {}: {e}", work.display()));
        let src = work.join("main.go");
        fs::write(&src, source).unwrap_or_else(|e| panic!("cannot write {}: {e}", src.display()));
        let exe = dir.join(name);
        let out = Command::new(go)
            .arg("build")
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .current_dir(&work)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", &work)
            .env("GOCACHE", work.join("cache"))
            .env("GOPATH", work.join("gopath"))
            .env("GOFLAGS", "-modcacherw")
            .env("CGO_ENABLED", if cgo { "1" } else { "0" })
            .env("CC", "gcc")
            .output()
            .unwrap_or_else(|e| panic!("cannot run go: {e}"));
        if !out.status.success() {
            panic!("go could not build {name}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        set_mode(&exe, 0o755);
        // The build cache is large and of no further use.
        let _ = fs::remove_dir_all(&work);
        exe
    })
}

fn cached(name: &str, build: impl FnOnce() -> PathBuf) -> PathBuf {
    let map = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = map.get(name) {
        return p.clone();
    }
    let p = build();
    map.insert(name.to_string(), p.clone());
    p
}

fn timeout() -> Duration {
    std::env::var("FAKEBOX_TEST_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// What one run of a case gave.
#[derive(Debug)]
pub struct Outcome {
    pub identity: Identity,
    /// `None` when the run was killed for taking too long.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Outcome {
    /// The exit code, if the process exited (not killed by a signal, not timed out).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// The signal that killed the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.and_then(|s| s.signal())
    }

    fn status_text(&self) -> String {
        match self.status {
            None => format!("killed after the {}s timeout", timeout().as_secs()),
            Some(s) => match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit code {c}"),
                (_, Some(n)) => format!("killed by signal {n}"),
                _ => format!("{s}"),
            },
        }
    }

    /// A multi-line account of the run, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "  as: {}\n  status: {}\n  stdout: {:?}\n  stderr: {}\n  dir: {}",
            self.identity,
            self.status_text(),
            clip(&self.stdout),
            indent(&clip(&self.stderr)),
            self.dir.display()
        )
    }
}

fn clip(s: &str) -> String {
    const MAX: usize = 3000;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... [{} more bytes]", &s[..end], s.len() - end)
}

fn indent(s: &str) -> String {
    if s.is_empty() {
        return "(empty)".into();
    }
    s.trim_end().replace('\n', "\n    ")
}

/// One test case: a name, extra `fakebox run` options, files to put in its directory
/// and what to feed its standard input.
#[derive(Clone, Debug)]
pub struct Case {
    name: String,
    args: Vec<String>,
    files: Vec<(String, Vec<u8>, u32)>,
    stdin: Option<Vec<u8>>,
}

impl Case {
    pub fn new(name: &str) -> Self {
        Case { name: name.to_string(), args: Vec::new(), files: Vec::new(), stdin: None }
    }

    /// Options for `fakebox run` (before `--`), e.g. `["--uid", "1000"]`.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// A file (mode 0644) written into the case directory before the run.
    pub fn file(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files.push((path.to_string(), contents.as_ref().to_vec(), 0o644));
        self
    }

    /// Standard input for the run (else /dev/null).
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.stdin = Some(data.as_ref().to_vec());
        self
    }

    /// Runs `sh -c SNIPPET` inside `fakebox run` and checks that its trimmed stdout is `want`.
    pub fn check(&self, want: &str, snippet: &str) {
        let fb = fakebox();
        let mut argv: Vec<OsString> = vec![fb.into(), "run".into()];
        argv.extend(self.args.iter().map(OsString::from));
        argv.extend(["--".into(), "sh".into(), "-c".into()]);
        argv.push(format!("umask 022\n{snippet}").into());
        self.expect_stdout(want, &argv);
    }

    /// Runs `bash -c SNIPPET` outside fakebox, with `$FB` set to the fakebox binary, and
    /// checks that its trimmed stdout is `want`.
    pub fn check_outer(&self, want: &str, snippet: &str) {
        let bash = require("bash");
        let argv: Vec<OsString> = vec![bash.into(), "-c".into(), format!("umask 022\n{snippet}").into()];
        self.expect_stdout(want, &argv);
    }

    fn expect_stdout(&self, want: &str, argv: &[OsString]) {
        let want = want.trim();
        let outcomes = self.run_argv(argv);
        check_all(&self.name, &outcomes, |o| {
            let got = o.stdout.trim();
            if got == want { Ok(()) } else { Err(format!("stdout differs\n  want: {want:?}\n  got:  {got:?}")) }
        });
    }

    /// Runs `fakebox ARGS...` (as many times as there are identities) and returns what
    /// each run gave, for tests that look at exit status or stderr.
    pub fn fakebox(&self, args: &[&str]) -> Vec<Outcome> {
        let mut argv: Vec<OsString> = vec![fakebox().into()];
        argv.extend(args.iter().map(OsString::from));
        self.run_argv(&argv)
    }

    /// Runs `argv` once per identity, each in a fresh directory.
    pub fn run_argv(&self, argv: &[OsString]) -> Vec<Outcome> {
        identities().into_iter().map(|id| self.run_as(id, argv)).collect()
    }

    fn run_as(&self, id: Identity, argv: &[OsString]) -> Outcome {
        let env = env();
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let stem = format!("{}-{}-{seq}", sanitize(&self.name), id.tag());
        let dir = env.base.join("cases").join(&stem);
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        set_mode(&dir, 0o755);
        for (path, contents, mode) in &self.files {
            let p = dir.join(path);
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
            }
            fs::write(&p, contents).unwrap_or_else(|e| panic!("cannot write {}: {e}", p.display()));
            set_mode(&p, *mode);
            if id == Identity::Dropped {
                for q in p.ancestors().take_while(|q| *q != dir) {
                    std::os::unix::fs::chown(q, Some(UNPRIVILEGED), Some(UNPRIVILEGED))
                        .unwrap_or_else(|e| panic!("cannot chown {}: {e}", q.display()));
                }
            }
        }
        if id == Identity::Dropped {
            std::os::unix::fs::chown(&dir, Some(UNPRIVILEGED), Some(UNPRIVILEGED))
                .unwrap_or_else(|e| panic!("cannot chown {}: {e}", dir.display()));
        }

        let out_path = env.base.join("out").join(format!("{stem}.out"));
        let err_path = env.base.join("out").join(format!("{stem}.err"));
        let stdout = File::create(&out_path).expect("cannot create the stdout file");
        let stderr = File::create(&err_path).expect("cannot create the stderr file");
        let stdin = match &self.stdin {
            Some(data) => {
                let in_path = env.base.join("out").join(format!("{stem}.in"));
                let mut f = File::create(&in_path).expect("cannot create the stdin file");
                f.write_all(data).expect("cannot write the stdin file");
                Stdio::from(File::open(&in_path).expect("cannot open the stdin file"))
            }
            None => Stdio::null(),
        };

        let mut cmd = match id {
            Identity::Dropped => {
                let uid = UNPRIVILEGED.to_string();
                let mut c = Command::new(require("setpriv"));
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .args(argv);
                c
            }
            _ => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        cmd.current_dir(&dir)
            .env_clear()
            .env("PATH", PATH)
            .env("HOME", &dir)
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .env("FB", &env.fakebox)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        for (k, v) in std::env::vars_os() {
            let k_str = k.to_string_lossy();
            if k_str.starts_with("FAKEBOX_") || k_str.starts_with("RUST_") {
                cmd.env(&k, &v);
            }
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", argv[0]));
        let pgid = child.id();
        let deadline = Instant::now() + timeout();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if Instant::now() >= deadline => {
                    kill_group(pgid);
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("cannot wait for the case: {e}"),
            }
        };
        let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
        Outcome { identity: id, status, stdout: read(&out_path), stderr: read(&err_path), dir }
    }
}

fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pgid}")])
        .env("PATH", PATH)
        .stderr(Stdio::null())
        .status();
}

fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// Applies `judge` to every outcome; panics with a report of all failed runs (timeouts
/// always fail). Directories of passing runs are removed, those of failing runs kept.
pub fn check_all(name: &str, outcomes: &[Outcome], judge: impl Fn(&Outcome) -> Result<(), String>) {
    let mut failures = Vec::new();
    for o in outcomes {
        let verdict =
            if o.status.is_none() { Err(format!("timed out after {}s", timeout().as_secs())) } else { judge(o) };
        match verdict {
            Ok(()) => remove_dir(&o.dir),
            Err(why) => failures.push(format!("{why}\n{}", o.describe())),
        }
    }
    if !failures.is_empty() {
        panic!("case `{name}` failed in {} of {} runs:\n{}", failures.len(), outcomes.len(), failures.join("\n---\n"));
    }
}

fn remove_dir(dir: &Path) {
    if fs::remove_dir_all(dir).is_err() {
        // A failed case may have left unreadable directories; make them writable and retry.
        let _ = Command::new("chmod").args(["-R", "u+rwx"]).arg(dir).env("PATH", PATH).stderr(Stdio::null()).status();
        let _ = fs::remove_dir_all(dir);
    }
}

/// Checks that every run exited with `code` and that its stderr satisfies `stderr_ok`.
pub fn expect_exit(name: &str, outcomes: &[Outcome], code: i32, stderr_ok: impl Fn(&str) -> bool) {
    check_all(name, outcomes, |o| {
        if o.code() != Some(code) {
            return Err(format!("want exit code {code}, got {}", o.status_text()));
        }
        if !stderr_ok(&o.stderr) {
            return Err("stderr is not what was expected".into());
        }
        Ok(())
    });
}

/// `true` if `path` and `other` are on different filesystems.
pub fn different_filesystems(path: &Path, other: &Path) -> bool {
    let dev = |p: &Path| fs::metadata(p).unwrap_or_else(|e| panic!("cannot stat {}: {e}", p.display())).dev();
    dev(path) != dev(other)
}

/// The temp dir cases run under (for checks such as "is /dev/shm another filesystem").
pub fn cases_dir() -> PathBuf {
    env().base.join("cases")
}
