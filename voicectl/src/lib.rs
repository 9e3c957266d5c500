//! `voicectl`: the command line over voiced's control API. Human output by
//! default, `--json` for scripts. Exit codes: 0 ok, 1 failed, 2 usage,
//! 3 daemon not running.

pub mod cli;
pub mod commands;
pub mod render;

use std::io::Write;
use std::process::ExitCode;

use commands::{Failure, Output};
use voiced_client::text::printable_multiline;

/// Exit code: the command failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the daemon is not running.
pub const EXIT_NOT_RUNNING: u8 = 3;

/// Prints a command's output. Text from other users is escaped where it
/// is rendered; the whole text passes [`printable_multiline`] once more so
/// that nothing a peer sent drives the terminal, whatever command shows it.
fn print(o: &Output, json: bool) {
    let mut stdout = std::io::stdout().lock();
    let r = if json && !o.json.is_null() {
        writeln!(stdout, "{}", render::json_line(&o.json))
    } else {
        write!(stdout, "{}", printable_multiline(&o.text))
    };
    // A closed pipe (`voicectl ... | head`) is not an error worth a message.
    let _ = r.and_then(|()| stdout.flush());
}

fn fail(message: &str, json: bool, code: u8) -> ExitCode {
    if json {
        println!(
            "{}",
            render::json_line(&serde_json::json!({"error": message, "exit_code": code}))
        );
    }
    // Errors may quote a server (a kick reason, a refusal).
    eprintln!("voicectl: {}", printable_multiline(message));
    ExitCode::from(code)
}

/// Runs one command line.
pub fn run(cli: cli::Cli) -> ExitCode {
    if let Some(r) = commands::offline(&cli) {
        return match r {
            Ok(o) => {
                // Our own completion scripts and man page: printed as they are.
                let mut stdout = std::io::stdout().lock();
                let _ = write!(stdout, "{}", o.text).and_then(|()| stdout.flush());
                ExitCode::SUCCESS
            }
            Err(Failure::Other(m)) => fail(&m, cli.json, EXIT_FAILED),
            Err(Failure::Status(s)) => fail(s.message(), cli.json, EXIT_FAILED),
        };
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string(), cli.json, EXIT_FAILED),
    };
    runtime.block_on(async {
        let path = cli
            .socket
            .clone()
            .unwrap_or_else(voiced_client::socket_path);
        let mut client = match voiced_client::connect(&path).await {
            Ok(c) => c,
            Err(e) => return fail(&e.to_string(), cli.json, EXIT_NOT_RUNNING),
        };
        match commands::run(&mut client, &cli).await {
            Ok(o) => {
                print(&o, cli.json);
                ExitCode::SUCCESS
            }
            Err(Failure::Other(m)) => fail(&m, cli.json, EXIT_FAILED),
            Err(Failure::Status(s)) => {
                // The daemon went away mid-call.
                if s.code() == tonic::Code::Unavailable {
                    fail(
                        &format!("voiced stopped answering: {}", s.message()),
                        cli.json,
                        EXIT_NOT_RUNNING,
                    )
                } else {
                    fail(s.message(), cli.json, EXIT_FAILED)
                }
            }
        }
    })
}
