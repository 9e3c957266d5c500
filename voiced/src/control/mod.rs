//! The gRPC control API (`control.proto`) on a local socket.
//!
//! A Unix domain socket, or a named pipe on Windows, both through
//! `interprocess` (see [`socket`]).

mod service;
pub mod socket;
mod until;

pub use service::ControlService;
