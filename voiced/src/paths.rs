//! Where voiced keeps its files (DESIGN §7), found with `directories` so the
//! `XDG_*` variables are honoured (tests and users can relocate everything).

use std::path::PathBuf;

pub use voiced_client::{APP, SOCKET_ENV, SOCKET_NAME};

/// The directories of one user's daemon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// Identity key, `config.toml`, `bookmarks.toml`.
    pub config_dir: PathBuf,
    /// `known_servers`.
    pub data_dir: PathBuf,
    /// Cache (torrent data, later).
    pub cache_dir: PathBuf,
    /// Where the socket lives.
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// The standard directories of the current user.
    pub fn from_env() -> Result<Self, std::io::Error> {
        let dirs = directories::ProjectDirs::from("", "", APP).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no home directory: set HOME or the XDG_* variables",
            )
        })?;
        Ok(Self {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            cache_dir: dirs.cache_dir().to_path_buf(),
            runtime_dir: runtime_dir(),
        })
    }

    /// The identity key file.
    pub fn identity_file(&self) -> PathBuf {
        self.config_dir.join("identity.key")
    }

    /// The configuration file.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// The bookmarks file.
    pub fn bookmarks_file(&self) -> PathBuf {
        self.config_dir.join("bookmarks.toml")
    }

    /// The pinned server fingerprints.
    pub fn known_servers_file(&self) -> PathBuf {
        self.data_dir.join("known_servers")
    }

    /// The control socket: `voiced.sock` in the runtime directory (on
    /// Windows the user's named pipe).
    pub fn socket(&self) -> PathBuf {
        voiced_client::socket_in(&self.runtime_dir)
    }
}

pub use voiced_client::{runtime_dir, socket_path};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn file_names_sit_in_their_directories() {
        let p = Paths {
            config_dir: "/c".into(),
            data_dir: "/d".into(),
            cache_dir: "/k".into(),
            runtime_dir: "/r".into(),
        };
        assert_eq!(p.identity_file(), Path::new("/c/identity.key"));
        assert_eq!(p.known_servers_file(), Path::new("/d/known_servers"));
        #[cfg(not(windows))]
        assert_eq!(p.socket(), Path::new("/r/voiced.sock"));
    }
}
