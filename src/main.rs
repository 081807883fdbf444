//! `vigil` — parses the command line and hands it to the library's [`vigil::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    vigil::cli::init_logging();
    match vigil::cli::run(vigil::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
