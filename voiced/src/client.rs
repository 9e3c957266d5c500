//! What a front end needs to reach voiced (re-exported from `voiced-client`).

pub use voiced_client::{HOW_TO_START, NotRunning, connect, local, socket_path};
