//! `voice-packaging OUT`: writes the files the Debian packages carry but the
//! repository does not keep, each made from what the binaries themselves
//! use, so that they cannot drift apart. One tree per package,
//! `OUT/voice-server/` and `OUT/voice-client/`, each with:
//!
//! - `man/`: a man page (roff) for every binary and every subcommand, from
//!   its clap definition;
//! - `completions/{bash,zsh,fish}/`: every binary's shell completions, named
//!   as each shell's vendor directory expects;
//! - `systemd/`: the units of `systemd/` with the packaged binary's path
//!   (`/usr/bin`) in `ExecStart=`;
//!
//! and the server's default configuration in `OUT/voice-server/etc/server.toml`.
//! `packaging/generate-assets` runs it and compresses the man pages; see
//! `packaging/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};
use clap::CommandFactory;
use clap_complete::Shell;

/// The hardened system unit, as committed for hand installs.
const SERVER_UNIT: &str = include_str!("../../systemd/voice-server.service");
/// The user unit, as committed for `cargo install` users.
const VOICED_UNIT: &str = include_str!("../../systemd/voiced.service");

fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: voice-packaging OUT_DIR")?;
    let server = out.join("voice-server");
    write_commands(&server, [voice_server::cli::Cli::command()])?;
    write(
        &server.join("etc/server.toml"),
        &voice_server::Config::default_toml(),
    )?;
    write(
        &server.join("systemd/voice-server.service"),
        &packaged_unit(SERVER_UNIT, "/usr/local/bin/voice-server", "voice-server")?,
    )?;

    let client = out.join("voice-client");
    write_commands(
        &client,
        [
            voiced::cli::Args::command(),
            voicectl::cli::Cli::command(),
            voice_tui::cli::Args::command(),
            voice_gui::cli::Args::command(),
        ],
    )?;
    write(
        &client.join("systemd/voiced.service"),
        &packaged_unit(VOICED_UNIT, "%h/.cargo/bin/voiced", "voice-client")?,
    )?;
    println!("packaging assets in {}", out.display());
    Ok(())
}

/// Man pages and completions of `commands` under `dir`.
fn write_commands<const N: usize>(dir: &Path, commands: [clap::Command; N]) -> anyhow::Result<()> {
    let man = dir.join("man");
    create_dir(&man)?;
    for cmd in commands {
        let name = cmd.get_name().to_owned();
        clap_mangen::generate_to(cmd.clone(), &man)
            .with_context(|| format!("writing the man pages of {name} into {}", man.display()))?;
        for (shell, file) in [
            (Shell::Bash, format!("bash/{name}")),
            (Shell::Zsh, format!("zsh/_{name}")),
            (Shell::Fish, format!("fish/{name}.fish")),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd.clone(), &name, &mut script);
            let script = String::from_utf8(script).context("completions are not UTF-8")?;
            write(&dir.join("completions").join(file), &script)?;
        }
    }
    Ok(())
}

/// `unit` with the binary at `installed_from` replaced by its packaged path
/// in `/usr/bin`, and the leading comment, which tells how to install it by
/// hand, replaced by the name of the package that installed it.
fn packaged_unit(unit: &str, installed_from: &str, package: &str) -> anyhow::Result<String> {
    let binary = installed_from.rsplit('/').next().unwrap_or(installed_from);
    ensure!(
        unit.contains(&format!("ExecStart={installed_from}")),
        "the unit no longer starts {installed_from}: update voice-packaging"
    );
    let body = unit
        .lines()
        .skip_while(|line| line.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(
        format!("# Installed by the {package} package; see /usr/share/doc/{package}/.\n{body}\n")
            .replace(installed_from, &format!("/usr/bin/{binary}")),
    )
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

fn write(path: &Path, contents: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        create_dir(dir)?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}
