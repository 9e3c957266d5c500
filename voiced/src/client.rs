//! What a front end needs to reach voiced: the socket path and a gRPC
//! client over it. Kept cheap (tonic and tokio only) so every front end can
//! depend on it instead of re-implementing it.

use std::path::{Path, PathBuf};

use tonic::transport::{Channel, Endpoint};
use voice_proto::pb::control::voiced_client::VoicedClient;

pub use crate::paths::socket_path;

/// How to start the daemon, for "not running" messages.
pub const HOW_TO_START: &str = "start it with `voiced &` or `systemctl --user start voiced`";

/// The daemon could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("voiced is not running (no answer on {}): {HOW_TO_START}", path.display())]
pub struct NotRunning {
    /// The socket that was tried.
    pub path: PathBuf,
    /// Why the connection failed.
    #[source]
    pub source: tonic::transport::Error,
}

/// A gRPC client of the daemon listening on `path`.
pub async fn connect(path: &Path) -> Result<VoicedClient<Channel>, NotRunning> {
    let owned = path.to_path_buf();
    let endpoint = Endpoint::from_static("http://[::]:50051");
    let channel = endpoint
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = owned.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
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
