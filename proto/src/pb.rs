//! Generated protobuf messages and gRPC services (from `proto/*.proto`).
#![allow(missing_docs, clippy::all, clippy::pedantic, rust_2018_idioms)]

/// Client ↔ server messages and the shared state types.
pub mod wire {
    tonic::include_proto!("voice.wire");
}

/// Front end ↔ voiced gRPC service.
pub mod control {
    tonic::include_proto!("voice.control");
}

/// Operator ↔ server gRPC service.
pub mod admin {
    tonic::include_proto!("voice.admin");
}
