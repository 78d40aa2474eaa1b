//! Which mechanism a program needs, read from its first bytes.
//!
//! A pure function over a reader, so the launcher, the preload library (without
//! allocating) and the tests share it. Only what the decision needs is parsed: the ELF
//! header, the program headers, PT_INTERP and the notes (Go marks its binaries with one).

/// What `execve` would find at the start of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exec {
    Elf(Elf),
    /// `#!` script: the interpreter path and its optional argument lie at these byte ranges
    /// of the head that was passed in.
    Script {
        interp: (usize, usize),
        arg: Option<(usize, usize)>,
    },
    /// Not something the kernel would run (it answers ENOEXEC), or truncated.
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elf {
    /// 64-bit class (ELFCLASS64).
    pub class64: bool,
    /// `e_machine` (62 is x86_64, 3 is i386, 183 aarch64).
    pub machine: u16,
    pub interp: Interp,
    /// ET_DYN without an interpreter: a static-pie executable (or a shared library).
    pub pie: bool,
    /// The Go toolchain built it (a "Go" note): it makes raw syscalls even when dynamic.
    pub go: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interp {
    /// No PT_INTERP: statically linked.
    None,
    /// glibc's dynamic loader (`ld-linux*.so*`).
    Glibc,
    /// musl's loader (`ld-musl-*`).
    Musl,
    /// Any other loader.
    Other,
}

pub const EM_X86_64: u16 = 62;
pub const EM_386: u16 = 3;

impl Elf {
    /// Does LD_PRELOAD of an x86_64 glibc library reach this program's calls?
    pub fn preload_reaches(&self) -> bool {
        self.class64 && self.machine == EM_X86_64 && self.interp == Interp::Glibc && !self.go
    }

    /// A few words for messages: "static", "static-pie", "musl", "Go", "32-bit"...
    pub fn describe(&self) -> &'static str {
        match (self.class64, self.go, self.interp) {
            (false, _, _) => "32-bit",
            (_, true, _) => "Go",
            (_, _, Interp::None) if self.pie => "static-pie",
            (_, _, Interp::None) => "statically linked",
            (_, _, Interp::Musl) => "musl",
            (_, _, Interp::Other) => "foreign-loader",
            (_, _, Interp::Glibc) if self.machine != EM_X86_64 => "foreign-architecture",
            (_, _, Interp::Glibc) => "glibc dynamic",
        }
    }
}

/// Reads up to `buf.len()` bytes at `offset`; returns how many it read (0 at end or error).
pub trait ReadAt {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize;
}

impl ReadAt for &[u8] {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        let Ok(off) = usize::try_from(offset) else { return 0 };
        if off >= self.len() {
            return 0;
        }
        let n = buf.len().min(self.len() - off);
        buf[..n].copy_from_slice(&self[off..off + n]);
        n
    }
}

/// An open file descriptor, read with pread(2).
pub struct Fd(pub i32);

impl ReadAt for Fd {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> usize {
        let Ok(offset) = i64::try_from(offset) else { return 0 };
        // SAFETY: reads into the caller's buffer, within its length.
        #[allow(unsafe_code)]
        let n = unsafe { libc::pread(self.0, buf.as_mut_ptr().cast(), buf.len(), offset) };
        usize::try_from(n).unwrap_or(0)
    }
}

const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const ET_DYN: u16 = 3;
const MAX_PHDRS: usize = 256;

/// Classifies a file from `head` (its first bytes, as many as were read, 128 or more for a
/// script line) and `file`, which can read the rest.
pub fn classify(head: &[u8], file: &mut dyn ReadAt) -> Exec {
    if head.starts_with(b"#!") {
        return shebang(head);
    }
    match elf(head, file) {
        Some(e) => Exec::Elf(e),
        None => Exec::Unknown,
    }
}

fn shebang(head: &[u8]) -> Exec {
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..line_end];
    let is_space = |b: u8| b == b' ' || b == b'\t';
    let mut i = 2;
    while i < line.len() && is_space(line[i]) {
        i += 1;
    }
    let start = i;
    while i < line.len() && !is_space(line[i]) {
        i += 1;
    }
    if i == start {
        return Exec::Unknown;
    }
    let interp = (start, i);
    while i < line.len() && is_space(line[i]) {
        i += 1;
    }
    let mut end = line.len();
    while end > i && (is_space(line[end - 1]) || line[end - 1] == b'\r') {
        end -= 1;
    }
    let arg = (end > i).then_some((i, end));
    Exec::Script { interp, arg }
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

fn elf(head: &[u8], file: &mut dyn ReadAt) -> Option<Elf> {
    if head.len() < 52 || &head[..4] != b"\x7fELF" || head[5] != 1 {
        return None; // not ELF, truncated, or big-endian (not runnable here)
    }
    let class64 = match head[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let e_type = u16_at(head, 16)?;
    let machine = u16_at(head, 18)?;
    let (phoff, phentsize, phnum) = if class64 {
        (u64_at(head, 32)?, u16_at(head, 54)?, u16_at(head, 56)?)
    } else {
        (u64::from(u32_at(head, 28)?), u16_at(head, 42)?, u16_at(head, 44)?)
    };
    let want_size = if class64 { 56 } else { 32 };
    if usize::from(phentsize) < want_size || usize::from(phnum) > MAX_PHDRS {
        return None;
    }
    let mut interp = Interp::None;
    let mut go = false;
    for i in 0..u64::from(phnum) {
        let mut ph = [0u8; 56];
        let at = phoff.checked_add(i * u64::from(phentsize))?;
        if file.read_at(at, &mut ph[..want_size]) < want_size {
            return None;
        }
        let p_type = u32_at(&ph, 0)?;
        let (offset, filesz) = if class64 {
            (u64_at(&ph, 8)?, u64_at(&ph, 32)?)
        } else {
            (u64::from(u32_at(&ph, 4)?), u64::from(u32_at(&ph, 16)?))
        };
        match p_type {
            PT_INTERP => interp = loader(file, offset, filesz)?,
            PT_NOTE => go |= has_go_note(file, offset, filesz),
            _ => {}
        }
    }
    let pie = interp == Interp::None && e_type == ET_DYN;
    Some(Elf { class64, machine, interp, pie, go })
}

fn loader(file: &mut dyn ReadAt, offset: u64, size: u64) -> Option<Interp> {
    let mut path = [0u8; 256];
    let n = (size as usize).min(path.len());
    if n == 0 || file.read_at(offset, &mut path[..n]) < n {
        return None;
    }
    let path = &path[..n];
    let path = &path[..path.iter().position(|&b| b == 0).unwrap_or(n)];
    let name = &path[path.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
    Some(if name.starts_with(b"ld-linux") {
        Interp::Glibc
    } else if name.starts_with(b"ld-musl") {
        Interp::Musl
    } else {
        Interp::Other
    })
}

fn has_go_note(file: &mut dyn ReadAt, offset: u64, size: u64) -> bool {
    let mut notes = [0u8; 512];
    let n = (size as usize).min(notes.len());
    let n = file.read_at(offset, &mut notes[..n]);
    let notes = &notes[..n];
    let mut at = 0usize;
    while at + 12 <= notes.len() {
        let (Some(namesz), Some(descsz)) = (u32_at(notes, at), u32_at(notes, at + 4)) else {
            return false;
        };
        let name_at = at + 12;
        let (namesz, descsz) = (namesz as usize, descsz as usize);
        // The Go linker names its notes "Go\0\0" (namesz 4); accept the minimal "Go\0" too.
        if (namesz == 3 || namesz == 4) && notes.get(name_at..name_at + 3) == Some(b"Go\0") {
            return true;
        }
        let align4 = |x: usize| x.div_ceil(4) * 4;
        at = name_at.saturating_add(align4(namesz)).saturating_add(align4(descsz));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn file(path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }

    fn class_of(bytes: &[u8]) -> Exec {
        let head = &bytes[..bytes.len().min(4096)];
        let mut all = bytes;
        classify(head, &mut all)
    }

    #[test]
    fn this_test_binary_is_glibc_dynamic() {
        let me = file("/proc/self/exe").unwrap();
        match class_of(&me) {
            Exec::Elf(e) => {
                assert!(e.class64);
                assert_eq!(e.interp, Interp::Glibc);
                assert!(e.preload_reaches(), "{e:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scripts_name_their_interpreter() {
        let s = b"#! /usr/bin/env  python3 \nprint(1)\n";
        let Exec::Script { interp, arg } = class_of(s) else { panic!() };
        assert_eq!(&s[interp.0..interp.1], b"/usr/bin/env");
        let arg = arg.unwrap();
        assert_eq!(&s[arg.0..arg.1], b"python3");
        let s = b"#!/bin/sh\n";
        let Exec::Script { interp, arg } = class_of(s) else { panic!() };
        assert_eq!(&s[interp.0..interp.1], b"/bin/sh");
        assert_eq!(arg, None);
        assert_eq!(class_of(b"#!   \n"), Exec::Unknown);
    }

    #[test]
    fn garbage_and_truncation_are_unknown_never_a_panic() {
        let me = file("/proc/self/exe").unwrap();
        for cut in [0, 1, 4, 16, 51, 52, 63, 64, 100] {
            let part = &me[..cut.min(me.len())];
            let got = class_of(part);
            assert!(matches!(got, Exec::Unknown), "cut {cut}: {got:?}");
        }
        assert_eq!(class_of(b"hello world, not an executable"), Exec::Unknown);
        // A header whose program headers point far beyond the file.
        let mut h = me[..64].to_vec();
        h[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(class_of(&h), Exec::Unknown);
        // Every single-byte corruption of a real header decodes or fails cleanly.
        let mut x: u32 = 12345;
        for i in 0..4096 {
            let mut m = me[..8192.min(me.len())].to_vec();
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let at = (i * 7) % 128;
            m[at] = (x >> 16) as u8;
            let _ = class_of(&m);
        }
    }
}
