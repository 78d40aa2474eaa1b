//! One rule decides which mechanism runs a program (`fakebox_proto::mechanism`), and
//! every doubt goes to the tracer: the ways an exec inside a session could reach a
//! program the preload library does not fake, each of which once ran it unfaked.

use fakebox_tests::{Case, bin_dir, build_c, check_all, current_uid, require};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// `fex PROGRAM ARGV...`: opens PROGRAM and fexecve's it.
const FEX_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror("open"); return 1; }
    fexecve(fd, argv + 2, environ);
    perror("fexecve");
    return 1;
}
"#;

/// `exat DIR NAME ARGV...`: execveat of NAME relative to an fd of DIR; `exat - PROGRAM
/// ARGV...`: execveat(fd, "", AT_EMPTY_PATH) of an O_PATH fd of PROGRAM.
const EXAT_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
    if (argc < 4) return 2;
    if (!strcmp(argv[1], "-")) {
        int fd = open(argv[2], O_PATH | O_CLOEXEC);
        if (fd < 0) { perror("open"); return 1; }
        execveat(fd, "", argv + 3, environ, AT_EMPTY_PATH);
    } else {
        int d = open(argv[1], O_RDONLY | O_DIRECTORY);
        if (d < 0) { perror("open"); return 1; }
        execveat(d, argv[2], argv + 3, environ, 0);
    }
    perror("execveat");
    return 1;
}
"#;

/// `ids [FILE]`: prints the real and effective uid and gid, and chowns FILE to 5:5.
const IDS_C: &str = r#"
#define _GNU_SOURCE
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
    uid_t r, e, s; gid_t rg, eg, sg;
    getresuid(&r, &e, &s);
    getresgid(&rg, &eg, &sg);
    printf("%u %u %u %u\n", r, e, rg, eg);
    if (argc > 1 && chown(argv[1], 5, 5) != 0) perror("chown");
    return 0;
}
"#;

/// `nofa2 ERRNO PROGRAM ARGV...`: execvp's PROGRAM under a seccomp filter that answers
/// faccessat2 with ERRNO, as kernels before 5.8 (ENOSYS) and some container profiles
/// (EPERM) do.
const NOFA2_C: &str = r#"
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 439 /* faccessat2 */, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (atoi(argv[1]) & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
        perror("seccomp");
        return 1;
    }
    if (syscall(439, AT_FDCWD, "/", X_OK, 0) == 0) { fprintf(stderr, "faccessat2 still works\n"); return 1; }
    execvp(argv[2], argv + 2);
    perror("execvp");
    return 1;
}
"#;

fn busybox() -> String {
    require("busybox").display().to_string()
}

/// A copy of `from` in the tests' bin directory, owned by the test process (root, when
/// the tests run as root) with mode `mode`.
fn copy_with_mode(from: &Path, name: &str, mode: u32) -> PathBuf {
    let to = bin_dir().join(name);
    let _ = std::fs::remove_file(&to);
    std::fs::copy(from, &to).unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).expect("chmod");
    to
}

#[test]
fn fexecve_of_a_static_program_is_faked() {
    let fex = build_c("fex", FEX_C, &[]).display().to_string();
    let bb = busybox();
    Case::new("fexecve_of_a_static_program_is_faked").check(
        "1:2\n0",
        &format!("touch f; {fex} {bb} busybox chown 1:2 f; stat -c %u:%g f; {fex} {bb} busybox id -u"),
    );
}

#[test]
fn execveat_by_directory_fd_and_by_empty_path_is_faked() {
    let exat = build_c("exat", EXAT_C, &[]).display().to_string();
    let bb = PathBuf::from(busybox());
    let (dir, name) = (bb.parent().unwrap().display().to_string(), bb.file_name().unwrap().to_string_lossy());
    Case::new("execveat_by_directory_fd_and_by_empty_path_is_faked").check(
        "3:4\n5:6",
        &format!(
            "touch f; {exat} {dir} {name} busybox chown 3:4 f; stat -c %u:%g f; \
             {exat} - {bb} busybox chown 5:6 f; stat -c %u:%g f",
            bb = bb.display()
        ),
    );
}

/// A setuid-root program run from a shell inside a session gets what `fakebox run --
/// prog` gives it: the fake identity, a fake chown, and none of the privileges its bit
/// would give (ld.so's secure mode would otherwise drop the preload library and run it
/// with them, unfaked).
#[test]
fn a_setuid_program_is_faked_from_a_shell_as_from_the_command_line() {
    let probe = build_c("ids", IDS_C, &[]);
    let suid = copy_with_mode(&probe, "ids-setuid", 0o4755);
    let p = suid.display().to_string();
    let snippet = format!("umask 022\ntouch g; {p} g; stat -c %u:%g g; {p}");
    let outcomes = Case::new("a_setuid_program_is_faked").fakebox(&["run", "--", "sh", "-c", &snippet]);
    let owner = std::fs::metadata(&suid).unwrap().uid();
    check_all("a_setuid_program_is_faked", &outcomes, |o| {
        let want = "0 0 0 0\n5:5\n0 0 0 0";
        if o.stdout.trim() != want {
            return Err(format!("stdout differs\n  want: {want:?}\n  got:  {:?}", o.stdout.trim()));
        }
        let real = std::fs::metadata(o.dir.join("g")).map_err(|e| format!("g: {e}"))?;
        if real.uid() != o.identity.uid() || real.gid() != o.identity.uid() {
            return Err(format!(
                "g really belongs to {}:{} (the program is owned by uid {owner}): the chown reached the disk",
                real.uid(),
                real.gid()
            ));
        }
        Ok(())
    });
    // The session's command itself: the same.
    let direct = Case::new("a_setuid_program_is_faked_direct").fakebox(&["run", "--", &p]);
    check_all("a_setuid_program_is_faked_direct", &direct, |o| {
        if o.stdout.trim() == "0 0 0 0" { Ok(()) } else { Err(format!("stdout: {:?}", o.stdout.trim())) }
    });
    if current_uid() != 0 {
        eprintln!("note: not root: the setuid copy belongs to the current user, so its bit raises nothing");
    }
}

/// A program nobody but root may read (mode 0111) runs, but the exec hook cannot look at
/// it, and the kernel keeps a tracer of the same user out of it: as root it is faked, as
/// an ordinary user it is refused with a message, never run unfaked.
#[test]
fn an_unreadable_static_program_is_faked_or_refused() {
    let bb = copy_with_mode(Path::new(&busybox()), "busybox-0111", 0o111).display().to_string();
    let snippet = format!("umask 022\ntouch f; {bb} chown 1:2 f; echo $?; stat -c %u:%g f");
    let outcomes = Case::new("an_unreadable_static_program").fakebox(&["run", "--", "sh", "-c", &snippet]);
    check_all("an_unreadable_static_program", &outcomes, |o| {
        let (want, says) = match o.identity.uid() {
            0 => ("0\n1:2", None),
            _ => ("126\n0:0", Some("cannot be read")),
        };
        if o.stdout.trim() != want {
            return Err(format!("stdout differs\n  want: {want:?}\n  got:  {:?}", o.stdout.trim()));
        }
        match says {
            Some(s) if !o.stderr.contains(s) => Err(format!("stderr does not say {s:?}")),
            _ => Ok(()),
        }
    });
}

/// Five `#!` scripts, each the interpreter of the next, end in busybox: the kernel runs
/// that chain, from a shell in the session and as the session's first command.
#[test]
fn a_chain_of_scripts_as_deep_as_the_kernel_goes_is_faked() {
    let bb = busybox();
    let make = format!(
        "printf '#!{bb} sh\\n{bb} chown 1:2 f; {bb} stat -c %%u:%%g f\\n' > s0; \
         for i in 1 2 3 4; do printf '#!./s%s\\n' $((i - 1)) > s$i; done; chmod 755 s0 s1 s2 s3 s4; touch f"
    );
    let case = Case::new("a_chain_of_scripts_as_deep_as_the_kernel_goes_is_faked");
    case.check("1:2", &format!("{make}; ./s4"));
    case.check_outer("1:2", &format!("{make}; \"$FB\" run -- ./s4"));
}

/// execvp where faccessat2 fails: the exec hook's own PATH search must still find the
/// program that will run, and sniff it.
#[test]
fn execvp_where_faccessat2_is_denied_is_faked() {
    let nofa2 = build_c("nofa2", NOFA2_C, &[]).display().to_string();
    require("busybox");
    Case::new("execvp_where_faccessat2_is_denied_is_faked").check(
        "1:2\n3:4",
        &format!(
            "touch f; {nofa2} 1 busybox chown 1:2 f; stat -c %u:%g f; {nofa2} 38 busybox chown 3:4 f; stat -c %u:%g f"
        ),
    );
}

/// `gonote FILE`: a glibc program carrying the Go toolchain's note after 600 bytes of
/// another note, that chowns FILE to 1:2 with a raw system call (as Go programs do,
/// which LD_PRELOAD does not see).
const GONOTE_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
__asm__(".section .note.pad,\"a\",@note\n.balign 4\n"
        ".long 4\n.long 600\n.long 1\n.asciz \"PAD\"\n.fill 600,1,0\n"
        ".long 3\n.long 4\n.long 4\n.asciz \"Go\"\n.balign 4\n.long 0\n.text\n");
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (syscall(SYS_fchownat, AT_FDCWD, argv[1], 1, 2, 0) != 0) { perror("fchownat"); return 1; }
    return 0;
}
"#;

/// The Go note is looked for in the whole note segment, not its first bytes.
#[test]
fn a_go_note_past_the_first_bytes_is_found() {
    let p = build_c("gonote", GONOTE_C, &[]).display().to_string();
    Case::new("a_go_note_past_the_first_bytes_is_found").check("1:2", &format!("touch f; {p} f; stat -c %u:%g f"));
}
