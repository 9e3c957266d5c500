//! The front-end core: everything a front end needs of voiced, written once
//! for `voicectl`, `voice-tui` and `voice-gui` (and voiced itself, for the
//! socket rule). Kept cheap (tonic, tokio and `voice-proto`; no audio, no
//! QUIC) so a front end never links the daemon:
//! - the socket path rule and a gRPC client over it (this module, [`local`]);
//! - [`command`]: one command type with one `execute` over the control API;
//! - [`link`]: a link that follows voiced through restarts and makes the
//!   commands in order;
//! - [`mirror`]: one mirror of the daemon's reports (status, state with a
//!   resync that is asked for once, chat, trust prompts);
//! - [`trust`]: trust prompts as typed data (never read from text);
//! - [`owner`]: only this user at either end of the socket;
//! - [`text`]: text from other users made safe to show (escapes);
//! - [`history`]: a room's earlier chat fetched from its members;
//! - [`acl`]: a room's access rules with where each comes from, and roles;
//! - [`refusal`]: the permission a command needs and where, and what the
//!   mirrored rules say when it is refused;
//! - [`names`], [`status`], [`tree`], [`chat`], [`files`]: the words,
//!   readings, room rows, chat log and transfer readings every front end
//!   shows alike.
//!
//! The socket is `$VOICED_SOCKET` when set; else `voiced.sock` in
//! `$XDG_RUNTIME_DIR/voice`, or in `/tmp/voice-$UID` when the runtime
//! directory is not set. On Windows it is the named pipe
//! `\\.\pipe\voiced-USERNAME` (see [`local`]).

use std::path::{Path, PathBuf};

pub mod acl;
pub mod chat;
pub mod command;
pub mod files;
pub mod history;
pub mod link;
pub mod local;
pub mod mirror;
pub mod names;
pub mod owner;
pub mod refusal;
pub mod status;
pub mod text;
pub mod tree;
pub mod trust;

use tonic::transport::{Channel, Endpoint};
use voice_proto::pb::control::voiced_client::VoicedClient;

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
    socket_in(&runtime_dir_from(runtime_dir, uid))
}

/// The default socket of a daemon whose runtime directory is `runtime_dir`:
/// `voiced.sock` in it.
#[cfg(not(windows))]
pub fn socket_in(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join(SOCKET_NAME)
}

/// The default socket of a daemon whose runtime directory is `runtime_dir`:
/// on Windows the named pipe `\\.\pipe\voiced-USERNAME` (pipes live in
/// their own namespace, not in a directory).
#[cfg(windows)]
pub fn socket_in(_runtime_dir: &Path) -> PathBuf {
    PathBuf::from(pipe_path(&std::env::var("USERNAME").unwrap_or_default()))
}

/// The named pipe path for the Windows user `user`: `\\.\pipe\voiced-USER`,
/// with anything but ASCII letters, digits, `.`, `_` and `-` replaced by `_`.
pub fn pipe_path(user: &str) -> String {
    let user: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let user = if user.is_empty() { "user" } else { &user };
    format!(r"\\.\pipe\voiced-{user}")
}

/// voiced's runtime directory: `$XDG_RUNTIME_DIR/voice`, or `/tmp/voice-$UID`
/// when `XDG_RUNTIME_DIR` is not set or not absolute.
pub fn runtime_dir() -> PathBuf {
    runtime_dir_from(
        std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from),
        current_uid(),
    )
}

fn runtime_dir_from(runtime_dir: Option<PathBuf>, uid: u32) -> PathBuf {
    match runtime_dir.filter(|d| d.is_absolute()) {
        Some(dir) => dir.join(APP),
        None => std::env::temp_dir().join(format!("{APP}-{uid}")),
    }
}

/// The real user id of this process: the owner of `/proc/self` (no `unsafe`).
fn current_uid() -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(Path::new("/proc/self")) {
            return meta.uid();
        }
    }
    0
}

/// How to start the daemon, for "not running" messages.
#[cfg(not(windows))]
pub const HOW_TO_START: &str = "start it with `voiced &` or `systemctl --user start voiced`";
/// How to start the daemon, for "not running" messages.
#[cfg(windows)]
pub const HOW_TO_START: &str = "start it with `start /b voiced` (or from the Startup folder)";

/// The daemon could not be reached (or what answers is refused: see
/// [`owner`]).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.describe())]
pub struct NotRunning {
    /// The socket that was tried.
    pub path: PathBuf,
    /// Why the connection failed.
    #[source]
    pub source: tonic::transport::Error,
}

impl NotRunning {
    /// The refusal of a socket that another user serves, if that is why.
    pub fn refused(&self) -> Option<&std::io::Error> {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&self.source);
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::PermissionDenied
            {
                return Some(io);
            }
            cause = e.source();
        }
        None
    }

    fn describe(&self) -> String {
        match self.refused() {
            Some(refusal) => format!("cannot use voiced's socket: {refusal}"),
            None => format!(
                "voiced is not running (no answer on {}): {HOW_TO_START}",
                self.path.display()
            ),
        }
    }
}

/// A gRPC client of the daemon listening on `path`.
pub async fn connect(path: &Path) -> Result<VoicedClient<Channel>, NotRunning> {
    let owned = path.to_path_buf();
    let endpoint = Endpoint::from_static("http://[::]:50051");
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = owned.clone();
            async move {
                let stream = local::connect(&path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|source| NotRunning {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(VoicedClient::new(channel)
        .max_decoding_message_size(voice_proto::frame::SERVER_MAX_FRAME * 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_names_carry_a_safe_user_name() {
        assert_eq!(pipe_path("ada"), r"\\.\pipe\voiced-ada");
        assert_eq!(
            pipe_path("Ada Lovelace\\x"),
            r"\\.\pipe\voiced-Ada_Lovelace_x"
        );
        assert_eq!(pipe_path(""), r"\\.\pipe\voiced-user");
        assert_eq!(pipe_path("é"), r"\\.\pipe\voiced-_");
    }

    #[cfg(not(windows))]
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
