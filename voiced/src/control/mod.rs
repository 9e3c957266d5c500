//! The gRPC control API (`control.proto`) on a local socket.
//!
//! Unix sockets through tokio's `UnixListener` (cfg(unix)); the Windows
//! named pipe through `interprocess` named in the design is not done yet.

mod service;
pub mod socket;
mod until;

pub use service::ControlService;
