//! `voice-server`: the authenticated QUIC relay of the voice chat system.
//!
//! - [`server::Server`] binds the endpoint and runs until a shutdown future;
//! - [`hub::Hub`] is the authority over the shared state;
//! - [`conn`] serves one client connection (login, control, chat, voice);
//! - [`tracker::Tracker`] keeps the BitTorrent swarms, in memory only;
//! - [`store::Store`] persists users, rooms, roles and bans in sled;
//! - [`admin`] is the gRPC admin socket and its client;
//! - [`plugin`] is the plugin TCP listener and its tokens;
//! - [`quic`] is the QUIC I/O: loops on quinn-proto, one per core.
//!
//! Linux only: the QUIC loops send with `sendmmsg` and share their port
//! through an `SO_REUSEPORT` group steered by a BPF program.

#[cfg(not(target_os = "linux"))]
compile_error!(
    "voice-server runs on Linux: its QUIC loops send with sendmmsg and share their port through SO_REUSEPORT steered by BPF"
);

pub mod acme;
pub mod address;
pub mod admin;
pub mod cert_reload;
pub mod cid;
pub mod cli;
pub mod config;
pub mod conn;
pub mod hub;
mod legacy_acl;
mod legacy_names;
pub mod pending;
pub mod plugin;
pub mod quic;
pub mod relay;
pub mod running;
pub mod server;
pub mod store;
pub mod throttle;
pub mod tls;
pub mod tracker;
pub mod udp;

use std::sync::Arc;

use cert_reload::FileCert;
pub use config::Config;
pub use running::Running;
pub use server::{Banner, Server, StartError};

/// Runs the server as the binary does: prints the banner (one item a line)
/// on stdout through `print`, then serves until SIGINT or SIGTERM; SIGHUP
/// reloads the certificate files.
pub async fn run(config: Config, print: impl Fn(&str)) -> Result<(), StartError> {
    let server = Server::bind(config).await?;
    for line in server.banner().lines() {
        print(&line);
    }
    let reload = reload_on_sighup(server.file_cert());
    let result = server.run(shutdown_signal()).await;
    reload.abort();
    result
}

/// Reloads `cert` on every SIGHUP (logs only in `acme` mode, which renews
/// by itself).
fn reload_on_sighup(cert: Option<Arc<FileCert>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; certificate reload on SIGHUP is off");
                return;
            };
            while hup.recv().await.is_some() {
                match &cert {
                    Some(cert) => cert.reload_logged("SIGHUP"),
                    None => tracing::info!("SIGHUP: acme certificates renew by themselves"),
                }
            }
        }
        #[cfg(not(unix))]
        let _ = cert;
    })
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
