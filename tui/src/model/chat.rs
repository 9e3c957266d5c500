//! The chat of every room: the shared `voiced_client::chat::ChatLog`.

pub use voiced_client::chat::ChatLog;
