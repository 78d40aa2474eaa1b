//! Moving from fakeroot: a save file the real fakeroot wrote (`fakeroot -s FILE`) is read
//! by fakebox's `fakeroot -i FILE` and converted by `fakebox import-state --from fakeroot`,
//! giving the owners, modes and devices the real `fakeroot -i FILE` gives; an empty file
//! (mktemp, touch) is an empty table, as it is for fakeroot.

use fakebox_tests::{Case, require_path};

/// Bash: installs the fakeroot front in `./compat` and puts it first on PATH; `$REAL` is
/// the real fakeroot, and `real.save` a table it saved.
fn setup() -> String {
    let real = require_path("/usr/bin/fakeroot");
    format!(
        r#"REAL={real}
mkdir -p compat && "$FB" install-compat "$PWD/compat" >/dev/null || {{ echo "fakebox install-compat failed"; exit 1; }}
PATH=$PWD/compat:$PATH
$REAL -s real.save -- sh -c 'touch a b c; chown 5:6 a; chmod 4755 a; mknod d c 1 3; mknod k b 8 1; mkdir dd; chown 7:8 dd; chmod 2750 dd; ln -s a l; chown -h 9:10 l' || echo "the real fakeroot failed"
grep -q '^dev=.*,ino=.*,mode=.*,uid=' real.save || echo "not fakeroot's format: $(head -1 real.save)"
LIST='stat -c "%n %u:%g %A %t,%T" a d k dd l'"#,
        real = real.display()
    )
}

const WANT: &str = "a 5:6 -rwsr-xr-x 0,0
d 0:0 crw-r--r-- 1,3
k 0:0 brw-r--r-- 8,1
dd 7:8 drwxr-s--- 0,0
l 9:10 lrwxrwxrwx 0,0";

#[test]
fn a_save_file_of_the_real_fakeroot_is_read_by_fakeroot_i_and_by_the_import() {
    let want = format!("== real\n{WANT}\n== front\n{WANT}\n== import\nimported 5 entries\n{WANT}\n== unchanged\nsame");
    Case::new("a_save_file_of_the_real_fakeroot_is_read_by_fakeroot_i_and_by_the_import").check_outer(
        &want,
        &format!(
            r#"{}
cp real.save before
echo "== real"; $REAL -i real.save -- sh -c "$LIST"
echo "== front"; fakeroot -i real.save -- sh -c "$LIST"
echo "== import"; "$FB" import-state --from fakeroot real.save --state pkg.state | sed 's/ from .*//'
"$FB" run --state pkg.state -- sh -c "$LIST"
echo "== unchanged"; cmp -s before real.save && echo same"#,
            setup()
        ),
    );
}

#[test]
fn fakeroot_i_s_on_a_save_file_of_the_real_fakeroot_continues_it() {
    // `-i F -s F`: the session starts from fakeroot's table and saves it (as fakebox's).
    Case::new("fakeroot_i_s_on_a_save_file_of_the_real_fakeroot_continues_it").check_outer(
        "5:6\n11:6 0:0\n11:6 12:0",
        &format!(
            r#"{}
fakeroot -i real.save -s real.save -- stat -c %u:%g a
fakeroot -i real.save -s real.save -- sh -c 'chown 11 a; echo "$(stat -c %u:%g a) $(stat -c %u:%g b)"'
fakeroot -i real.save -s out.state -- sh -c 'chown 12 b'
fakeroot -i out.state -- sh -c 'echo "$(stat -c %u:%g a) $(stat -c %u:%g b)"'"#,
            setup()
        ),
    );
}

#[test]
fn an_empty_file_is_an_empty_table_for_s_i_and_state() {
    Case::new("an_empty_file_is_an_empty_table_for_s_i_and_state").check_outer(
        "i 0:0 0\ns 0\nstate 0 on disk: mine\nstate again 7",
        r#"
mkdir -p compat && "$FB" install-compat "$PWD/compat" >/dev/null && PATH=$PWD/compat:$PATH
touch f
E=$(mktemp -p "$PWD"); echo "i $(fakeroot -i "$E" -- stat -c %u:%g f) $?"
E=$(mktemp -p "$PWD"); fakeroot -s "$E" -- chown 7 f; echo "s $?"
E=$(mktemp -p "$PWD"); "$FB" run --state "$E" -- chown 7 f; echo "state $? on disk: $([ "$(stat -c %u f)" = "$(id -u)" ] && echo mine)"
echo "state again $("$FB" run --state "$E" -- stat -c %u f)""#,
    );
}

#[test]
fn what_cannot_be_read_names_the_users_file_and_leaves_nothing_behind() {
    Case::new("what_cannot_be_read_names_the_users_file_and_leaves_nothing_behind").check_outer(
        "state 125 fakeroot's file\n-i missing 125 named\n-i garbage 125 named\nleft 0\n\
         import garbage 125 named\nimport over a table 125 kept\nimport a state 125 named",
        &format!(
            r#"{}
T=$(mktemp -d /tmp/fbm.XXXXXX)
"$FB" run --state real.save -- true 2>e; echo "state $? $(grep -q 'real.save.*fakeroot -s.*import-state' e && echo "fakeroot's file")"
XDG_RUNTIME_DIR= TMPDIR=$T fakeroot -i missing -- true 2>e; echo "-i missing $? $(grep -q "missing" e && ! grep -q fakebox-i e && echo named)"
head -c 100 /dev/urandom > garbage; printf 'FAKEBOX-STATE\0\0\0\1\0\0\0\377' >> garbage
XDG_RUNTIME_DIR= TMPDIR=$T fakeroot -i garbage -- true 2>e; echo "-i garbage $? $(grep -q "$PWD/garbage\|load garbage" e && ! grep -q fakebox-i e && echo named)"
echo "left $(ls -A "$T" | wc -l)"; rm -rf "$T"
"$FB" import-state --from fakeroot garbage --state x.state 2>e; echo "import garbage $? $(grep -q garbage e && echo named)"
"$FB" run --state full.state -- chown 3 a
"$FB" import-state --from fakeroot real.save --state full.state 2>e; echo "import over a table $? $([ "$("$FB" run --state full.state -- stat -c %u a)" = 3 ] && echo kept)"
"$FB" import-state --from fakeroot full.state --state y.state 2>e; echo "import a state $? $(grep -q full.state e && echo named)""#,
            setup()
        ),
    );
}

#[test]
fn a_database_of_the_real_pseudo_is_imported() {
    // pseudo keeps its table in SQLite (files.db, with an xattrs table beside it): once its
    // server has stopped, `import-state --from pseudo` gives the owners, modes, devices and
    // file capabilities pseudo itself shows. A database given to --state is named as such.
    require_path("/usr/bin/pseudo");
    require_path("/usr/sbin/setcap");
    let list = r#"stat -c "%n %u:%g %A %t,%T" a d k dd l; /usr/sbin/getcap a"#;
    let want = format!(
        "== pseudo\n{WANT}\na cap_net_raw=ep\n== import\nimported 7 entries\n{WANT}\na cap_net_raw=ep\n== state\n125 1"
    );
    Case::new("a_database_of_the_real_pseudo_is_imported").check_outer(
        &want,
        &format!(
            r#"export PSEUDO_PREFIX=/usr PSEUDO_LOCALSTATEDIR=$PWD/pdb
mkdir pdb
pseudo sh -c 'touch a b c; chown 5:6 a; chmod 4755 a; /usr/sbin/setcap cap_net_raw+ep a; mknod d c 1 3; mknod k b 8 1; mkdir dd; chown 7:8 dd; chmod 2750 dd; ln -s a l; chown -h 9:10 l' || echo "pseudo failed"
echo "== pseudo"; pseudo sh -c '{list}'
pseudo -S >/dev/null 2>&1
echo "== import"; "$FB" import-state --from pseudo pdb/files.db --state pkg.state | sed 's/ from .*//'
"$FB" run --state pkg.state -- sh -c '{list}'
echo "== state"; "$FB" run --state pdb/files.db -- true 2>err; echo "$? $(grep -c 'pseudo' err)""#
        ),
    );
}
