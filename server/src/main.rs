//! `voice-server`: parses arguments and runs the server or an admin command.

use std::io::Write;

use clap::Parser;
use voice_server::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{}", voice_server::Config::default_toml());
        return Ok(());
    }
    let config = cli.config()?;
    match cli.command {
        Some(Command::Admin(admin)) => {
            let socket = config.admin_socket_path()?;
            if let voice_server::admin::client::AdminCommand::Watch { after } = admin.command {
                // Printed as they come, not collected.
                voice_server::admin::client::watch(&socket, after, |line| println!("{line}"))
                    .await?;
            } else {
                for line in voice_server::admin::client::run(&socket, admin.command).await? {
                    println!("{line}");
                }
            }
        }
        None => {
            voice_server::run(config, |line| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            })
            .await?;
        }
    }
    Ok(())
}
