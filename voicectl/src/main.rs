//! `voicectl`: command line for the voice chat client daemon.

use clap::Parser;

fn main() -> std::process::ExitCode {
    voicectl::run(voicectl::cli::Cli::parse())
}
