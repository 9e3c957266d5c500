//! Where voiced listens: the same rule as the daemon and `voicectl`.
//!
//! `$VOICED_SOCKET` when set; else `voiced.sock` in `$XDG_RUNTIME_DIR/voice`,
//! or in `/tmp/voice-$UID` when the runtime directory is not set. This copies
//! voiced's `client::socket_path` rule; switch to the shared helper once it
//! lives in a crate that front ends can depend on cheaply.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The socket file name inside the runtime directory.
pub const SOCKET_NAME: &str = "voiced.sock";
/// The application directory name inside the runtime directory.
pub const APP: &str = "voice";
/// Environment variable that overrides the socket path for every front end.
pub const SOCKET_ENV: &str = "VOICED_SOCKET";

/// The default path of voiced's control socket for this user.
pub fn socket_path() -> PathBuf {
    socket_path_from(
        std::env::var_os(SOCKET_ENV).map(PathBuf::from),
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        current_uid(),
    )
}

/// The rule behind [`socket_path`], with its inputs given.
pub fn socket_path_from(
    explicit: Option<PathBuf>,
    runtime_dir: Option<PathBuf>,
    uid: u32,
) -> PathBuf {
    if let Some(path) = explicit.filter(|p| !p.as_os_str().is_empty()) {
        return path;
    }
    match runtime_dir.filter(|d| d.is_absolute()) {
        Some(dir) => dir.join(APP).join(SOCKET_NAME),
        None => std::env::temp_dir()
            .join(format!("{APP}-{uid}"))
            .join(SOCKET_NAME),
    }
}

/// The real user id of this process: the owner of `/proc/self` (no `unsafe`).
fn current_uid() -> u32 {
    std::fs::metadata(Path::new("/proc/self")).map_or(0, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_then_runtime_dir_then_tmp_with_the_uid() {
        assert_eq!(
            socket_path_from(
                Some("/x/s.sock".into()),
                Some("/run/user/1000".into()),
                1000
            ),
            PathBuf::from("/x/s.sock")
        );
        assert_eq!(
            socket_path_from(None, Some("/run/user/1000".into()), 1000),
            PathBuf::from("/run/user/1000/voice/voiced.sock")
        );
        assert_eq!(
            socket_path_from(Some(PathBuf::new()), None, 1000),
            std::env::temp_dir().join("voice-1000/voiced.sock")
        );
        assert_eq!(
            socket_path_from(None, Some("relative".into()), 7),
            std::env::temp_dir().join("voice-7/voiced.sock")
        );
    }
}
