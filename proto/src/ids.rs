//! The kernel's rules for changing a process's ids, for both mechanisms: the preload
//! library keeps a process's fake ids in its memory, the tracer keeps them per process;
//! both apply changes through these functions.

/// `-1` in the C API: leave unchanged.
pub const KEEP: u32 = u32::MAX;

/// The most supplementary groups a process may have (`NGROUPS_MAX` of `linux/limits.h`):
/// setgroups with more fails with EINVAL.
pub const NGROUPS_MAX: usize = 65536;

/// Real, effective, saved and filesystem ids (one of user or group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "wire", derive(serde::Serialize, serde::Deserialize))]
pub struct Cred {
    pub r: u32,
    pub e: u32,
    pub s: u32,
    pub fs: u32,
}

const EPERM: i32 = 1;
const EINVAL: i32 = 22;

impl Cred {
    pub fn all(v: u32) -> Cred {
        Cred { r: v, e: v, s: v, fs: v }
    }

    fn is_own(&self, v: u32) -> bool {
        v == self.r || v == self.e || v == self.s
    }

    /// setuid / setgid. `privileged`: the caller's effective uid is 0.
    pub fn set(&mut self, v: u32, privileged: bool) -> Result<(), i32> {
        if v == KEEP {
            return Err(EINVAL);
        }
        if privileged {
            *self = Cred::all(v);
        } else if v == self.r || v == self.s {
            self.e = v;
            self.fs = v;
        } else {
            return Err(EPERM);
        }
        Ok(())
    }

    /// seteuid / setegid.
    pub fn set_e(&mut self, v: u32, privileged: bool) -> Result<(), i32> {
        if v == KEEP {
            return Err(EINVAL);
        }
        if !privileged && !self.is_own(v) {
            return Err(EPERM);
        }
        self.e = v;
        self.fs = v;
        Ok(())
    }

    /// setreuid / setregid, with the kernel's rule for the saved id.
    pub fn set_re(&mut self, r: u32, e: u32, privileged: bool) -> Result<(), i32> {
        let old = *self;
        if !privileged && ((r != KEEP && r != old.r && r != old.e) || (e != KEEP && !old.is_own(e))) {
            return Err(EPERM);
        }
        self.put_re(r, e);
        if r != KEEP || (e != KEEP && e != old.r) {
            self.s = self.e;
        }
        Ok(())
    }

    /// Sets the real and effective ids that are not KEEP (the filesystem id follows).
    fn put_re(&mut self, r: u32, e: u32) {
        if r != KEEP {
            self.r = r;
        }
        if e != KEEP {
            self.e = e;
            self.fs = e;
        }
    }

    /// setresuid / setresgid.
    pub fn set_res(&mut self, r: u32, e: u32, s: u32, privileged: bool) -> Result<(), i32> {
        if !privileged && [r, e, s].iter().any(|&v| v != KEEP && !self.is_own(v)) {
            return Err(EPERM);
        }
        self.put_re(r, e);
        if s != KEEP {
            self.s = s;
        }
        Ok(())
    }

    /// setfsuid / setfsgid: returns the previous value whether or not it changed.
    pub fn set_fs(&mut self, v: u32, privileged: bool) -> u32 {
        let old = self.fs;
        if v != KEEP && (privileged || self.is_own(v) || v == old) {
            self.fs = v;
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_sets_everything_others_only_their_own() {
        let mut c = Cred::all(0);
        c.set(1000, true).unwrap();
        assert_eq!(c, Cred::all(1000));
        assert_eq!(c.set(0, false), Err(EPERM));
        let mut c = Cred { r: 1000, e: 0, s: 0, fs: 0 };
        c.set_e(1000, true).unwrap();
        // Back to root through the saved id, as a setuid-root program does.
        c.set_e(0, false).unwrap();
        assert_eq!(c.e, 0);
    }

    #[test]
    fn setreuid_updates_the_saved_id() {
        let mut c = Cred::all(0);
        c.set_re(KEEP, 5, true).unwrap();
        assert_eq!((c.r, c.e, c.s), (0, 5, 5));
        let mut c = Cred { r: 1, e: 2, s: 3, fs: 2 };
        assert_eq!(c.set_re(4, KEEP, false), Err(EPERM));
        c.set_re(2, 1, false).unwrap();
        assert_eq!((c.r, c.e, c.s), (2, 1, 1));
    }

    #[test]
    fn setfs_reports_the_old_value() {
        let mut c = Cred { r: 1, e: 1, s: 1, fs: 1 };
        assert_eq!(c.set_fs(7, false), 1);
        assert_eq!(c.fs, 1);
        assert_eq!(c.set_fs(7, true), 1);
        assert_eq!(c.fs, 7);
    }
}

/// May a process with fsuid `uid` (and `in_group` for its groups) do `want` (R_OK 4,
/// W_OK 2, X_OK 1) to a file the session sees as `f`? Root reads and writes anything,
/// searches any directory and executes what has an execute bit.
pub fn may_access(f: &crate::Fake, uid: u32, in_group: impl Fn(u32) -> bool, want: u32) -> bool {
    if uid == 0 {
        return want & 1 == 0 || crate::inode::mode::is_dir(f.mode) || f.mode & 0o111 != 0;
    }
    let shift = if f.uid == uid {
        6
    } else if in_group(f.gid) {
        3
    } else {
        0
    };
    (f.mode >> shift) & want == want
}

/// May a process with fsuid `uid` chown a file the session sees as `f`? Root may give
/// anything to anyone; the owner may only change the group, to one of their own.
pub fn may_chown(
    f: &crate::Fake,
    uid: u32,
    in_group: impl Fn(u32) -> bool,
    to_uid: Option<u32>,
    to_gid: Option<u32>,
) -> bool {
    if uid == 0 {
        return true;
    }
    let uid_ok = to_uid.is_none_or(|u| u == f.uid && u == uid);
    let gid_ok = to_gid.is_none_or(|g| g == f.gid || (f.uid == uid && in_group(g)));
    f.uid == uid && uid_ok && gid_ok
}

/// May a process with fsuid `uid` chmod a file the session sees as `f`?
pub fn may_chmod(f: &crate::Fake, uid: u32) -> bool {
    uid == 0 || f.uid == uid
}

/// Parses the session's identity variable `r,e,s,fs:r,e,s,fs:g1,g2,...` (FAKEBOX_IDS);
/// the groups go into `groups`, whose filled length is returned. Never allocates.
pub fn parse(v: &[u8], groups: &mut [u32]) -> Option<(Cred, Cred, usize)> {
    let num = |b: &[u8]| core::str::from_utf8(b).ok().and_then(|s| s.parse::<u32>().ok());
    let mut parts = v.split(|&b| b == b':');
    let mut cred = || -> Option<Cred> {
        let mut it = parts.next()?.split(|&b| b == b',').map(num);
        Some(Cred { r: it.next()??, e: it.next()??, s: it.next()??, fs: it.next()?? })
    };
    let (uid, gid) = (cred()?, cred()?);
    let mut n = 0;
    if let Some(p) = parts.next() {
        for g in p.split(|&b| b == b',').filter_map(num) {
            if n == groups.len() {
                break;
            }
            groups[n] = g;
            n += 1;
        }
    }
    Some((uid, gid, n))
}

/// Writes the identity in the form [`parse`] reads.
pub fn format(
    w: &mut impl core::fmt::Write,
    uid: &Cred,
    gid: &Cred,
    groups: impl Iterator<Item = u32>,
) -> core::fmt::Result {
    // Digits by hand: this runs in every exec hook, and core::fmt's machinery would be one
    // more page of code to fault in, in every forked child.
    for (i, n) in [uid.r, uid.e, uid.s, uid.fs, gid.r, gid.e, gid.s, gid.fs].into_iter().enumerate() {
        decimal(w, n)?;
        w.write_char(if i % 4 == 3 { ':' } else { ',' })?;
    }
    for (i, g) in groups.enumerate() {
        if i > 0 {
            w.write_char(',')?;
        }
        decimal(w, g)?;
    }
    Ok(())
}

fn decimal(w: &mut impl core::fmt::Write, mut n: u32) -> core::fmt::Result {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    digits[i..].iter().try_for_each(|&d| w.write_char(char::from(d)))
}

#[cfg(test)]
mod env_tests {
    use super::*;
    use std::string::String;

    #[test]
    fn ids_roundtrip_through_the_environment() {
        let (u, g) = (Cred { r: 1, e: 2, s: 3, fs: 4 }, Cred::all(5));
        let mut s = String::new();
        format(&mut s, &u, &g, [5, 6, 7].into_iter()).unwrap();
        let mut groups = [0u32; 8];
        assert_eq!(parse(s.as_bytes(), &mut groups), Some((u, g, 3)));
        assert_eq!(&groups[..3], &[5, 6, 7]);
        assert_eq!(parse(b"1,2,3:4", &mut groups), None);
        assert_eq!(parse(b"", &mut groups), None);
    }
}
