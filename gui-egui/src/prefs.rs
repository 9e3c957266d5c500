//! What only this window remembers between runs (voiced keeps everything
//! else): the push-to-talk key. A small TOML file next to voiced's config,
//! `$XDG_CONFIG_HOME/voice/gui.toml`.

use std::path::{Path, PathBuf};

use eframe::egui;
use serde::{Deserialize, Serialize};

/// The preferences file is tiny; anything bigger is not ours.
pub const MAX_BYTES: u64 = 16 * 1024;

/// The window's own preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    /// Name of the push-to-talk key (`egui::Key::name`, e.g. "F9").
    pub ptt_key: String,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            ptt_key: egui::Key::F9.name().to_owned(),
        }
    }
}

/// Why the preferences could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PrefsError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_BYTES`].
    #[error("{path} is larger than {MAX_BYTES} bytes; remove it to start from defaults")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{path} is not a valid preferences file ({message}); remove it to start from defaults")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Prefs {
    /// The push-to-talk key (F9 when the name is unknown).
    pub fn ptt_key(&self) -> egui::Key {
        egui::Key::from_name(&self.ptt_key).unwrap_or(egui::Key::F9)
    }

    /// Reads `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, PrefsError> {
        let io = |source| PrefsError::Io {
            path: path.to_owned(),
            source,
        };
        let size = match std::fs::metadata(path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io(e)),
        };
        if size > MAX_BYTES {
            return Err(PrefsError::TooLarge {
                path: path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        toml::from_str(&text).map_err(|e| PrefsError::Invalid {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
    }

    /// Writes `path` (and its directory).
    pub fn save(&self, path: &Path) -> Result<(), PrefsError> {
        let io = |source| PrefsError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string(self).map_err(|e| PrefsError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(io)
    }
}

/// `$XDG_CONFIG_HOME/voice/gui.toml` (the platform's config directory elsewhere).
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", voiced_client::APP)
        .map(|dirs| dirs.config_dir().join("gui.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_saved_loaded_too_large_and_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("voice/gui.toml");
        assert_eq!(Prefs::load(&path).unwrap(), Prefs::default());
        let prefs = Prefs {
            ptt_key: egui::Key::Space.name().to_owned(),
        };
        prefs.save(&path).unwrap();
        let back = Prefs::load(&path).unwrap();
        assert_eq!(back.ptt_key(), egui::Key::Space);
        std::fs::write(&path, "ptt_key = 3").unwrap();
        assert!(matches!(
            Prefs::load(&path),
            Err(PrefsError::Invalid { .. })
        ));
        std::fs::write(&path, vec![b'#'; MAX_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            Prefs::load(&path),
            Err(PrefsError::TooLarge { .. })
        ));
        let unknown = Prefs {
            ptt_key: "NoSuchKey".into(),
        };
        assert_eq!(unknown.ptt_key(), egui::Key::F9);
    }
}
