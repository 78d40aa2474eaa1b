//! The ELF sniffer (`fakebox_proto::elf::classify`) on real binaries of every kind the
//! launcher and the exec hooks must tell apart (docs/ARCHITECTURE.md, "How a program's mechanism is chosen"), and on malformed
//! input: a wrong answer sends a program to a mechanism that cannot fake it.

use fakebox_proto::elf::{Elf, Exec, Interp, classify};
use fakebox_tests::{bin_dir, build_c, build_c_with, build_cgo, build_go, require_path};
use std::fs;
use std::path::Path;
use std::process::Command;

const HELLO_C: &str = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

const HELLO_GO: &str = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n";

const HELLO_CGO: &str = r#"package main

/*
int twice(int x) { return 2 * x; }
*/
import "C"

import "fmt"

func main() { fmt.Println(C.twice(21)) }
"#;

const X86_64: u16 = 62;
const I386: u16 = 3;
const AARCH64: u16 = 183;

/// Classifies `bytes` as the launcher does: the first 4 KiB as the head, the rest readable.
fn sniff(bytes: &[u8]) -> Exec {
    let head = &bytes[..bytes.len().min(4096)];
    let mut file = bytes;
    classify(head, &mut file)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn elf_of(path: &Path) -> Elf {
    match sniff(&read(path)) {
        Exec::Elf(e) => e,
        other => panic!("{} is not sniffed as ELF: {other:?}", path.display()),
    }
}

fn elf(class64: bool, machine: u16, interp: Interp, pie: bool, go: bool) -> Elf {
    Elf { class64, machine, interp, pie, go, runtime: None }
}

/// A minimal ELF file made by hand: one PT_LOAD covering the file and, if `interp` is
/// given, a PT_INTERP naming it. Little-endian, version 1.
fn handmade(class64: bool, machine: u16, e_type: u16, interp: Option<&str>, code: &[u8]) -> Vec<u8> {
    let (ehsize, phentsize) = if class64 { (64usize, 56usize) } else { (52, 32) };
    let phnum = if interp.is_some() { 2 } else { 1 };
    let data_at = ehsize + phnum * phentsize;
    let mut interp_bytes = interp.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
    if interp.is_some() {
        interp_bytes.push(0);
    }
    let code_at = data_at + interp_bytes.len();
    let total = code_at + code.len();
    let base: u64 = if class64 { 0x40_0000 } else { 0x0804_8000 };
    let entry = base + code_at as u64;

    let mut f = Vec::with_capacity(total);
    f.extend_from_slice(b"\x7fELF");
    f.push(if class64 { 2 } else { 1 });
    f.extend_from_slice(&[1, 1, 0]);
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&e_type.to_le_bytes());
    f.extend_from_slice(&machine.to_le_bytes());
    f.extend_from_slice(&1u32.to_le_bytes());
    let word = |f: &mut Vec<u8>, v: u64| {
        if class64 {
            f.extend_from_slice(&v.to_le_bytes());
        } else {
            f.extend_from_slice(&(v as u32).to_le_bytes());
        }
    };
    word(&mut f, entry); // e_entry
    word(&mut f, ehsize as u64); // e_phoff
    word(&mut f, 0); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [ehsize as u16, phentsize as u16, phnum as u16, 0, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(f.len(), ehsize);

    let phdr = |f: &mut Vec<u8>, p_type: u32, offset: u64, vaddr: u64, size: u64, flags: u32, align: u64| {
        f.extend_from_slice(&p_type.to_le_bytes());
        if class64 {
            f.extend_from_slice(&flags.to_le_bytes());
            for v in [offset, vaddr, vaddr, size, size, align] {
                f.extend_from_slice(&v.to_le_bytes());
            }
        } else {
            for v in [offset, vaddr, vaddr, size, size] {
                f.extend_from_slice(&(v as u32).to_le_bytes());
            }
            f.extend_from_slice(&flags.to_le_bytes());
            f.extend_from_slice(&(align as u32).to_le_bytes());
        }
    };
    if interp.is_some() {
        phdr(&mut f, 3, data_at as u64, base + data_at as u64, interp_bytes.len() as u64, 4, 1);
    }
    phdr(&mut f, 1, 0, base, total as u64, 5, 0x1000);
    f.extend_from_slice(&interp_bytes);
    f.extend_from_slice(code);
    assert_eq!(f.len(), total);
    f
}

/// `mov eax, 1; mov ebx, 42; int 0x80`: exit(42) through the i386 system call gate.
const I386_EXIT_42: &[u8] = &[0xb8, 1, 0, 0, 0, 0xbb, 42, 0, 0, 0, 0xcd, 0x80];

#[test]
fn gcc_dynamic_is_glibc_and_preloadable() {
    let e = elf_of(&build_c("elf-gcc-dyn", HELLO_C, &[]));
    assert_eq!(e, elf(true, X86_64, Interp::Glibc, false, false));
    assert!(e.preload_reaches());
    assert_eq!(e.describe(), "glibc dynamic");
}

#[test]
fn gcc_static_has_no_interpreter() {
    let e = elf_of(&build_c("elf-gcc-static", HELLO_C, &["-static"]));
    assert_eq!(e, elf(true, X86_64, Interp::None, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "statically linked");
}

#[test]
fn gcc_static_pie_is_pie_without_interpreter() {
    let e = elf_of(&build_c("elf-gcc-static-pie", HELLO_C, &["-static-pie"]));
    assert_eq!(e, elf(true, X86_64, Interp::None, true, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "static-pie");
}

#[test]
fn musl_static_has_no_interpreter() {
    let e = elf_of(&build_c_with("musl-gcc", "elf-musl-static", HELLO_C, &["-O2", "-static"]));
    assert_eq!(e, elf(true, X86_64, Interp::None, false, false));
    assert!(!e.preload_reaches());
}

#[test]
fn musl_dynamic_names_the_musl_loader() {
    let e = elf_of(&build_c_with("musl-gcc", "elf-musl-dyn", HELLO_C, &["-O2"]));
    assert_eq!(e, elf(true, X86_64, Interp::Musl, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "musl");
}

#[test]
fn go_static_carries_the_go_note() {
    let e = elf_of(&build_go("elf-go-static", HELLO_GO));
    assert_eq!(e, elf(true, X86_64, Interp::None, false, true));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "Go");
}

#[test]
fn go_cgo_is_glibc_dynamic_but_not_preloadable() {
    // cgo links against glibc through ld-linux, yet the Go runtime makes raw syscalls.
    let exe = build_cgo("elf-go-cgo", HELLO_CGO);
    let out = Command::new(&exe).output().expect("cannot run the cgo program");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "the cgo program itself does not work");
    let e = elf_of(&exe);
    assert_eq!(e, elf(true, X86_64, Interp::Glibc, false, true));
    assert!(!e.preload_reaches());
}

#[test]
fn busybox_static_has_no_interpreter() {
    let e = elf_of(&require_path("/bin/busybox"));
    assert_eq!(e, elf(true, X86_64, Interp::None, false, false));
    assert!(!e.preload_reaches());
}

#[test]
fn bin_sh_is_glibc_dynamic() {
    let e = elf_of(&require_path("/bin/sh"));
    assert_eq!(e, elf(true, X86_64, Interp::Glibc, false, false));
    assert!(e.preload_reaches());
}

#[test]
fn head_shorter_than_the_program_headers_reads_the_rest() {
    // The head holds only the ELF header; the program headers and PT_INTERP come from
    // the reader.
    let bytes = read(&build_c("elf-gcc-dyn", HELLO_C, &[]));
    let mut file: &[u8] = &bytes;
    assert_eq!(classify(&bytes[..64], &mut file), Exec::Elf(elf(true, X86_64, Interp::Glibc, false, false)));
}

#[test]
fn shell_scripts() {
    let dir = bin_dir();
    let path = dir.join("elf-script.sh");
    fs::write(&path, "#!/bin/sh\necho hello\n").expect("cannot write the script");
    let bytes = read(&path);
    assert_eq!(sniff(&bytes), Exec::Script { interp: (2, 9), arg: None });
    assert_eq!(&bytes[2..9], b"/bin/sh");

    let s = b"#!/bin/sh -e\nexit 0\n";
    assert_eq!(sniff(s), Exec::Script { interp: (2, 9), arg: Some((10, 12)) });
    let s = b"#! /usr/bin/env python3\r\n";
    assert_eq!(sniff(s), Exec::Script { interp: (3, 15), arg: Some((16, 23)) });
    // No newline at all (a one-line file): still a script.
    let s = b"#!/bin/true";
    assert_eq!(sniff(s), Exec::Script { interp: (2, 11), arg: None });
    // `#!` and nothing after it names no interpreter: the kernel answers ENOEXEC.
    assert_eq!(sniff(b"#!\n"), Exec::Unknown);
    assert_eq!(sniff(b"#! \t \necho\n"), Exec::Unknown);
}

/// e_phoff, e_phnum and the PT_INTERP (offset, size) of a 64-bit little-endian ELF.
fn layout(b: &[u8]) -> (usize, usize, (usize, usize)) {
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phnum) = (u64_at(32), u16_at(56));
    assert_eq!(u16_at(54), 56);
    let interp = (0..phnum)
        .map(|i| phoff + i * 56)
        .find(|&p| u32_at(p) == 3)
        .map(|p| (u64_at(p + 8), u64_at(p + 32)))
        .expect("no PT_INTERP");
    (phoff, phnum, interp)
}

#[test]
fn truncated_files_are_unknown() {
    let bytes = read(&build_c("elf-gcc-dyn", HELLO_C, &[]));
    let (phoff, phnum, (interp_at, interp_len)) = layout(&bytes);
    assert_eq!(phoff, 64);
    let cuts = [
        0,
        1,
        3,
        4,
        5,
        16,
        20,
        51,
        52,
        57,
        63,
        64,
        phoff + 1,
        phoff + 55,
        phoff + 56,
        phoff + 56 * phnum - 1,
        interp_at,
        interp_at + 1,
        interp_at + interp_len - 1,
    ];
    for cut in cuts {
        let part = &bytes[..cut];
        assert_eq!(sniff(part), Exec::Unknown, "cut at {cut} bytes");
    }
    // The whole file, for contrast.
    assert!(matches!(sniff(&bytes), Exec::Elf(_)));
}

#[test]
fn garbage_is_unknown() {
    assert_eq!(sniff(b""), Exec::Unknown);
    assert_eq!(sniff(b"hello world, this is not an executable\n"), Exec::Unknown);
    assert_eq!(sniff(&[0u8; 4096]), Exec::Unknown);
    assert_eq!(sniff(&[0xffu8; 4096]), Exec::Unknown);
    assert_eq!(sniff(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"), Exec::Unknown);
    assert_eq!(sniff(b"\x7fELF"), Exec::Unknown);
    // Pseudo-random bytes, with and without the ELF magic in front.
    let mut x: u32 = 0x2545_f491;
    let mut noise = vec![0u8; 8192];
    for b in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    assert_eq!(sniff(&noise), Exec::Unknown);
    let mut magic = noise.clone();
    magic[..4].copy_from_slice(b"\x7fELF");
    magic[4] = 3; // no such class
    assert_eq!(sniff(&magic), Exec::Unknown);

    let real = read(&build_c("elf-gcc-dyn", HELLO_C, &[]));
    // Big-endian data: the kernel here would not run it.
    let mut be = real.clone();
    be[5] = 2;
    assert_eq!(sniff(&be), Exec::Unknown);
    // ELFCLASSNONE.
    let mut none = real.clone();
    none[4] = 0;
    assert_eq!(sniff(&none), Exec::Unknown);
    // Program headers of the wrong size (the kernel wants sizeof(Elf64_Phdr)).
    let mut small = real.clone();
    small[54..56].copy_from_slice(&32u16.to_le_bytes());
    assert_eq!(sniff(&small), Exec::Unknown);
}

#[test]
fn program_headers_beyond_the_file_are_unknown() {
    let real = read(&build_c("elf-gcc-dyn", HELLO_C, &[]));
    let len = real.len() as u64;
    for phoff in [len, len + 4096, len - 20, u64::MAX - 8, u64::MAX] {
        let mut b = real.clone();
        b[32..40].copy_from_slice(&phoff.to_le_bytes());
        assert_eq!(sniff(&b), Exec::Unknown, "e_phoff {phoff:#x} in a file of {len:#x} bytes");
    }
    // PT_INTERP pointing beyond the file.
    let mut b = real.clone();
    let (phoff, phnum, _) = layout(&b);
    let p = (0..phnum).map(|i| phoff + i * 56).find(|&p| b[p..p + 4] == 3u32.to_le_bytes()).unwrap();
    b[p + 8..p + 16].copy_from_slice(&(len + 100).to_le_bytes());
    assert_eq!(sniff(&b), Exec::Unknown);
}

#[test]
fn handmade_x86_64_static_and_dynamic() {
    // Sanity of the hand-made builder against the real thing.
    let st = handmade(true, X86_64, 2, None, &[0xcc]);
    assert_eq!(sniff(&st), Exec::Elf(elf(true, X86_64, Interp::None, false, false)));
    let pie = handmade(true, X86_64, 3, None, &[0xcc]);
    assert_eq!(sniff(&pie), Exec::Elf(elf(true, X86_64, Interp::None, true, false)));
    let dy = handmade(true, X86_64, 3, Some("/lib64/ld-linux-x86-64.so.2"), &[0xcc]);
    let e = elf(true, X86_64, Interp::Glibc, false, false);
    assert_eq!(sniff(&dy), Exec::Elf(e));
    assert!(e.preload_reaches());
    let other = handmade(true, X86_64, 3, Some("/opt/weird/ld.so"), &[0xcc]);
    assert_eq!(sniff(&other), Exec::Elf(elf(true, X86_64, Interp::Other, false, false)));
}

#[test]
fn elfclass32_is_not_64_bit() {
    // x32-style: ELFCLASS32 with e_machine x86_64.
    let b = handmade(false, X86_64, 2, None, &[0xcc]);
    let Exec::Elf(e) = sniff(&b) else { panic!("not sniffed as ELF: {:?}", sniff(&b)) };
    assert_eq!(e, elf(false, X86_64, Interp::None, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "32-bit");
}

#[test]
fn i386_static_and_dynamic() {
    let b = handmade(false, I386, 2, None, I386_EXIT_42);
    let Exec::Elf(e) = sniff(&b) else { panic!("not sniffed as ELF: {:?}", sniff(&b)) };
    assert_eq!(e, elf(false, I386, Interp::None, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "32-bit");

    // A dynamic i386 glibc program: the loader is glibc's, but a 64-bit library cannot load.
    let b = handmade(false, I386, 3, Some("/lib/ld-linux.so.2"), I386_EXIT_42);
    let Exec::Elf(e) = sniff(&b) else { panic!("not sniffed as ELF: {:?}", sniff(&b)) };
    assert_eq!(e, elf(false, I386, Interp::Glibc, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "32-bit");
}

#[test]
fn foreign_architecture_is_not_preloadable() {
    let b = handmade(true, AARCH64, 3, Some("/lib/ld-linux-aarch64.so.1"), &[0; 4]);
    let Exec::Elf(e) = sniff(&b) else { panic!("not sniffed as ELF: {:?}", sniff(&b)) };
    assert_eq!(e, elf(true, AARCH64, Interp::Glibc, false, false));
    assert!(!e.preload_reaches());
    assert_eq!(e.describe(), "foreign-architecture");
}
