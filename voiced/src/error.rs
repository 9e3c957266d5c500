//! Errors of the client engine, each with what the user can do about it.
//! They become gRPC statuses at the control API.

/// A failed engine operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No server connection.
    #[error("not connected; run `voicectl connect HOST`")]
    NotConnected,
    /// A room, user, bookmark... that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Input that is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// The server refused for lack of permission.
    #[error("{0}")]
    Denied(String),
    /// Something failed; the message says what.
    #[error("{0}")]
    Failed(String),
    /// Not available in this build or on this system.
    #[error("{0}")]
    Unavailable(String),
    /// The server's certificate is unknown or changed: the user must decide
    /// whether to trust it. The prompt travels as data (gRPC error details),
    /// so a front end never reads it from the message.
    #[error("{}", .0.message)]
    Untrusted(Box<Untrusted>),
}

/// A connection refused for the server's certificate, and the decision it
/// asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// What to tell the user.
    pub message: String,
    /// The prompt a front end shows for it.
    pub prompt: voice_proto::pb::control::TrustPrompt,
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::NotConnected => tonic::Status::failed_precondition(msg),
            Error::NotFound(_) => tonic::Status::not_found(msg),
            Error::Invalid(_) => tonic::Status::invalid_argument(msg),
            Error::Denied(_) => tonic::Status::permission_denied(msg),
            Error::Failed(_) => tonic::Status::aborted(msg),
            Error::Unavailable(_) => tonic::Status::unimplemented(msg),
            Error::Untrusted(u) => {
                voiced_client::trust::refusal(tonic::Code::Aborted, msg, &u.prompt)
            }
        }
    }
}
