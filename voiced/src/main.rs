//! `voiced`: the voice chat client daemon (see `voiced --help`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = voiced::cli::Args::parse();
    match voiced::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voiced: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
