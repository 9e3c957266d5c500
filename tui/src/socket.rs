//! Where voiced listens: the same rule as the daemon and `voicectl`.
//!
//! `$XDG_RUNTIME_DIR/voiced.sock`, or `/tmp/voiced-$UID/voiced.sock` when the
//! runtime directory is not set. (To be replaced by the shared helper once the
//! daemon's crate provides one.)

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The socket file name inside the runtime directory.
pub const SOCKET_NAME: &str = "voiced.sock";

/// The default path of voiced's control socket for this user.
pub fn socket_path() -> PathBuf {
    socket_path_from(
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        current_uid(),
    )
}

/// The rule behind [`socket_path`], with its inputs given.
pub fn socket_path_from(runtime_dir: Option<PathBuf>, uid: u32) -> PathBuf {
    match runtime_dir.filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.join(SOCKET_NAME),
        None => PathBuf::from(format!("/tmp/voiced-{uid}")).join(SOCKET_NAME),
    }
}

/// The real user id of this process, read from `/proc/self` (no `unsafe`).
fn current_uid() -> u32 {
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_dir_wins_and_fallback_has_the_uid() {
        assert_eq!(
            socket_path_from(Some("/run/user/1000".into()), 1000),
            PathBuf::from("/run/user/1000/voiced.sock")
        );
        assert_eq!(
            socket_path_from(None, 1000),
            PathBuf::from("/tmp/voiced-1000/voiced.sock")
        );
        assert_eq!(
            socket_path_from(Some(PathBuf::new()), 7),
            PathBuf::from("/tmp/voiced-7/voiced.sock")
        );
    }
}
