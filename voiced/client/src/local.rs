//! The local socket itself: a Unix domain socket file, or on Windows a named
//! pipe (`\\.\pipe\NAME`). Both are reached through `interprocess`, so voiced
//! and every front end run the same code on either system; a socket is always
//! named by a path (`--socket PATH`, `$VOICED_SOCKET`).

use std::io;
use std::path::{Path, PathBuf};

use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, Name, ToFsName};

/// What a good socket path looks like on this system, for error messages.
#[cfg(windows)]
pub const PATH_HINT: &str = r"give a named pipe such as \\.\pipe\voiced";
/// What a good socket path looks like on this system, for error messages.
#[cfg(not(windows))]
pub const PATH_HINT: &str = "give a file path such as /run/user/1000/voice/voiced.sock";

/// The local socket name behind `path`: the file itself on Unix, the named
/// pipe on Windows (where only `\\.\pipe\…` paths name one).
pub fn name(path: &Path) -> io::Result<Name<'_>> {
    path.to_fs_name::<GenericFilePath>().map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("not a local socket name ({e}); {PATH_HINT}"),
        )
    })
}

/// Parses a `--socket` argument (for clap's `value_parser`): a path that
/// names a local socket on this system, so a bad one is a usage error that
/// says what a good one looks like.
pub fn socket_arg(arg: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(arg);
    name(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Opens a connection to the local socket at `path`; on Unix only to a
/// voiced of this user (the uid the kernel reports for the listener, see
/// [`crate::owner`]): a socket served by another user is refused with an
/// error of kind `PermissionDenied` that says so.
pub async fn connect(path: &Path) -> io::Result<Stream> {
    let stream = Stream::connect(name(path)?).await?;
    #[cfg(unix)]
    {
        use interprocess::local_socket::traits::StreamCommon as _;
        let peer = stream.peer_creds().ok().and_then(|c| c.euid());
        crate::owner::check_peer(peer, crate::owner::my_uid(), path, "voiced")?;
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_file_path_names_a_unix_socket() {
        assert!(name(Path::new("/tmp/voice-1/voiced.sock")).is_ok());
        assert_eq!(
            socket_arg("/tmp/voice-1/voiced.sock"),
            Ok(PathBuf::from("/tmp/voice-1/voiced.sock"))
        );
    }

    #[cfg(windows)]
    #[test]
    fn only_a_pipe_path_names_a_windows_socket() {
        assert!(socket_arg(r"\\.\pipe\voiced-ada").is_ok());
        let err = socket_arg(r"C:\voiced.sock").unwrap_err();
        assert!(err.contains(PATH_HINT), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn connecting_to_nothing_is_not_found() {
        let dir = std::env::temp_dir().join(format!("voiced-client-none-{}", std::process::id()));
        let err = connect(&dir.join("voiced.sock")).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
