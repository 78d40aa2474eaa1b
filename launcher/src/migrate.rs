//! `fakebox import-state`: another tool's table (fakeroot's save file or pseudo's database,
//! read by daemon/import.rs) written as a new fakebox state file.
use crate::cli::{ImportArgs, ImportFrom};
use crate::daemon::{import, state};
use crate::session::{EXIT_FAILURE, Failure};

fn fail(msg: impl Into<String>) -> Failure {
    Failure(msg.into(), EXIT_FAILURE)
}

pub fn import(args: ImportArgs) -> Result<i32, Failure> {
    let file = args.file.display();
    let bytes = std::fs::read(&args.file).map_err(|e| fail(format!("cannot import {file}: {e}")))?;
    let entries = match args.from {
        ImportFrom::Fakeroot => {
            if !bytes.is_empty() && !import::is_fakeroot(&bytes) {
                return Err(fail(format!("cannot import {file}: not a fakeroot save file (fakeroot -s writes one)")));
            }
            import::decode_fakeroot(&bytes)
        }
        ImportFrom::Pseudo => {
            if !import::is_sqlite(&bytes) {
                return Err(fail(format!("cannot import {file}: not an SQLite database (pseudo's is files.db)")));
            }
            import::read_pseudo(&args.file)
        }
    };
    let entries = entries.map_err(|why| fail(format!("cannot import {file}: {why}")))?;
    // Nobody may use the state meanwhile, nor may it hold a table that would be lost.
    let _lock = crate::daemon::host::lock_idle(&args.state)?;
    let held = state::load_with_journal(&args.state, false)
        .map_err(|e| fail(format!("cannot import into {}: {e}", args.state.display())))?;
    if !held.is_empty() {
        return Err(fail(format!(
            "cannot import into {}: it holds a table of {} entries already, which an import would replace; give a new --state",
            args.state.display(),
            held.len()
        )));
    }
    let mut table = held;
    for (k, e) in entries {
        table.insert(k, e);
    }
    let n = table.len();
    state::save(&args.state, &table).map_err(|e| fail(format!("cannot save the state: {e}")))?;
    if let Ok(target) = state::resolve(&args.state) {
        let _ = std::fs::remove_file(state::journal_path(&target));
    }
    println!("imported {n} entries from {file} into {}", args.state.display());
    Ok(0)
}
