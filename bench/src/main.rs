//! `voice-bench`: parses arguments and runs the load generator.

use std::io::Write;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = voice_bench::Cli::parse();
    // A closed stdout (`voice-bench … | head`) must not stop the measurement.
    voice_bench::run(cli, |line| {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    })
}
