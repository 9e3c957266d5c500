//! `voice-bench`: parses arguments and runs the load generator.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = voice_bench::Cli::parse();
    voice_bench::run(cli, |line| println!("{line}"))
}
