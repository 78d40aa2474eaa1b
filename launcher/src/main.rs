//! `fakebox`: the command line, the ELF sniffer's caller, the session and its daemon.
mod attach;
mod attach_server;
mod benchstate;
mod cli;
mod daemon;
mod inspect;
mod log;
mod session;
mod sniff;

use clap::Parser;

fn main() {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if raw.get(1).is_some_and(|a| a == "__attach") {
        attach::main(&raw[2..]);
    }
    if raw.get(1).is_some_and(|a| a == "__bench-state") {
        benchstate::main(&raw[2..]);
    }
    log::init();
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            std::process::exit(0);
        }
        Err(e) => {
            // DESIGN §4: fakebox's own failures say "fakebox:" and exit 125.
            let text = e.render().to_string();
            eprint!("fakebox: {}", text.strip_prefix("error: ").unwrap_or(&text));
            std::process::exit(session::EXIT_FAILURE);
        }
    };
    let code = match cli.command {
        cli::Command::Run(args) => session::run(args),
        cli::Command::Inspect(args) => inspect::run(args),
    };
    let code = match code {
        Ok(code) => code,
        Err(session::Failure(msg, code)) => {
            log::error(format_args!("{msg}"));
            code
        }
    };
    std::process::exit(code);
}
