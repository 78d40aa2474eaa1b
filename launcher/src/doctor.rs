//! `fakebox doctor`: what this machine allows, and what each failure means for the user.
use crate::session::{EXIT_FAILURE, Failure};
use std::io::Write;
use std::process::Command;

struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, ok: Option<bool>, what: &str, detail: &str) {
        let tag = match ok {
            Some(true) => "ok  ",
            Some(false) => {
                self.failed = true;
                "FAIL"
            }
            None => "note",
        };
        // A reader that stops early (`| head`) is fine.
        let _ = writeln!(std::io::stdout(), "{tag}  {what}: {detail}");
    }
}

/// What fakebox relies on of the kernel, and since which version it has it (README,
/// "What fakebox is not").
const NEEDS: [((u32, u32), &str); 5] = [
    ((4, 8), "seccomp filters that run after the tracer saw the call"),
    ((4, 11), "statx with birth times, which tell a reused inode number apart"),
    ((5, 0), "seccomp user notifications, which carry the agent's requests"),
    ((5, 1), "F_SEAL_FUTURE_WRITE, which makes the shared table read-only for every client"),
    ((5, 6), "pidfd_getfd, with which the tracer takes the agent's listener"),
];

/// The oldest kernel that has everything in `NEEDS`.
const MIN_KERNEL: (u32, u32) = {
    let mut i = 0;
    let mut max = (0, 0);
    while i < NEEDS.len() {
        let v = NEEDS[i].0;
        if v.0 > max.0 || (v.0 == max.0 && v.1 > max.1) {
            max = v;
        }
        i += 1;
    }
    max
};

/// The major and minor version at the start of a kernel release string (`6.1.0-18-amd64`).
fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

pub fn run() -> Result<i32, Failure> {
    let mut r = Report { failed: false };
    // SAFETY: uname into a zeroed local.
    let kernel = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        std::ffi::CStr::from_ptr(u.release.as_ptr()).to_string_lossy().into_owned()
    };
    match kernel_version(&kernel) {
        Some(v) if v >= MIN_KERNEL => r.line(
            Some(true),
            "kernel",
            &format!("{kernel} (fakebox needs {}.{} or later)", MIN_KERNEL.0, MIN_KERNEL.1),
        ),
        Some(_) => r.line(
            Some(false),
            "kernel",
            &format!(
                "{kernel} is older than {}.{}, which fakebox needs: {}",
                MIN_KERNEL.0,
                MIN_KERNEL.1,
                NEEDS.iter().map(|(v, what)| format!("{what} ({}.{})", v.0, v.1)).collect::<Vec<_>>().join(", ")
            ),
        ),
        None => r.line(Some(false), "kernel", &format!("cannot read the version in {kernel:?}")),
    }

    let exe = std::env::current_exe().map_err(|e| Failure(format!("cannot find my own binary: {e}"), EXIT_FAILURE))?;
    match crate::session::preload_library() {
        Ok(l) => r.line(Some(true), "preload library", &l.display().to_string()),
        Err(Failure(why, _)) => {
            r.line(Some(false), "preload library", &format!("{why}: glibc programs cannot be faked"))
        }
    }

    // The real test: a glibc program under fakebox, through the preload library.
    let preload = Command::new(&exe).args(["run", "--mechanism", "preload", "--", "id", "-u"]).output();
    match preload {
        Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0" => {
            r.line(Some(true), "preload", "the library loads into a test program, which sees uid 0")
        }
        Ok(o) => r.line(
            Some(false),
            "preload",
            &format!("a test program did not run faked: {}", String::from_utf8_lossy(&o.stderr).trim()),
        ),
        Err(e) => r.line(Some(false), "preload", &format!("cannot run the test: {e}")),
    }

    let yama = read("/proc/sys/kernel/yama/ptrace_scope");
    match yama.as_deref() {
        None => r.line(None, "Yama", "not present: ptrace follows the usual permission rules"),
        Some("0") | Some("1") => r.line(Some(true), "Yama", &format!("ptrace_scope {}: the tracer can attach", yama.unwrap_or_default())),
        Some(s) => r.line(
            Some(false),
            "Yama",
            &format!("ptrace_scope {s}: ptrace is refused; static, Go and musl programs cannot be faked and fakebox refuses to run them"),
        ),
    }
    let seccomp =
        read("/proc/self/status").and_then(|s| s.lines().find(|l| l.starts_with("Seccomp:")).map(|l| l.to_string()));
    match seccomp {
        Some(l) => r.line(
            Some(true),
            "seccomp",
            &format!("available ({})", l.split_whitespace().collect::<Vec<_>>().join(" ")),
        ),
        None => r.line(Some(false), "seccomp", "not available: the tracer cannot filter system calls"),
    }
    // The real test of ptrace + seccomp: a program under the tracer. It also says whether
    // the agent took over (README, "The agent"): a program is then no longer ptraced.
    let traced = Command::new(&exe)
        .args(["run", "--mechanism", "tracer", "--", "/bin/sh", "-c", "id -u; grep TracerPid: /proc/self/status"])
        .output();
    match traced {
        Ok(o) if o.status.success() && String::from_utf8_lossy(&o.stdout).lines().next() == Some("0") => {
            r.line(Some(true), "ptrace", "the tracer fakes a test program (static, Go and musl programs will work)");
            let untraced = String::from_utf8_lossy(&o.stdout).split_whitespace().nth(2) == Some("0");
            if untraced {
                r.line(
                    Some(true),
                    "agent",
                    "traced programs run untraced, with the agent: a stat costs a signal, not a ptrace stop",
                );
            } else {
                r.line(
                    None,
                    "agent",
                    "the agent cannot be placed here: traced programs stay traced, one ptrace stop per faked call (slower, still faked); FAKEBOX_LOG=debug says why",
                );
            }
        }
        Ok(o) => r.line(
            Some(false),
            "ptrace",
            &format!(
                "the tracer could not run a test program: {}; static, Go and musl programs are refused (exit 125), glibc programs still work",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        ),
        Err(e) => r.line(Some(false), "ptrace", &format!("cannot run the test: {e}")),
    }
    let runtime = match crate::private::base_dir() {
        Ok(d) => d.path.display().to_string(),
        Err(crate::session::Failure(why, _)) => {
            r.line(Some(false), "private directory", &why);
            "(none)".into()
        }
    };
    r.line(
        None,
        "state",
        &format!("--state FILE keeps FILE and FILE.journal; the daemons of state files listen in {runtime}"),
    );
    Ok(if r.failed { EXIT_FAILURE } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(kernel_version("5.10.209"), Some((5, 10)));
        assert_eq!(kernel_version("6.18.44-fc-v1147"), Some((6, 18)));
        assert_eq!(kernel_version("4.19"), Some((4, 19)));
        assert_eq!(kernel_version("garbage"), None);
        assert_eq!(kernel_version("6"), None);
        assert_eq!(MIN_KERNEL, (5, 6));
        assert!((5, 10) >= MIN_KERNEL && (5, 5) < MIN_KERNEL && (4, 19) < MIN_KERNEL);
    }
}
