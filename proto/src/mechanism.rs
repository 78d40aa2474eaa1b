//! Which mechanism a program needs: the one rule that the launcher (the session's first
//! command), the preload library's exec hooks and the tracer (after every exec it sees)
//! all apply. Pure: the callers read the file and its metadata, this decides.
//!
//! Every doubt goes to the tracer: an ELF the sniffer cannot classify, a chain of `#!`
//! lines longer than the kernel follows. A program the caller cannot read (mode 0111) is
//! refused: the kernel makes such a process undumpable, so the tracer (the same user)
//! could not read its memory either, and the preload library would not be loaded. The
//! preload library is chosen only for a program it is known to reach: a 64-bit x86_64
//! glibc program, not built by Go, that the kernel does not run with raised privileges
//! (ld.so's secure mode ignores LD_PRELOAD for a setuid, setgid or file-capability
//! program, which would then run unfaked with its real privileges).
use crate::elf::{self, Exec, ReadAt, Runtime};

/// The `#!` lines the kernel follows before the program it finally runs: a script's
/// interpreter may be a script itself, five deep (Linux's `exec_binprm` gives up with
/// ELOOP at the sixth).
pub const MAX_SCRIPTS: u32 = 5;

/// What the caller knows of the program about to run (or, for the tracer, just run).
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    /// Its first bytes, as many as were read (4096 is plenty); None when the caller
    /// could not read it (a program of mode 0111 runs, but cannot be opened for reading).
    pub head: Option<&'a [u8]>,
    /// The exec raises privileges: see [`raises_privileges`] (before the exec) or the
    /// kernel's AT_SECURE (after it).
    pub privileged: bool,
    /// How many `#!` lines led to it (0: the program named by the exec).
    pub scripts: u32,
}

/// Does exec of a file of mode `mode` (st_mode) raise privileges, as the kernel decides
/// (`bprm_fill_uid`): a setuid bit, a setgid bit with group execute (setgid without it
/// marks mandatory locking, not privilege), or file capabilities (`file_caps`: the file
/// has a `security.capability` attribute)?
pub fn raises_privileges(mode: u32, file_caps: bool) -> bool {
    const S_ISUID: u32 = 0o4000;
    const S_ISGID: u32 = 0o2000;
    const S_IXGRP: u32 = 0o0010;
    mode & S_ISUID != 0 || mode & (S_ISGID | S_IXGRP) == S_ISGID | S_IXGRP || file_caps
}

/// Why a program goes to the tracer, or is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// setuid, setgid or file capabilities: ld.so would drop LD_PRELOAD.
    Privileged,
    /// The caller could not read it (so the tracer cannot read the process either).
    Unreadable,
    /// More `#!` lines than the kernel follows (it will refuse with ELOOP).
    TooManyScripts,
    /// An ELF file the sniffer cannot classify (too many program headers, notes it does
    /// not read to the end, truncated headers).
    Unclassified,
    /// An ELF program LD_PRELOAD does not reach (static, musl, Go, another loader or
    /// architecture, 32-bit).
    Elf(elf::Elf),
}

impl Why {
    /// A few words for messages: "setuid or setgid", "statically linked", "32-bit"...
    pub fn describe(&self) -> &'static str {
        match self {
            Why::Privileged => "setuid, setgid or file-capability",
            Why::Unreadable => "unreadable",
            Why::TooManyScripts => "too deeply nested #! script",
            Why::Unclassified => "unclassifiable ELF",
            Why::Elf(e) => e.describe(),
        }
    }

    /// Why a refused program cannot be faked, for messages.
    pub fn refusal(&self) -> &'static str {
        match self {
            Why::Unreadable => {
                "it cannot be read (mode 0111?), so the kernel keeps the tracer out of it and ld.so would not load the preload library"
            }
            _ => "it is a 32-bit program, and the tracer does not fake the i386 ABI",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// LD_PRELOAD reaches it; a sanitizer's runtime that it names goes first.
    Preload(Option<Runtime>),
    /// Only the tracer fakes it.
    Tracer(Why),
    /// Neither mechanism fakes it (a 32-bit program, one the caller cannot read): it must
    /// not run.
    Refuse(Why),
    /// A `#!` script: decide again for the interpreter at these byte ranges of the head
    /// (with `scripts` one more); the interpreter is what will run.
    Script { interp: (usize, usize), arg: Option<(usize, usize)> },
    /// Neither ELF nor script: the kernel refuses it (ENOEXEC), so nothing runs (execvp
    /// then hands the file to /bin/sh, which is decided for on its own).
    NotExecutable,
}

impl Mechanism {
    /// Does the preload library fake it (or is there nothing to fake)?
    pub fn preload(&self) -> bool {
        matches!(self, Mechanism::Preload(_) | Mechanism::NotExecutable)
    }
}

/// The rule. `file` reads the rest of the program beyond `head` (program headers,
/// notes, the dynamic section).
pub fn decide(program: Program<'_>, file: &mut dyn ReadAt) -> Mechanism {
    let Some(head) = program.head else { return Mechanism::Refuse(Why::Unreadable) };
    let kind = elf::classify(head, file);
    if program.privileged {
        return match kind {
            Exec::Elf(e) if !e.class64 => Mechanism::Refuse(Why::Elf(e)),
            _ => Mechanism::Tracer(Why::Privileged),
        };
    }
    match kind {
        Exec::Elf(e) if e.preload_reaches() => Mechanism::Preload(e.runtime),
        Exec::Elf(e) if !e.class64 => Mechanism::Refuse(Why::Elf(e)),
        Exec::Elf(e) => Mechanism::Tracer(Why::Elf(e)),
        Exec::Script { .. } if program.scripts >= MAX_SCRIPTS => Mechanism::Tracer(Why::TooManyScripts),
        Exec::Script { interp, arg } => Mechanism::Script { interp, arg },
        Exec::Unknown if head.starts_with(b"\x7fELF") => Mechanism::Tracer(Why::Unclassified),
        Exec::Unknown => Mechanism::NotExecutable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{EM_386, EM_X86_64, Interp};
    use std::vec;
    use std::vec::Vec;

    const PT_LOAD: u32 = 1;
    const PT_INTERP: u32 = 3;
    const PT_NOTE: u32 = 4;

    /// A hand-built ELF image: a header, `phdrs` program headers of the given kinds
    /// (PT_INTERP pointing at `interp`, PT_NOTE at `notes`), then the interpreter's path
    /// and the notes.
    struct Image {
        class64: bool,
        machine: u16,
        e_type: u16,
        interp: Option<&'static [u8]>,
        notes: Vec<u8>,
        /// Extra PT_LOAD headers, to push the count past what the sniffer reads.
        loads: usize,
    }

    impl Image {
        fn glibc() -> Image {
            Image {
                class64: true,
                machine: EM_X86_64,
                e_type: 3,
                interp: Some(b"/lib64/ld-linux-x86-64.so.2\0"),
                notes: Vec::new(),
                loads: 1,
            }
        }

        fn bytes(&self) -> Vec<u8> {
            let (ehsize, phsize) = if self.class64 { (64u64, 56u64) } else { (52, 32) };
            let nph = self.loads + usize::from(self.interp.is_some()) + usize::from(!self.notes.is_empty());
            let data_at = ehsize + phsize * nph as u64;
            let interp = self.interp.unwrap_or(b"");
            let notes_at = data_at + interp.len() as u64;
            let mut f = vec![0u8; ehsize as usize];
            f[..4].copy_from_slice(b"\x7fELF");
            f[4] = if self.class64 { 2 } else { 1 };
            f[5] = 1;
            f[16..18].copy_from_slice(&self.e_type.to_le_bytes());
            f[18..20].copy_from_slice(&self.machine.to_le_bytes());
            if self.class64 {
                f[32..40].copy_from_slice(&ehsize.to_le_bytes());
                f[54..56].copy_from_slice(&(phsize as u16).to_le_bytes());
                f[56..58].copy_from_slice(&(nph as u16).to_le_bytes());
            } else {
                f[28..32].copy_from_slice(&(ehsize as u32).to_le_bytes());
                f[42..44].copy_from_slice(&(phsize as u16).to_le_bytes());
                f[44..46].copy_from_slice(&(nph as u16).to_le_bytes());
            }
            let class64 = self.class64;
            let ph = |f: &mut Vec<u8>, kind: u32, offset: u64, size: u64| {
                if class64 {
                    let mut p = [0u8; 56];
                    p[..4].copy_from_slice(&kind.to_le_bytes());
                    p[8..16].copy_from_slice(&offset.to_le_bytes());
                    p[32..40].copy_from_slice(&size.to_le_bytes());
                    f.extend_from_slice(&p);
                } else {
                    let mut p = [0u8; 32];
                    p[..4].copy_from_slice(&kind.to_le_bytes());
                    p[4..8].copy_from_slice(&(offset as u32).to_le_bytes());
                    p[16..20].copy_from_slice(&(size as u32).to_le_bytes());
                    f.extend_from_slice(&p);
                }
            };
            for _ in 0..self.loads {
                ph(&mut f, PT_LOAD, 0, 0);
            }
            if self.interp.is_some() {
                ph(&mut f, PT_INTERP, data_at, interp.len() as u64);
            }
            if !self.notes.is_empty() {
                ph(&mut f, PT_NOTE, notes_at, self.notes.len() as u64);
            }
            f.extend_from_slice(interp);
            f.extend_from_slice(&self.notes);
            f
        }
    }

    /// One ELF note (`name` without its NUL, `desc` bytes).
    fn note(name: &[u8], desc_len: usize) -> Vec<u8> {
        let mut n = Vec::new();
        n.extend_from_slice(&(name.len() as u32 + 1).to_le_bytes());
        n.extend_from_slice(&(desc_len as u32).to_le_bytes());
        n.extend_from_slice(&1u32.to_le_bytes());
        n.extend_from_slice(name);
        n.push(0);
        n.resize(12 + (name.len() + 1).next_multiple_of(4), 0);
        n.resize(n.len() + desc_len.next_multiple_of(4), 0);
        n
    }

    fn decide_bytes(bytes: &[u8], head: usize, privileged: bool, scripts: u32) -> Mechanism {
        let mut all = bytes;
        decide(Program { head: Some(&bytes[..head.min(bytes.len())]), privileged, scripts }, &mut all)
    }

    fn of(bytes: &[u8]) -> Mechanism {
        decide_bytes(bytes, 4096, false, 0)
    }

    #[test]
    fn a_glibc_program_gets_the_preload() {
        assert_eq!(of(&Image::glibc().bytes()), Mechanism::Preload(None));
        // Its headers read from the file rather than the head: the same.
        assert_eq!(decide_bytes(&Image::glibc().bytes(), 64, false, 0), Mechanism::Preload(None));
    }

    #[test]
    fn a_privileged_program_goes_to_the_tracer_whatever_it_is() {
        let p = Image::glibc().bytes();
        assert_eq!(decide_bytes(&p, 4096, true, 0), Mechanism::Tracer(Why::Privileged));
        // A script's setuid bit means nothing to the kernel, but the rule does not guess.
        assert_eq!(decide_bytes(b"#!/bin/sh\n", 4096, true, 0), Mechanism::Tracer(Why::Privileged));
        // A 32-bit setuid program is refused, as any 32-bit program.
        let i386 = Image { class64: false, machine: EM_386, ..Image::glibc() }.bytes();
        assert!(matches!(decide_bytes(&i386, 4096, true, 0), Mechanism::Refuse(_)));
    }

    #[test]
    fn which_modes_raise_privileges() {
        assert!(raises_privileges(0o104755, false));
        assert!(raises_privileges(0o102755, false));
        assert!(raises_privileges(0o100755, true));
        assert!(!raises_privileges(0o100755, false));
        assert!(!raises_privileges(0o100111, false));
        // setgid without group execute: mandatory locking, no privilege.
        assert!(!raises_privileges(0o102745, false));
    }

    #[test]
    fn an_unreadable_program_is_refused() {
        let mut none: &[u8] = &[];
        for privileged in [false, true] {
            let got = decide(Program { head: None, privileged, scripts: 0 }, &mut none);
            assert_eq!(got, Mechanism::Refuse(Why::Unreadable));
        }
    }

    #[test]
    fn static_musl_go_and_foreign_loaders_go_to_the_tracer() {
        let static_pie = Image { interp: None, ..Image::glibc() }.bytes();
        assert!(matches!(of(&static_pie), Mechanism::Tracer(Why::Elf(e)) if e.interp == Interp::None && e.pie));
        let musl = Image { interp: Some(b"/lib/ld-musl-x86_64.so.1\0"), ..Image::glibc() }.bytes();
        assert!(matches!(of(&musl), Mechanism::Tracer(Why::Elf(e)) if e.interp == Interp::Musl));
        let other = Image { interp: Some(b"/opt/weird/loader.so\0"), ..Image::glibc() }.bytes();
        assert!(matches!(of(&other), Mechanism::Tracer(Why::Elf(e)) if e.interp == Interp::Other));
        let go = Image { notes: note(b"Go", 20), ..Image::glibc() }.bytes();
        assert!(matches!(of(&go), Mechanism::Tracer(Why::Elf(e)) if e.go));
        let arm = Image { machine: 183, ..Image::glibc() }.bytes();
        assert!(matches!(of(&arm), Mechanism::Tracer(Why::Elf(_))));
        let i386 = Image { class64: false, machine: EM_386, ..Image::glibc() }.bytes();
        assert!(matches!(of(&i386), Mechanism::Refuse(Why::Elf(e)) if !e.class64));
    }

    #[test]
    fn a_go_note_after_other_notes_is_found() {
        // Far past the first 512 bytes of the note segment, and past the head.
        let mut notes = Vec::new();
        for _ in 0..40 {
            notes.extend(note(b"GNU", 100));
        }
        notes.extend(note(b"Go", 20));
        let go = Image { notes, ..Image::glibc() }.bytes();
        assert!(go.len() > 4096);
        assert!(matches!(of(&go), Mechanism::Tracer(Why::Elf(e)) if e.go), "{:?}", of(&go));
        assert!(matches!(decide_bytes(&go, 128, false, 0), Mechanism::Tracer(Why::Elf(e)) if e.go));
    }

    #[test]
    fn elves_the_sniffer_cannot_classify_go_to_the_tracer() {
        // More program headers than the sniffer reads.
        let many = Image { loads: 300, ..Image::glibc() }.bytes();
        assert_eq!(of(&many), Mechanism::Tracer(Why::Unclassified));
        // More notes than the sniffer walks, none of them Go's: it cannot say.
        let mut notes = Vec::new();
        for _ in 0..1000 {
            notes.extend(note(b"X", 0));
        }
        let endless = Image { notes, ..Image::glibc() }.bytes();
        assert_eq!(of(&endless), Mechanism::Tracer(Why::Unclassified));
        // A note segment that runs past the end of the file.
        let mut cut = Image { notes: [note(b"GNU", 64), note(b"X", 0)].concat(), ..Image::glibc() }.bytes();
        cut.truncate(cut.len() - 40);
        assert_eq!(of(&cut), Mechanism::Tracer(Why::Unclassified));
        // Headers cut short, an unknown class: ELF magic, nothing more known.
        let p = Image::glibc().bytes();
        assert_eq!(of(&p[..40]), Mechanism::Tracer(Why::Unclassified));
        let mut bad = p.clone();
        bad[4] = 9;
        assert_eq!(of(&bad), Mechanism::Tracer(Why::Unclassified));
    }

    #[test]
    fn scripts_are_followed_as_deep_as_the_kernel_goes() {
        let s = b"#!/bin/sh -e\n";
        for depth in 0..MAX_SCRIPTS {
            assert_eq!(
                decide_bytes(s, 4096, false, depth),
                Mechanism::Script { interp: (2, 9), arg: Some((10, 12)) },
                "depth {depth}"
            );
        }
        assert_eq!(decide_bytes(s, 4096, false, MAX_SCRIPTS), Mechanism::Tracer(Why::TooManyScripts));
        // The program a deep chain ends in is decided as any other.
        assert_eq!(decide_bytes(&Image::glibc().bytes(), 4096, false, MAX_SCRIPTS), Mechanism::Preload(None));
    }

    #[test]
    fn what_the_kernel_will_not_run_is_not_executable() {
        assert_eq!(of(b"echo hello\n"), Mechanism::NotExecutable);
        assert_eq!(of(b""), Mechanism::NotExecutable);
        assert_eq!(of(b"#!\n"), Mechanism::NotExecutable);
        assert!(Mechanism::NotExecutable.preload());
        assert!(!Mechanism::Tracer(Why::Unclassified).preload());
    }
}
