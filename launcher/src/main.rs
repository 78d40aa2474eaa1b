//! `fakebox`: the command line, the ELF sniffer's caller, the session and its daemon.
mod attach;
mod attach_server;
mod benchstate;
mod caller;
mod cli;
mod compat;
mod daemon;
mod docs;
mod doctor;
mod inspect;
mod log;
mod migrate;
mod private;
mod session;
mod sniff;

fn main() {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == "__attach") {
        attach::main(&raw[2..]);
    }
    if raw.get(1).is_some_and(|a| a == "__bench-state") {
        benchstate::main(&raw[2..]);
    }
    let called =
        raw.first().map(std::path::Path::new).and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
    if called.as_deref() == Some("fakeroot") {
        log::init();
        finish(compat::main(&raw[1..]));
    }
    log::init();
    let cli = match cli::Cli::parse_from_args(&raw) {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            std::process::exit(0);
        }
        Err(e) => {
            // docs/ARCHITECTURE.md, promise 11: fakebox's own failures say "fakebox:" and exit 125.
            let text = e.render().to_string();
            eprint!("fakebox: {}", text.strip_prefix("error: ").unwrap_or(&text));
            std::process::exit(session::EXIT_FAILURE);
        }
    };
    let code = match cli.command {
        cli::Command::Run(args) => session::run(args),
        cli::Command::Inspect(args) => inspect::run(args),
        cli::Command::ImportState(args) => migrate::import(args),
        cli::Command::InstallCompat { dir } => install_compat(&dir),
        cli::Command::Doctor => doctor::run(),
        cli::Command::Completions { shell } => docs::completions(shell),
        cli::Command::Man { dir } => docs::man(dir.as_deref()),
    };
    finish(code)
}

/// Exits with the command's status, or says what failed (docs/ARCHITECTURE.md, promise 11).
fn finish(r: Result<i32, session::Failure>) -> ! {
    let code = match r {
        Ok(code) => code,
        Err(session::Failure(msg, code)) => {
            log::error(format_args!("{msg}"));
            code
        }
    };
    std::process::exit(code)
}

/// `fakebox install-compat DIR`: DIR/fakeroot, a link to this binary.
fn install_compat(dir: &std::path::Path) -> Result<i32, session::Failure> {
    let fail = |m: String| session::Failure(m, session::EXIT_FAILURE);
    let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find my own binary: {e}")))?;
    std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    let link = dir.join("fakeroot");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&exe, &link).map_err(|e| fail(format!("{}: {e}", link.display())))?;
    println!("{} -> {}", link.display(), exe.display());
    Ok(0)
}
