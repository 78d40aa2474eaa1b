//! What a program is, read from its first bytes ([`crate::mechanism`] decides from it).
//!
//! A pure function over a reader, so the launcher, the preload library (without
//! allocating) and the tests share it. Only what the decision needs is parsed: the ELF
//! header, the program headers, PT_INTERP, the notes (Go marks its binaries with one) and,
//! for a glibc program, the libraries it names (a sanitizer's runtime must be loaded first).

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
    /// A sanitizer's runtime among the libraries a glibc program names (DT_NEEDED).
    pub runtime: Option<Runtime>,
}

/// The name of a sanitizer's runtime library (`libasan.so.8`, `libclang_rt.asan-x86_64.so`),
/// as a program names it. AddressSanitizer refuses to start unless its runtime is the first
/// library loaded, so a preloaded library has to come after it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    name: [u8; RUNTIME_NAME_MAX],
    len: u8,
}

const RUNTIME_NAME_MAX: usize = 64;

impl Runtime {
    /// The name, if it is a sanitizer's runtime (by its file name's start).
    pub fn from_name(name: &[u8]) -> Option<Runtime> {
        if name.is_empty() || name.len() > RUNTIME_NAME_MAX || !is_sanitizer_runtime(name) {
            return None;
        }
        let mut r = Runtime { name: [0; RUNTIME_NAME_MAX], len: name.len() as u8 };
        r.name[..name.len()].copy_from_slice(name);
        Some(r)
    }

    pub fn name(&self) -> &[u8] {
        &self.name[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Runtime({:?})", core::str::from_utf8(self.name()).unwrap_or("?"))
    }
}

/// Is `entry` (a library's name or path, as in LD_PRELOAD or DT_NEEDED) a sanitizer's
/// runtime: GCC's `libasan.so.N` and its kin, or clang's `libclang_rt.asan*.so`?
pub fn is_sanitizer_runtime(entry: &[u8]) -> bool {
    let file = &entry[entry.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
    const GCC: [&[u8]; 5] = [b"libasan.so", b"libhwasan.so", b"libtsan.so", b"liblsan.so", b"libubsan.so"];
    const CLANG: [&[u8]; 5] =
        [b"libclang_rt.asan", b"libclang_rt.hwasan", b"libclang_rt.tsan", b"libclang_rt.lsan", b"libclang_rt.ubsan"];
    GCC.iter().chain(CLANG.iter()).any(|p| file.starts_with(p))
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

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
/// Loadable segments remembered to find the string table (real programs have four or five).
const MAX_LOADS: usize = 8;
/// DT_NEEDED entries looked at (real programs name a handful of libraries).
const MAX_NEEDED: usize = 32;
/// Dynamic entries read: DT_NEEDED come first, DT_STRTAB within the first few dozen.
const MAX_DYNAMIC: usize = 128;
const ET_DYN: u16 = 3;
const MAX_PHDRS: usize = 256;
/// Notes walked per note segment (real programs have two to four).
const MAX_NOTES: usize = 64;

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
    let mut dynamic = None;
    let mut loads = [Segment::default(); MAX_LOADS];
    let mut nloads = 0;
    for i in 0..u64::from(phnum) {
        let mut ph = [0u8; 56];
        let at = phoff.checked_add(i * u64::from(phentsize))?;
        if file.read_at(at, &mut ph[..want_size]) < want_size {
            return None;
        }
        let p_type = u32_at(&ph, 0)?;
        let seg = if class64 {
            Segment { offset: u64_at(&ph, 8)?, vaddr: u64_at(&ph, 16)?, filesz: u64_at(&ph, 32)? }
        } else {
            Segment {
                offset: u64::from(u32_at(&ph, 4)?),
                vaddr: u64::from(u32_at(&ph, 8)?),
                filesz: u64::from(u32_at(&ph, 16)?),
            }
        };
        match p_type {
            PT_INTERP => interp = loader(file, seg.offset, seg.filesz)?,
            PT_NOTE => go |= has_go_note(file, seg.offset, seg.filesz)?,
            PT_DYNAMIC => dynamic = Some(seg),
            PT_LOAD if nloads < MAX_LOADS => {
                loads[nloads] = seg;
                nloads += 1;
            }
            _ => {}
        }
    }
    let pie = interp == Interp::None && e_type == ET_DYN;
    // Only a program the library is preloaded into needs the order of its libraries.
    let runtime = match dynamic {
        Some(d) if interp == Interp::Glibc => needed_runtime(file, class64, d, &loads[..nloads]),
        _ => None,
    };
    Some(Elf { class64, machine, interp, pie, go, runtime })
}

#[derive(Clone, Copy, Default)]
struct Segment {
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

/// The first sanitizer runtime among the program's DT_NEEDED libraries. Two reads beyond
/// the head at most: the dynamic section, then one window of the string table that holds
/// the needed names (a name outside it costs a read of its own).
fn needed_runtime(file: &mut dyn ReadAt, class64: bool, dynamic: Segment, loads: &[Segment]) -> Option<Runtime> {
    let entsize = if class64 { 16 } else { 8 };
    let mut dynbuf = [0u8; MAX_DYNAMIC * 16];
    let want = usize::try_from(dynamic.filesz).unwrap_or(usize::MAX).min(dynbuf.len());
    let got = file.read_at(dynamic.offset, &mut dynbuf[..want]);
    let mut needed = [0u64; MAX_NEEDED];
    let (mut n, mut strtab) = (0, None);
    for entry in dynbuf[..got].chunks_exact(entsize) {
        let (tag, val) = if class64 {
            (u64_at(entry, 0)?, u64_at(entry, 8)?)
        } else {
            (u64::from(u32_at(entry, 0)?), u64::from(u32_at(entry, 4)?))
        };
        match tag {
            DT_NULL => break,
            DT_NEEDED if n < MAX_NEEDED => {
                needed[n] = val;
                n += 1;
            }
            DT_STRTAB => strtab = Some(val),
            _ => {}
        }
    }
    let needed = &needed[..n];
    let strtab = strtab?;
    let seg = loads.iter().find(|s| s.vaddr <= strtab && strtab - s.vaddr < s.filesz)?;
    let base = seg.offset.checked_add(strtab - seg.vaddr)?;
    let first = *needed.iter().min()?;
    let mut window = [0u8; 1024];
    let wlen = file.read_at(base.checked_add(first)?, &mut window);
    let window = &window[..wlen];
    for &at in needed {
        let mut own = [0u8; RUNTIME_NAME_MAX + 1];
        let rel = usize::try_from(at - first).unwrap_or(usize::MAX);
        let bytes = match window.get(rel..) {
            Some(b) if b.len() > RUNTIME_NAME_MAX || b.contains(&0) => b,
            _ => {
                let k = file.read_at(base.checked_add(at)?, &mut own);
                &own[..k]
            }
        };
        let name = &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())];
        if let Some(r) = Runtime::from_name(name) {
            return Some(r);
        }
    }
    None
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

/// Does the note segment at `offset` (`size` bytes) hold the Go toolchain's note? None
/// when it cannot say: a note header past the end of the file, or more notes than it
/// walks (the caller then treats the program as one it cannot classify).
fn has_go_note(file: &mut dyn ReadAt, offset: u64, size: u64) -> Option<bool> {
    let mut at = 0u64;
    for _ in 0..MAX_NOTES {
        if at.checked_add(12)? > size {
            return Some(false);
        }
        // The header and the first four bytes of the name (no more than the segment holds).
        let mut h = [0u8; 16];
        let want = if size - at >= 16 { 16 } else { 12 };
        if file.read_at(offset.checked_add(at)?, &mut h[..want]) < want {
            return None;
        }
        let (namesz, descsz) = (u32_at(&h, 0)?, u32_at(&h, 4)?);
        // The Go linker names its notes "Go\0\0" (namesz 4); accept the minimal "Go\0" too.
        if want == 16 && (namesz == 3 || namesz == 4) && &h[12..15] == b"Go\0" {
            return Some(true);
        }
        let align4 = |x: u32| u64::from(x).div_ceil(4) * 4;
        at = at.checked_add(12)?.checked_add(align4(namesz))?.checked_add(align4(descsz))?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
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

    /// A 64-bit glibc program that names `libs` (DT_NEEDED), laid out as a linker would:
    /// headers, interpreter, string table, then the dynamic section, in one segment mapped
    /// at 0x400000 (so that the string table's address differs from its file offset).
    fn program_naming(libs: &[&str]) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let interp = b"/lib64/ld-linux-x86-64.so.2\0";
        let (phoff, phnum) = (64u64, 3u64);
        let interp_at = phoff + phnum * 56;
        let strtab_at = interp_at + interp.len() as u64;
        let mut strtab = vec![0u8];
        let mut offsets = Vec::new();
        for l in libs {
            offsets.push(strtab.len() as u64);
            strtab.extend_from_slice(l.as_bytes());
            strtab.push(0);
        }
        let dyn_at = (strtab_at + strtab.len() as u64).next_multiple_of(8);
        let mut dynamic = Vec::new();
        let mut entry = |tag: u64, val: u64| {
            dynamic.extend_from_slice(&tag.to_le_bytes());
            dynamic.extend_from_slice(&val.to_le_bytes());
        };
        for o in &offsets {
            entry(DT_NEEDED, *o);
        }
        entry(DT_STRTAB, BASE + strtab_at);
        entry(DT_NULL, 0);
        let end = dyn_at + dynamic.len() as u64;
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little-endian
        f[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
        f[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        f[32..40].copy_from_slice(&phoff.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut ph = |kind: u32, offset: u64, size: u64| {
            let mut p = [0u8; 56];
            p[..4].copy_from_slice(&kind.to_le_bytes());
            p[8..16].copy_from_slice(&offset.to_le_bytes());
            p[16..24].copy_from_slice(&(BASE + offset).to_le_bytes());
            p[32..40].copy_from_slice(&size.to_le_bytes());
            f.extend_from_slice(&p);
        };
        ph(PT_INTERP, interp_at, interp.len() as u64);
        ph(PT_LOAD, 0, end);
        ph(PT_DYNAMIC, dyn_at, dynamic.len() as u64);
        f.extend_from_slice(interp);
        f.extend_from_slice(&strtab);
        f.resize(dyn_at as usize, 0);
        f.extend_from_slice(&dynamic);
        f
    }

    fn runtime_of(bytes: &[u8], head: usize) -> Option<Vec<u8>> {
        let mut all = bytes;
        match classify(&bytes[..head.min(bytes.len())], &mut all) {
            Exec::Elf(e) => {
                assert_eq!(e.interp, Interp::Glibc);
                e.runtime.map(|r| r.name().to_vec())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_sanitizer_runtime_among_the_needed_libraries_is_found() {
        let p = program_naming(&["libm.so.6", "libasan.so.8", "libc.so.6"]);
        assert_eq!(runtime_of(&p, 4096).as_deref(), Some(&b"libasan.so.8"[..]));
        // Read from the file, not the head: the same answer.
        assert_eq!(runtime_of(&p, 64).as_deref(), Some(&b"libasan.so.8"[..]));
        let p = program_naming(&["libclang_rt.asan-x86_64.so", "libc.so.6"]);
        assert_eq!(runtime_of(&p, 4096).as_deref(), Some(&b"libclang_rt.asan-x86_64.so"[..]));
        assert_eq!(runtime_of(&program_naming(&["libm.so.6", "libc.so.6"]), 4096), None);
        assert_eq!(runtime_of(&program_naming(&[]), 4096), None);
        // A library whose name only contains a runtime's is not one.
        assert_eq!(runtime_of(&program_naming(&["libnotasan.so.8", "libc.so.6"]), 4096), None);
    }

    #[test]
    fn corrupt_dynamic_sections_decode_or_fail_cleanly() {
        // Every single-byte change of a small program whose dynamic section, string table
        // and headers all lie in the bytes read: no panic, no read past what is there.
        let p = program_naming(&["libm.so.6", "libasan.so.8", "libc.so.6"]);
        for at in 0..p.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut m = p.clone();
                m[at] = v;
                let mut all = &m[..];
                let _ = classify(&m[..m.len().min(96)], &mut all);
                let mut all = &m[..];
                let _ = classify(&m, &mut all);
            }
        }
    }

    #[test]
    fn sanitizer_runtime_names() {
        for yes in ["libasan.so.8", "/usr/lib/x86_64-linux-gnu/libasan.so.6", "libtsan.so.2", "libclang_rt.asan.so"] {
            assert!(is_sanitizer_runtime(yes.as_bytes()), "{yes}");
        }
        for no in ["libc.so.6", "/tmp/fakebox-0/libfakebox-1.so", "libasanx.so", "/lib/libasan/libc.so.6"] {
            assert!(!is_sanitizer_runtime(no.as_bytes()), "{no}");
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
