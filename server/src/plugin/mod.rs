//! Server plugins over TCP (issue 23): the optional plugin listener
//! (`plugin_listen`, TLS, gRPC `Admin`) and the tokens that open it, each
//! with scopes (`events`, `chat`, `moderate`, `admin`). Tokens are managed
//! on the local admin socket only (`voice-server admin plugin-token`).

pub mod auth;
pub mod listener;
pub mod revocable;
pub mod scope;
pub mod slots;
pub mod stream;
pub mod tokens;
mod tokens_service;

pub use listener::PluginListener;
pub use tokens::PluginTokens;
pub use tokens_service::PluginTokensService;
