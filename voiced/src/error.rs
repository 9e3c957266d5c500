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
        }
    }
}
