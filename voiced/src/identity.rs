//! The user's identity: an ed25519 keypair made on first run, stored in the
//! config dir with mode 0600 and never sent anywhere (only the public key and
//! signatures leave the machine).

use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::fsutil;

/// The identity file cannot be read or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// Reading or writing the file failed.
    #[error("identity file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file holds something other than a key.
    #[error("identity file {} is not a key (64 hex digits); move it away to make a new identity", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// No randomness from the operating system.
    #[error("no random numbers from the operating system: {0}")]
    Random(String),
}

/// An ed25519 keypair.
#[derive(Clone)]
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.public_hex())
    }
}

impl Identity {
    /// Loads the key in `path`, or makes and stores one (mode 0600) if the
    /// file does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self, IdentityError> {
        let io = |source| IdentityError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = voice_proto::hash::parse_hex(text.trim())
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| IdentityError::Malformed {
                        path: path.to_path_buf(),
                    })?;
                Ok(Self {
                    key: SigningKey::from_bytes(&bytes),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::generate()?;
                let text = format!("{}\n", voice_proto::hash::hex(&identity.key.to_bytes()));
                fsutil::write_private(path, text.as_bytes()).map_err(io)?;
                tracing::info!(public_key = %identity.public_hex(), "made a new identity");
                Ok(identity)
            }
            // Not text at all: as malformed as any other non-key.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(IdentityError::Malformed {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => Err(io(e)),
        }
    }

    /// A fresh random identity (not stored).
    pub fn generate() -> Result<Self, IdentityError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| IdentityError::Random(e.to_string()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The public key: the user's id.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        voice_proto::hash::hex(self.public_key().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_loaded_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/identity.key");
        let a = Identity::load_or_create(&path).unwrap();
        let b = Identity::load_or_create(&path).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn garbage_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("identity.key");
        std::fs::write(&path, "not a key").unwrap();
        let err = Identity::load_or_create(&path).unwrap_err();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key");
        // Bytes that are not even text get the same advice (seen writing the fuzz target).
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let err = Identity::load_or_create(&path).unwrap_err();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), [0xff, 0xfe, 0x00]);
    }
}
