//! `fakebox completions SHELL` and `fakebox man`: made from the clap definitions, so they
//! never disagree with `--help`.
use crate::cli::Cli;
use crate::session::{EXIT_FAILURE, Failure};
use clap::CommandFactory;
use std::io::Write;

fn print(out: &[u8]) -> Result<i32, Failure> {
    // A reader that stops early (`| head`) is fine.
    let _ = std::io::stdout().write_all(out);
    Ok(0)
}

pub fn completions(shell: clap_complete::Shell) -> Result<i32, Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "fakebox", &mut out);
    print(&out)
}

pub fn man() -> Result<i32, Failure> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).map_err(|e| Failure(format!("man: {e}"), EXIT_FAILURE))?;
    print(&out)
}
