//! `voice-packaging` run for real into a temporary directory: for each
//! package, a man page and the three shells' completions of each of its
//! binaries, man pages of subcommands, units that start the packaged
//! binaries, and a default server config that the server itself loads.

use std::path::Path;
use std::process::Command;

/// Each package and the binaries it ships.
const PACKAGES: [(&str, &[&str]); 2] = [
    ("voice-server", &["voice-server"]),
    (
        "voice-client",
        &["voiced", "voicectl", "voice-tui", "voice-gui"],
    ),
];

fn generate() -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_voice-packaging"))
        .arg(out.path())
        .status()
        .expect("voice-packaging runs");
    assert!(status.success(), "voice-packaging failed: {status}");
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_binary_has_a_man_page_and_completions_in_its_package() {
    let out = generate();
    for (package, binaries) in PACKAGES {
        let dir = out.path().join(package);
        for bin in binaries {
            let man = read(&dir.join("man").join(format!("{bin}.1")));
            assert!(
                man.contains(&format!(".TH {bin} 1")),
                "{bin}.1 has no title line for {bin}:\n{man}"
            );
            assert!(man.contains(".SH NAME"), "{bin}.1 has no NAME section");
            for file in [
                format!("bash/{bin}"),
                format!("zsh/_{bin}"),
                format!("fish/{bin}.fish"),
            ] {
                let script = read(&dir.join("completions").join(&file));
                assert!(script.contains(bin), "{file} does not complete {bin}");
            }
        }
    }
}

#[test]
fn subcommands_get_their_own_man_pages() {
    let out = generate();
    for page in [
        "voice-client/man/voicectl-status.1",
        "voice-server/man/voice-server-admin.1",
    ] {
        assert!(out.path().join(page).is_file(), "no {page}");
    }
}

#[test]
fn units_start_the_packaged_binaries() {
    let out = generate();
    for (unit, exec) in [
        (
            "voice-server/systemd/voice-server.service",
            "ExecStart=/usr/bin/voice-server ",
        ),
        (
            "voice-client/systemd/voiced.service",
            "ExecStart=/usr/bin/voiced ",
        ),
    ] {
        let text = read(&out.path().join(unit));
        assert!(text.contains(exec), "{unit} lacks {exec}:\n{text}");
        assert!(
            !text.contains("/usr/local/") && !text.contains(".cargo"),
            "{unit} still names a hand-installed binary:\n{text}"
        );
        assert!(text.contains("\n[Service]\n"), "{unit} lost its body");
    }
}

#[test]
fn the_default_config_is_one_the_server_loads() {
    let out = generate();
    let path = out.path().join("voice-server/etc/server.toml");
    let config = voice_server::Config::from_file(&path).expect("the default config loads");
    assert_eq!(config.listen, voice_server::Config::default().listen);
}
