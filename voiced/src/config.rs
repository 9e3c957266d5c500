//! `config.toml` (display name, extra CA file) and `bookmarks.toml`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// A config or bookmarks file cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{}: {message}; fix or remove the file", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The user's settings in `config.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Display name used when a connection does not give one.
    pub display_name: String,
    /// Extra CA certificate (PEM) trusted for every server.
    pub ca_file: Option<PathBuf>,
    /// Seconds a shared or downloaded file's cache copy is kept and seeded
    /// (default 86400, a day); the cache is also emptied when voiced exits.
    pub torrent_ttl: u64,
    /// Where finished downloads go (default: the XDG download directory).
    pub download_dir: Option<PathBuf>,
    /// TCP port for BitTorrent peers (0 = any free port).
    pub bt_port: u16,
    /// Upload cap for BitTorrent in bytes per second (0 = none), so seeding
    /// never crowds out voice on a thin uplink.
    pub bt_upload_limit: u32,
    /// How BitTorrent peers are reached: `auto` (directly, through the
    /// server's relay when that fails), `always` (only through the relay:
    /// peers never see a connection from this address) or `never` (only
    /// directly; no relayed connection either way).
    pub bt_relay: crate::files::relay::RelayMode,
    /// Room history on joining a room where others are: `ask` (front ends
    /// offer to load earlier messages), `auto` (fetched at once) or `off`.
    pub history: HistoryMode,
    /// Serve the chat this daemon saw to members of the room who ask for
    /// history (default true); when false the server never asks it.
    pub history_share: bool,
    /// Chat messages kept in memory, for showing and for serving history
    /// (default 5000).
    pub history_messages: usize,
    /// Bytes of chat kept in memory (default 4 MiB); fetched history has a
    /// budget of the same size, and larger snapshots are refused unread.
    pub history_bytes: usize,
    /// Seconds a history snapshot this daemon served is seeded (default
    /// 300).
    pub history_seed_secs: u64,
}

/// What voiced does about a room's earlier chat (`history` in config.toml).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryMode {
    /// Front ends offer to load earlier messages.
    #[default]
    Ask,
    /// voiced fetches them on joining a room where others are.
    Auto,
    /// Never fetched.
    Off,
}

impl HistoryMode {
    /// The name in config.toml and `StatusReply.history`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ask => "ask",
            Self::Auto => "auto",
            Self::Off => "off",
        }
    }
}

/// The default `torrent_ttl`: a day.
pub const DEFAULT_TORRENT_TTL: u64 = 24 * 3600;

impl Default for Config {
    fn default() -> Self {
        Self {
            display_name: String::new(),
            ca_file: None,
            torrent_ttl: DEFAULT_TORRENT_TTL,
            download_dir: None,
            bt_port: 0,
            bt_upload_limit: 0,
            bt_relay: crate::files::relay::RelayMode::Auto,
            history: HistoryMode::Ask,
            history_share: true,
            history_messages: crate::engine::CHAT_HISTORY,
            history_bytes: crate::engine::CHAT_HISTORY_BYTES,
            history_seed_secs: 300,
        }
    }
}

/// A saved server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bookmark {
    /// Name the user calls it by.
    pub name: String,
    /// `host:port`.
    pub server: String,
    /// Display name on this server (empty = the default).
    pub display_name: String,
    /// Server password (empty = none).
    pub password: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct BookmarksFile {
    #[serde(default, rename = "bookmark")]
    bookmarks: Vec<Bookmark>,
}

fn read_toml<T: for<'de> Deserialize<'de> + Default>(path: &Path) -> Result<T, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), ConfigError> {
    let text = toml::to_string_pretty(value).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    fsutil::write_private(path, text.as_bytes()).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl Config {
    /// Reads the file; a missing file is the default config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        read_toml(path)
    }

    /// Writes the file (mode 0600).
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        write_toml(path, self)
    }
}

/// Reads the bookmarks; a missing file is none.
pub fn load_bookmarks(path: &Path) -> Result<Vec<Bookmark>, ConfigError> {
    Ok(read_toml::<BookmarksFile>(path)?.bookmarks)
}

/// Writes the bookmarks (mode 0600: they may hold passwords).
pub fn save_bookmarks(path: &Path, bookmarks: &[Bookmark]) -> Result<(), ConfigError> {
    write_toml(
        path,
        &BookmarksFile {
            bookmarks: bookmarks.to_vec(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_and_bookmarks_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            display_name: "Ada".into(),
            torrent_ttl: 60,
            ..Config::default()
        };
        cfg.save(&dir.path().join("config.toml")).unwrap();
        assert_eq!(Config::load(&dir.path().join("config.toml")).unwrap(), cfg);
        let marks = vec![Bookmark {
            name: "home".into(),
            server: "example.org:7878".into(),
            ..Default::default()
        }];
        let path = dir.path().join("bookmarks.toml");
        save_bookmarks(&path, &marks).unwrap();
        assert_eq!(load_bookmarks(&path).unwrap(), marks);
        assert!(
            load_bookmarks(&dir.path().join("none.toml"))
                .unwrap()
                .is_empty()
        );
    }
}
