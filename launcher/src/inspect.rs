//! `fakebox inspect`: what a state file holds, in an `ls -l`-like form or JSON; `--check`
//! and `--prune` find and drop entries whose inode is gone or was reused.
use crate::cli::InspectArgs;
use crate::daemon::state;
use crate::daemon::table::Entry;
use crate::session::{EXIT_FAILURE, Failure};
use fakebox_proto::inode::{self, mode};
use fakebox_proto::{Key, Real, kernel};
use std::collections::HashMap;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), EXIT_FAILURE)
}

/// What the kernel says about a path (not following a final symlink), or why it cannot.
fn real(path: &Path) -> std::io::Result<Real> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: statx into a zeroed local.
    unsafe {
        let mut stx: libc::statx = std::mem::zeroed();
        if libc::statx(libc::AT_FDCWD, c.as_ptr(), libc::AT_SYMLINK_NOFOLLOW, kernel::STATX_MASK, &mut stx) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(kernel::real_of(&stx))
    }
}

/// Where a recorded entry stands now.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Found, and still the inode it was recorded for.
    Here,
    /// Its inode number now belongs to another file.
    Reused,
    /// Not found (below --root).
    NotFound,
    /// Nobody looked.
    Unknown,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Here => "ok",
            Status::Reused => "reused",
            Status::NotFound => "not-found",
            Status::Unknown => "unknown",
        }
    }
}

pub fn run(args: InspectArgs) -> Result<i32, Failure> {
    if !args.state.exists() {
        return Err(fail(format!("{}: no such state file", args.state.display())));
    }
    let table =
        state::load_with_journal(&args.state, false).map_err(|e| fail(format!("cannot load the state: {e}")))?;
    let entries: HashMap<Key, Entry> = table.entries().into_iter().collect();
    drop(table);

    // Name what we can: the PATHs given, and what --root holds.
    // A PATH that cannot be read is named with the reason, and the others still shown.
    let mut found: HashMap<Key, (PathBuf, Real)> = HashMap::new();
    let mut unreadable = false;
    let mut paths = Vec::new();
    for p in &args.paths {
        match real(p) {
            Ok(r) => {
                found.insert(r.key, (p.clone(), r));
                paths.push((p, r));
            }
            Err(e) => {
                let why = e.to_string();
                let why = why.split(" (os error").next().unwrap_or(&why);
                eprintln!("fakebox: inspect: {}: {why}", p.display());
                unreadable = true;
            }
        }
    }
    if let Some(root) = &args.root {
        walk(root, &entries, &mut found);
    }

    let status = |k: &Key, e: &Entry| match found.get(k) {
        Some((_, r)) if inode::is_stale(e.mode, e.birth, r) => Status::Reused,
        Some(_) => Status::Here,
        None if args.root.is_some() => Status::NotFound,
        None => Status::Unknown,
    };

    if args.prune {
        return prune(&args, &entries, status);
    }

    // With PATHs: those files, as the session sees them; else every entry.
    let mut rows: Vec<(Option<PathBuf>, Key, Option<Entry>, Status)> = Vec::new();
    if !args.paths.is_empty() {
        for (p, r) in paths {
            let e = entries.get(&r.key).filter(|e| !inode::is_stale(e.mode, e.birth, &r)).cloned();
            rows.push((Some(p.clone()), r.key, e, Status::Here));
        }
    } else {
        let mut keys: Vec<&Key> = entries.keys().collect();
        keys.sort();
        for k in keys {
            let e = &entries[k];
            let st = status(k, e);
            if args.check && !matches!(st, Status::Reused | Status::NotFound) {
                continue;
            }
            rows.push((found.get(k).map(|(p, _)| p.clone()), *k, Some(e.clone()), st));
        }
    }
    if args.json {
        print_json(&rows);
    } else {
        for (path, key, e, st) in &rows {
            print_row(path.as_deref(), key, e.as_ref(), *st, args.check);
        }
    }
    Ok(if unreadable || (args.check && !rows.is_empty()) { 1 } else { 0 })
}

fn walk(dir: &Path, entries: &HashMap<Key, Entry>, found: &mut HashMap<Key, (PathBuf, Real)>) {
    let mut stack = vec![dir.to_path_buf()];
    if let Ok(r) = real(dir) {
        found.entry(r.key).or_insert((dir.to_path_buf(), r));
    }
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for ent in rd.flatten() {
            let p = ent.path();
            let Ok(r) = real(&p) else { continue };
            if r.mode & mode::IFMT == mode::IFDIR {
                stack.push(p.clone());
            }
            if entries.contains_key(&r.key) {
                found.entry(r.key).or_insert((p, r));
            }
        }
    }
}

fn prune(
    args: &InspectArgs,
    entries: &HashMap<Key, Entry>,
    status: impl Fn(&Key, &Entry) -> Status,
) -> Result<i32, Failure> {
    if args.root.is_none() {
        return Err(fail("--prune needs --root DIR: entries are checked against what DIR holds"));
    }
    let _lock = crate::daemon::host::lock_idle(&args.state)?;
    let mut table =
        state::load_with_journal(&args.state, false).map_err(|e| fail(format!("cannot load the state: {e}")))?;
    let mut dropped = 0;
    for (k, e) in entries {
        if matches!(status(k, e), Status::Reused | Status::NotFound) {
            table.forget(*k);
            dropped += 1;
        }
    }
    state::save(&args.state, &table).map_err(|e| fail(format!("cannot save the state: {e}")))?;
    if let Ok(target) = state::resolve(&args.state) {
        let _ = std::fs::remove_file(state::journal_path(&target));
    }
    println!("dropped {dropped} of {} entries", entries.len());
    Ok(0)
}

/// `ls -l`'s type letter and permission string.
fn mode_string(m: u32) -> String {
    let t = match m & mode::IFMT {
        mode::IFDIR => 'd',
        mode::IFLNK => 'l',
        mode::IFCHR => 'c',
        mode::IFBLK => 'b',
        mode::IFIFO => 'p',
        mode::IFSOCK => 's',
        _ => '-',
    };
    let bit = |b: u32, c: char| if m & b != 0 { c } else { '-' };
    let special = |x: u32, s: u32, lower: char, upper: char| match (m & x != 0, m & s != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, mode::ISUID, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, mode::ISGID, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, mode::ISVTX, 't', 'T'),
    ]
    .iter()
    .collect()
}

fn is_device(m: u32) -> bool {
    matches!(m & mode::IFMT, mode::IFCHR | mode::IFBLK)
}

fn print_row(path: Option<&Path>, key: &Key, e: Option<&Entry>, st: Status, check: bool) {
    let name = match path {
        Some(p) => p.display().to_string(),
        None => format!("(dev {} ino {})", key.dev, key.ino),
    };
    let Some(e) = e else {
        println!("{name}: not recorded (the session shows root:root and its real mode)");
        return;
    };
    let dev = if is_device(e.mode) { format!("{}, {}", libc::major(e.rdev), libc::minor(e.rdev)) } else { "-".into() };
    let xattrs: Vec<&str> = e.xattrs.iter().map(|(n, _)| n.as_str()).collect();
    let x = if xattrs.is_empty() { String::new() } else { format!(" [{}]", xattrs.join(",")) };
    let tag = if check { format!("{}: ", st.word()) } else { String::new() };
    println!("{tag}{} {:>5} {:>5} {:>8}{x} {name}", mode_string(e.mode), e.uid, e.gid, dev);
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn print_json(rows: &[(Option<PathBuf>, Key, Option<Entry>, Status)]) {
    println!("[");
    for (i, (path, key, e, st)) in rows.iter().enumerate() {
        let path = path.as_ref().map_or("null".to_string(), |p| json_str(&p.to_string_lossy()));
        let body = match e {
            None => "\"recorded\": false".to_string(),
            Some(e) => {
                let names: Vec<String> = e.xattrs.iter().map(|(n, _)| json_str(n)).collect();
                format!(
                    "\"recorded\": true, \"uid\": {}, \"gid\": {}, \"mode\": \"{:o}\", \"type\": \"{}\", \"rdev_major\": {}, \"rdev_minor\": {}, \"xattrs\": [{}]",
                    e.uid,
                    e.gid,
                    e.mode & 0o7777,
                    mode_string(e.mode).chars().next().unwrap_or('-'),
                    libc::major(e.rdev),
                    libc::minor(e.rdev),
                    names.join(", ")
                )
            }
        };
        let comma = if i + 1 < rows.len() { "," } else { "" };
        println!(
            "  {{\"dev\": {}, \"ino\": {}, \"path\": {path}, \"status\": \"{}\", {body}}}{comma}",
            key.dev,
            key.ino,
            st.word()
        );
    }
    println!("]");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_like_ls() {
        assert_eq!(mode_string(0o104755), "-rwsr-xr-x");
        assert_eq!(mode_string(0o042775), "drwxrwsr-x");
        assert_eq!(mode_string(0o041777), "drwxrwxrwt");
        assert_eq!(mode_string(0o020644), "crw-r--r--");
        assert_eq!(mode_string(0o102644), "-rw-r-Sr--");
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
