//! voiced's own files as its loaders read them (`config.toml`,
//! `bookmarks.toml`, `known_servers`, the identity key): any content gives a
//! value or an error that names the file, never a panic, and what loads
//! and is saved again reads back the same. The first byte picks the file.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use voiced::config::{self, Config, ConfigError};
use voiced::identity::{Identity, IdentityError};
use voiced::trust::KnownServers;

/// A directory of this process (under /dev/shm when there is one, so a
/// file write costs no disk).
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        voice_fuzz::work_dir(&base, "voice-fuzz-files")
    })
}

fn names_the_file(e: &ConfigError, path: &std::path::Path) {
    assert!(
        e.to_string().contains(&*path.to_string_lossy()),
        "the error names the file: {e}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, content)) = data.split_first() else {
        return;
    };
    let dir = dir();
    match which % 4 {
        0 => {
            let path = dir.join("config.toml");
            std::fs::write(&path, content).expect("write the input");
            match Config::load(&path) {
                Ok(loaded) => {
                    let again = dir.join("config-again.toml");
                    loaded.save(&again).expect("a loaded config saves");
                    assert_eq!(Config::load(&again).expect("reads back"), loaded);
                }
                Err(e) => names_the_file(&e, &path),
            }
        }
        1 => {
            let path = dir.join("bookmarks.toml");
            std::fs::write(&path, content).expect("write the input");
            match config::load_bookmarks(&path) {
                Ok(loaded) => {
                    let again = dir.join("bookmarks-again.toml");
                    config::save_bookmarks(&again, &loaded).expect("bookmarks save");
                    assert_eq!(config::load_bookmarks(&again).expect("reads back"), loaded);
                }
                Err(e) => names_the_file(&e, &path),
            }
        }
        2 => {
            let path = dir.join("known_servers");
            std::fs::write(&path, content).expect("write the input");
            // Lines that do not parse are skipped; a file of any bytes loads.
            let Ok(known) = KnownServers::load(&path) else {
                assert!(std::str::from_utf8(content).is_err(), "UTF-8 text loads");
                return;
            };
            for entry in known.entries() {
                assert_eq!(entry.fingerprint.len(), 64, "{entry:?}");
                assert!(!entry.server.chars().any(char::is_whitespace));
            }
        }
        _ => {
            let path = dir.join("identity");
            std::fs::write(&path, content).expect("write the input");
            match Identity::load_or_create(&path) {
                Ok(identity) => assert_eq!(identity.public_hex().len(), 64),
                Err(IdentityError::Malformed { .. }) => {}
                Err(e) => panic!("an identity file that exists is read: {e}"),
            }
        }
    }
});
