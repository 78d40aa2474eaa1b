//! Builds the agent (`tracer/agent/`, freestanding, with a cargo of its own in a target
//! directory under OUT_DIR) and turns its ELF into what the tracer embeds: a flat image
//! laid out as the program headers say, the offsets its R_X86_64_RELATIVE relocations
//! patch, its entry point and the protection of each page range (`agent_layout.rs`).
use std::fmt::Write as _;
use std::path::PathBuf;

const PAGE: u64 = 4096;

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}
fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[path = "../proto/build/nested_cargo.rs"]
mod nested_cargo;

fn main() {
    let here = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let watch = ["agent/src", "agent/build.rs", "agent/Cargo.toml", "agent/Cargo.lock", "../proto"];
    let watch: Vec<PathBuf> = watch.iter().map(|d| here.join(d)).collect();
    let target = nested_cargo::build(&here.join("agent/Cargo.toml"), &watch, "agent", &["--locked"]);
    let elf = std::fs::read(target.join("release/fakebox-agent")).expect("cannot read the agent");
    assert!(elf.len() > 64 && &elf[..4] == b"\x7fELF" && elf[4] == 2, "the agent is not a 64-bit ELF");
    assert_eq!(u16_at(&elf, 16), 3, "the agent must be position-independent (ET_DYN)");

    let entry = u64_at(&elf, 24);
    let (phoff, phent, phnum) = (u64_at(&elf, 32) as usize, u16_at(&elf, 54) as usize, u16_at(&elf, 56) as usize);
    let phdrs: Vec<&[u8]> = (0..phnum).map(|i| &elf[phoff + i * phent..phoff + (i + 1) * phent]).collect();
    let mut image = Vec::new();
    let mut protect = Vec::new();
    let mut dynamic = None;
    for ph in &phdrs {
        let (kind, flags) = (u32_at(ph, 0), u32_at(ph, 4));
        let (offset, vaddr, filesz, memsz) = (u64_at(ph, 8), u64_at(ph, 16), u64_at(ph, 32), u64_at(ph, 40));
        match kind {
            1 => {
                let end = (vaddr + memsz).div_ceil(PAGE) * PAGE;
                if image.len() < end as usize {
                    image.resize(end as usize, 0);
                }
                image[vaddr as usize..(vaddr + filesz) as usize]
                    .copy_from_slice(&elf[offset as usize..(offset + filesz) as usize]);
                let start = vaddr / PAGE * PAGE;
                // PF_X 1, PF_W 2, PF_R 4 -> PROT_READ 1, PROT_WRITE 2, PROT_EXEC 4
                let prot =
                    (flags & 4 != 0) as u64 | (((flags & 2 != 0) as u64) << 1) | (((flags & 1 != 0) as u64) << 2);
                if let Some(&(s, l, _)) = protect.last() {
                    assert!(s + l <= start, "the agent's segments share a page");
                }
                protect.push((start, end - start, prot));
            }
            2 => dynamic = Some((vaddr, filesz)),
            3 => panic!("the agent must not ask for a dynamic loader"),
            _ => {}
        }
    }
    assert!(protect.len() <= 4, "the agent has more segments than Params::protect holds");

    let mut relocs = Vec::new();
    if let Some((at, len)) = dynamic {
        let (mut rela, mut relasz) = (0, 0);
        for d in image[at as usize..(at + len) as usize].chunks_exact(16) {
            match u64_at(d, 0) {
                7 => rela = u64_at(d, 8),
                8 => relasz = u64_at(d, 8),
                17 | 23 => panic!("the agent has relocations other than RELA RELATIVE"),
                _ => {}
            }
        }
        for r in image[rela as usize..(rela + relasz) as usize].chunks_exact(24) {
            let (offset, info, addend) = (u64_at(r, 0), u64_at(r, 8), u64_at(r, 16));
            assert_eq!(info & 0xffff_ffff, 8, "the agent has a relocation other than R_X86_64_RELATIVE");
            relocs.push((offset, addend));
        }
    }

    std::fs::write(out.join("agent.bin"), &image).expect("cannot write agent.bin");
    let mut layout = String::new();
    writeln!(layout, "/// The agent's entry point, from the image's start.\npub const ENTRY: u64 = {entry:#x};")
        .unwrap();
    writeln!(
        layout,
        "/// (offset, addend) of each R_X86_64_RELATIVE relocation.\npub const RELOCS: &[(u64, u64)] = &{relocs:?};"
    )
    .unwrap();
    writeln!(
        layout,
        "/// (offset, length, PROT_*) of each page range.\npub const PROTECT: &[(u64, u64, u64)] = &{protect:?};"
    )
    .unwrap();
    std::fs::write(out.join("agent_layout.rs"), layout).expect("cannot write agent_layout.rs");
}
