//! Where voiced listens: the shared rule of `voiced-client`.

pub use voiced_client::{socket_path, socket_path_from};
