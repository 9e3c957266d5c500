//! `voice-server`: the authenticated QUIC relay of the voice chat system.
//!
//! - [`server::Server`] binds the endpoint and runs until a shutdown future;
//! - [`hub::Hub`] is the authority over the shared state;
//! - [`conn`] serves one client connection (login, control, chat, voice);
//! - [`store::Store`] persists users, rooms, roles and bans in sled;
//! - [`admin`] is the gRPC admin socket and its client.

pub mod admin;
pub mod cli;
pub mod config;
pub mod conn;
pub mod hub;
pub mod server;
pub mod store;
pub mod throttle;
pub mod tls;

pub use config::Config;
pub use server::{Banner, Server, StartError};

/// Runs the server as the binary does: prints the banner (one item a line)
/// on stdout through `print`, then serves until SIGINT or SIGTERM.
pub async fn run(config: Config, print: impl Fn(&str)) -> Result<(), StartError> {
    let server = Server::bind(config).await?;
    for line in server.banner().lines() {
        print(&line);
    }
    server.run(shutdown_signal()).await
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
