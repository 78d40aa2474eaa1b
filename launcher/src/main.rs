//! `fakebox`: the command line, the ELF sniffer's caller, the session and its daemon.
mod cli;
mod daemon;
mod log;
mod session;
mod sniff;

use clap::Parser;

fn main() {
    log::init();
    let cli = cli::Cli::parse();
    let code = match cli.command {
        cli::Command::Run(args) => match session::run(args) {
            Ok(code) => code,
            Err(session::Failure(msg, code)) => {
                log::error(format_args!("{msg}"));
                code
            }
        },
    };
    std::process::exit(code);
}
