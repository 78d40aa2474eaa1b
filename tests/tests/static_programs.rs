//! Programs that skip glibc's dynamic libc: static glibc, musl (static and dynamic), Go,
//! busybox; and crossings between them (docs/ARCHITECTURE.md, "How a program's mechanism is chosen").

use fakebox_tests::{Case, build_c, build_c_with, build_go, expect_exit, require};
use std::path::PathBuf;

const PROBE_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static int show(const struct stat *s) {
    printf("%d:%d:%o:%d,%d\n", (int)s->st_uid, (int)s->st_gid, (unsigned)s->st_mode,
           (int)major(s->st_rdev), (int)minor(s->st_rdev));
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *op = argv[1];
    struct stat s;
    if (!strcmp(op, "id")) {
        printf("%d %d %d %d\n", (int)getuid(), (int)geteuid(), (int)getgid(), (int)getegid());
        return 0;
    }
    if (!strcmp(op, "chown") && argc == 5) return chown(argv[2], atoi(argv[3]), atoi(argv[4])) ? (perror("chown"), 1) : 0;
    if (!strcmp(op, "lchown") && argc == 5) return lchown(argv[2], atoi(argv[3]), atoi(argv[4])) ? (perror("lchown"), 1) : 0;
    if (!strcmp(op, "fchown") && argc == 5) {
        int fd = open(argv[2], O_RDONLY);
        return (fd < 0 || fchown(fd, atoi(argv[3]), atoi(argv[4]))) ? (perror("fchown"), 1) : 0;
    }
    if (!strcmp(op, "chmod") && argc == 4) return chmod(argv[2], strtol(argv[3], 0, 8)) ? (perror("chmod"), 1) : 0;
    if (!strcmp(op, "mknod") && argc == 6) {
        mode_t t = argv[3][0] == 'b' ? S_IFBLK : S_IFCHR;
        return mknod(argv[2], t | 0644, makedev(atoi(argv[4]), atoi(argv[5]))) ? (perror("mknod"), 1) : 0;
    }
    if (!strcmp(op, "stat") && argc == 3) return stat(argv[2], &s) ? (perror("stat"), 1) : show(&s);
    if (!strcmp(op, "lstat") && argc == 3) return lstat(argv[2], &s) ? (perror("lstat"), 1) : show(&s);
    if (!strcmp(op, "fstat") && argc == 3) {
        int fd = open(argv[2], O_RDONLY);
        return (fd < 0 || fstat(fd, &s)) ? (perror("fstat"), 1) : show(&s);
    }
    if (!strcmp(op, "fork-chown") && argc == 5) {
        pid_t p = fork();
        if (p == 0) _exit(chown(argv[2], atoi(argv[3]), atoi(argv[4])) ? 1 : 0);
        int st;
        waitpid(p, &st, 0);
        return stat(argv[2], &s) ? 1 : show(&s);
    }
    if (!strcmp(op, "exec") && argc >= 4) { execv(argv[2], argv + 3); perror("exec"); return 127; }
    fprintf(stderr, "bad op\n");
    return 2;
}
"#;

const PROBE_GO: &str = r#"package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func main() {
	a := os.Args[1:]
	switch a[0] {
	case "id":
		fmt.Println(syscall.Getuid(), syscall.Geteuid(), syscall.Getgid(), syscall.Getegid())
	case "chown":
		if err := syscall.Chown(a[1], atoi(a[2]), atoi(a[3])); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "mknod":
		mode := uint32(syscall.S_IFCHR)
		if a[2] == "b" {
			mode = syscall.S_IFBLK
		}
		dev := (atoi(a[3]) << 8) | atoi(a[4])
		if err := syscall.Mknod(a[1], mode|0o644, dev); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "stat":
		var s syscall.Stat_t
		if err := syscall.Stat(a[1], &s); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d:%d:%o:%d,%d\n", s.Uid, s.Gid, s.Mode, (s.Rdev>>8)&0xfff, s.Rdev&0xff)
	case "pid":
		fmt.Println(os.Getpid())
	default:
		os.Exit(2)
	}
}
"#;

fn glibc_static() -> PathBuf {
    build_c("probe-glibc-static", PROBE_C, &["-static"])
}

fn musl_static() -> PathBuf {
    build_c_with("musl-gcc", "probe-musl-static", PROBE_C, &["-O2", "-static"])
}

fn musl_dynamic() -> PathBuf {
    build_c_with("musl-gcc", "probe-musl-dyn", PROBE_C, &["-O2"])
}

fn go_static() -> PathBuf {
    build_go("probe-go", PROBE_GO)
}

/// The same cases for each build of the C probe, one test each.
macro_rules! probe_tests {
    ($module:ident, $build:ident) => {
        mod $module {
            use super::*;

            fn p() -> String {
                $build().display().to_string()
            }

            fn name(case: &str) -> String {
                format!("{}_{case}", stringify!($module))
            }

            #[test]
            fn id() {
                Case::new(&name("id")).check("0 0 0 0", &format!("{} id", p()));
            }

            #[test]
            fn chown() {
                let p = p();
                Case::new(&name("chown")).check(
                    "11:12\n13:14:100644:0,0\n15:16",
                    &format!(
                        "touch f; {p} chown f 11 12; stat -c %u:%g f; chown 13:14 f; {p} stat f; \
                         {p} fchown f 15 16; stat -c %u:%g f"
                    ),
                );
            }

            #[test]
            fn mknod() {
                let p = p();
                Case::new(&name("mknod")).check(
                    "character special file 1:9\n0:0:20644:1,9\nblock special file 8:2",
                    &format!(
                        "{p} mknod d c 1 9; stat -c '%F %t:%T' d; {p} stat d; {p} mknod b b 8 2; \
                         stat -c '%F %t:%T' b"
                    ),
                );
            }

            #[test]
            fn chmod() {
                let p = p();
                Case::new(&name("chmod"))
                    .check("4755\n0:0:104755:0,0", &format!("touch f; {p} chmod f 4755; stat -c %a f; {p} stat f"));
            }

            #[test]
            fn lchown() {
                let p = p();
                Case::new(&name("lchown")).check(
                    "7:8:120777:0,0\n0:0:100644:0,0",
                    &format!("touch t; ln -s t l; {p} lchown l 7 8; {p} lstat l; {p} stat l"),
                );
            }

            #[test]
            fn fork_child() {
                let p = p();
                Case::new(&name("fork_child")).check("21:22:100644:0,0", &format!("touch f; {p} fork-chown f 21 22"));
            }

            #[test]
            fn exec_dynamic() {
                let p = p();
                Case::new(&name("exec_dynamic")).check(
                    "0\n5:5",
                    &format!(
                        "touch f; {p} exec /usr/bin/id id -u; {p} exec /bin/chown chown 5:5 f; \
                         stat -c %u:%g f"
                    ),
                );
            }
        }
    };
}

probe_tests!(glibc_static, glibc_static);
probe_tests!(musl_static, musl_static);
probe_tests!(musl_dynamic, musl_dynamic);

#[test]
fn go_id() {
    let p = go_static().display().to_string();
    Case::new("go_id").check("0 0 0 0", &format!("{p} id"));
}

#[test]
fn go_chown() {
    let p = go_static().display().to_string();
    Case::new("go_chown").check(
        "11:12\n13:14:100644:0,0",
        &format!("touch f; {p} chown f 11 12; stat -c %u:%g f; chown 13:14 f; {p} stat f"),
    );
}

#[test]
fn go_mknod() {
    let p = go_static().display().to_string();
    Case::new("go_mknod").check(
        "character special file 1:9\n0:0:20644:1,9",
        &format!("{p} mknod d c 1 9; stat -c '%F %t:%T' d; {p} stat d"),
    );
}

#[test]
fn go_pid_kept() {
    // The launcher's exec decision must not insert a process: $$ is the Go program's pid.
    let p = go_static().display().to_string();
    Case::new("go_pid_kept")
        .check("same", &format!(r#"sh -c 'echo $$ > p1; exec {p} pid' > p2; cmp -s p1 p2 && echo same || echo diff"#));
}

#[test]
fn busybox_id() {
    require("busybox");
    Case::new("busybox_id").check("0\n0", "busybox id -u; busybox id -g");
}

#[test]
fn busybox_chown() {
    require("busybox");
    Case::new("busybox_chown").check("7:8", "touch f; busybox chown 7:8 f; stat -c %u:%g f");
}

#[test]
fn busybox_stat() {
    require("busybox");
    Case::new("busybox_stat").check("9:10 4755", "touch f; chown 9:10 f; chmod 4755 f; busybox stat -c '%u:%g %a' f");
}

#[test]
fn busybox_mknod() {
    require("busybox");
    Case::new("busybox_mknod").check("character special file 1:7", "busybox mknod d c 1 7; stat -c '%F %t:%T' d");
}

#[test]
fn busybox_ls() {
    require("busybox");
    Case::new("busybox_ls").check(
        "-rwsr-xr-x 9 10",
        "touch f; chown 9:10 f; chmod 4755 f; busybox ls -ln f | busybox awk '{print $1, $3, $4}'",
    );
}

#[test]
fn busybox_tar() {
    require("busybox");
    require("tar");
    Case::new("busybox_tar").check(
        "t/a -rw-r--r-- 11/12\nt/b -rwsr-xr-x 0/0",
        r#"mkdir t; touch t/a t/b; chown 11:12 t/a; chmod 4755 t/b; busybox tar -cf x.tar t
tar --numeric-owner -tvf x.tar | awk '$NF != "t/" {print $NF, $1, $2}' | sort"#,
    );
}

#[test]
fn static_shell_runs_dynamic_programs() {
    require("busybox");
    Case::new("static_shell_runs_dynamic_programs").check(
        "3\n3:4",
        r#"busybox sh -c "touch f; /usr/bin/chown 3:4 f; busybox stat -c %u f; /usr/bin/stat -c %u:%g f""#,
    );
}

#[test]
fn dynamic_shell_runs_static_programs() {
    require("busybox");
    let p = glibc_static().display().to_string();
    Case::new("dynamic_shell_runs_static_programs").check(
        "5:6\n7:8:100644:0,0",
        &format!("touch f; busybox chown 5:6 f; stat -c %u:%g f; chown 7:8 f; {p} stat f"),
    );
}

#[test]
fn static_exit_status() {
    require("busybox");
    let runs = Case::new("static_exit_status").fakebox(&["run", "--", "busybox", "sh", "-c", "exit 7"]);
    expect_exit("static_exit_status", &runs, 7, |_| true);
}

#[test]
fn static_killed_by_signal() {
    require("busybox");
    let runs = Case::new("static_killed_by_signal").fakebox(&["run", "--", "busybox", "sh", "-c", "kill -TERM $$"]);
    expect_exit("static_killed_by_signal", &runs, 143, |_| true);
}

#[test]
fn static_no_real_change_on_disk() {
    // What a static program or Go program asks for is faked too: nothing real changes,
    // also when fakebox runs as real root.
    require("busybox");
    let go = go_static().display().to_string();
    let st = glibc_static().display().to_string();
    Case::new("static_no_real_change_on_disk").check_outer(
        "7:8 4755\nowner kept\n755\nregular empty file\nowner kept\nmode kept",
        &format!(
            r#""$FB" run -- sh -c 'touch f g h; busybox chown 7:8 f; busybox chmod 4755 f; busybox stat -c "%u:%g %a" f; {go} mknod d c 1 3; {st} chown g 5 6; {st} chmod h 4755' 2>/dev/null
[ "$(stat -c %u:%g f)" = "$(id -u):$(id -g)" ] && echo owner kept
stat -c %a f
stat -c %F d
[ "$(stat -c %u:%g g)" = "$(id -u):$(id -g)" ] && echo owner kept
[ "$(stat -c %a h)" = 755 ] && echo mode kept"#
        ),
    );
}
