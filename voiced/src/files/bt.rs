//! The embedded librqbit session, on a runtime of its own: librqbit spawns
//! its tasks on whatever runtime polls it and hashes with `block_in_place`,
//! so every call is spawned on the "voiced-bt" runtime and voice never
//! waits for a disk or a hash.
//!
//! DHT, local service discovery, UPnP and outside trackers are off, and
//! every torrent is private (so no PEX either): peers come only from the
//! server's tracker, through [`LoopbackTracker`]. Every outgoing peer
//! connection goes through the loopback SOCKS5 endpoint ([`Socks`]), which
//! connects directly or through the server's relay.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Arc;

use librqbit::api::TorrentIdOrHash;
use librqbit::dht::Id20;
use librqbit::{
    AddTorrent, AddTorrentOptions, AddTorrentResponse, ConnectionOptions, ListenerMode,
    ListenerOptions, ManagedTorrent, PeerConnectionOptions, Session, SessionOptions,
};
use tokio_util::sync::CancellationToken;

use super::relay::{Opener, Relay, RelayMode};
use super::socks::{Routes, Socks};
use super::torrent;
use super::tracker::{Forward, LoopbackTracker};

/// Chunk requests outstanding per peer for [`Bt::add_spread`]: two keep a
/// peer busy on loopback and leave the rest of a small torrent to others.
pub const SPREAD_WINDOW: usize = 2;

/// A torrent in the session.
pub type Handle = Arc<ManagedTorrent>;

/// The BitTorrent side of the daemon.
pub struct Bt {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    session: Arc<Session>,
    tracker: LoopbackTracker,
    cancel: CancellationToken,
    port: u16,
}

impl std::fmt::Debug for Bt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bt")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

impl Bt {
    /// Starts the runtime, the loopback tracker, the SOCKS5 endpoint and
    /// the session listening on TCP `port` (0 = any) of every address;
    /// `upload_limit` in bytes per second (0 = none).
    pub async fn start(
        download_root: &Path,
        port: u16,
        upload_limit: u32,
        forward: Forward,
        relay: Arc<Relay>,
        opener: Opener,
    ) -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("voiced-bt")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the BitTorrent runtime: {e}"))?;
        let handle = runtime.handle().clone();
        let cancel = CancellationToken::new();
        let tracker = handle
            .spawn(LoopbackTracker::start(forward, cancel.child_token()))
            .await
            .map_err(err)?
            .map_err(|e| format!("cannot start the loopback tracker: {e}"))?;
        // Without the relay librqbit dials peers itself (no hop to copy
        // through).
        let proxy = if relay.mode() == RelayMode::Never {
            None
        } else {
            let routes = Routes {
                relay,
                opener,
                tracker: tracker.addr(),
            };
            let socks = handle
                .spawn(Socks::start(routes, cancel.child_token()))
                .await
                .map_err(err)?
                .map_err(|e| format!("cannot start the peer proxy: {e}"))?;
            Some(socks.url())
        };
        let mut last = String::new();
        // Dual-stack first (peers may reach us over IPv6), then IPv4 only.
        for ip in [
            std::net::IpAddr::from(Ipv6Addr::UNSPECIFIED),
            std::net::IpAddr::from(Ipv4Addr::UNSPECIFIED),
        ] {
            let options = session_options(
                SocketAddr::new(ip, port),
                upload_limit,
                proxy.clone(),
                &cancel,
            );
            let root = download_root.to_path_buf();
            match handle
                .spawn(Session::new_with_opts(root, options))
                .await
                .map_err(err)?
            {
                Ok(session) => {
                    let port = session
                        .listen_addr()
                        .map(|a| a.port())
                        .ok_or("the BitTorrent listener has no port")?;
                    tracing::info!(port, "BitTorrent session started");
                    return Ok(Self {
                        runtime: Some(runtime),
                        handle,
                        session,
                        tracker,
                        cancel,
                        port,
                    });
                }
                Err(e) => last = err(e),
            }
        }
        cancel.cancel();
        runtime.shutdown_background();
        Err(format!(
            "cannot start BitTorrent on port {port}: {last}; set bt_port in config.toml to a free port"
        ))
    }

    /// The TCP port peers reach us on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs a task on the BitTorrent runtime (relayed connections, so their
    /// copying never competes with the daemon's own tasks).
    pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        self.handle.spawn(fut);
    }

    async fn on<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, String> {
        self.handle
            .spawn(fut)
            .await
            .map_err(|e| format!("the BitTorrent runtime stopped: {e}"))
    }

    /// Adds a torrent whose file is (or will be) in `folder`; `peers` to
    /// start with. Seeds at once when the data is complete.
    pub async fn add(
        &self,
        info: &[u8],
        folder: &Path,
        peers: Vec<SocketAddr>,
        overwrite: bool,
    ) -> Result<Handle, String> {
        self.add_with(info, folder, peers, overwrite, None).await
    }

    /// Adds a small torrent to download with at most [`SPREAD_WINDOW`]
    /// requests outstanding per peer, so that its pieces come from every
    /// seeder rather than all from the first one that answers (librqbit
    /// otherwise queues up to 128 chunks on one peer).
    pub async fn add_spread(
        &self,
        info: &[u8],
        folder: &Path,
        peers: Vec<SocketAddr>,
    ) -> Result<Handle, String> {
        let opts = PeerConnectionOptions {
            max_request_window: Some(SPREAD_WINDOW),
            ..PeerConnectionOptions::default()
        };
        self.add_with(info, folder, peers, false, Some(opts)).await
    }

    async fn add_with(
        &self,
        info: &[u8],
        folder: &Path,
        peers: Vec<SocketAddr>,
        overwrite: bool,
        peer_opts: Option<PeerConnectionOptions>,
    ) -> Result<Handle, String> {
        let hash = voice_proto::torrent::info_hash(info);
        let bytes = torrent::torrent_file(info);
        let options = AddTorrentOptions {
            overwrite,
            output_folder: Some(folder.to_string_lossy().into_owned()),
            trackers: Some(vec![self.tracker.url(&hash)]),
            initial_peers: (!peers.is_empty()).then_some(peers),
            peer_opts,
            ..AddTorrentOptions::default()
        };
        let session = self.session.clone();
        let added = self
            .on(async move {
                session
                    .add_torrent(AddTorrent::from_bytes(bytes), Some(options))
                    .await
            })
            .await?
            .map_err(|e| format!("cannot add the torrent: {e:#}"))?;
        match added {
            AddTorrentResponse::Added(_, h) | AddTorrentResponse::AlreadyManaged(_, h) => Ok(h),
            AddTorrentResponse::ListOnly(_) => Err("the torrent was only listed".to_owned()),
        }
    }

    /// Removes a torrent, with its files when `delete_files`.
    pub async fn remove(&self, info_hash: [u8; 20], delete_files: bool) {
        let session = self.session.clone();
        let id = TorrentIdOrHash::from(Id20::new(info_hash));
        match self
            .on(async move { session.delete(id, delete_files).await })
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "removing a torrent"),
            Err(e) => tracing::debug!(error = %e, "removing a torrent"),
        }
    }

    /// Stops every torrent and the runtime (its threads end in the
    /// background; sockets close now).
    pub async fn stop(mut self) {
        let session = self.session.clone();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(3),
            self.on(async move { session.stop().await }),
        )
        .await;
        self.cancel.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Bt {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn session_options(
    listen: SocketAddr,
    upload_limit: u32,
    proxy: Option<String>,
    cancel: &CancellationToken,
) -> SessionOptions {
    let mut options = SessionOptions {
        dht: None,
        disable_local_service_discovery: true,
        persistence: None,
        fastresume: false,
        disable_trackers: false,
        listen: Some(ListenerOptions {
            mode: ListenerMode::TcpOnly,
            listen_addr: listen,
            enable_upnp_port_forwarding: false,
            ipv4_only: listen.is_ipv4(),
            ..ListenerOptions::default()
        }),
        connect: Some(ConnectionOptions {
            enable_tcp: true,
            proxy_url: proxy,
            peer_opts: None,
        }),
        cancellation_token: Some(cancel.child_token()),
        concurrent_init_limit: Some(1),
        runtime_worker_threads: Some(1),
        ipv4_only: listen.is_ipv4(),
        ..SessionOptions::default()
    };
    options.ratelimits.upload_bps = NonZeroU32::new(upload_limit);
    options
}
