//! A live, logged-in connection: its streams, the requests waiting for an
//! answer, and the tasks that read what the server sends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;
use voice_proto::pb::wire::{
    Accepted, BanList, Explanation, HistoryFound, Rejected, TorrentInfo, TrackerPeers,
    TrackerScrapeReply, client_msg,
};

use crate::connection::frames::{self, StreamError};

/// The server's answer to a request.
#[derive(Debug)]
pub enum Reply {
    /// A proposal was applied.
    Accepted(Accepted),
    /// A proposal was refused.
    Rejected(Rejected),
    /// An explanation.
    Explain(Explanation),
    /// A request failed.
    Failed(String),
    /// A torrent's info dictionary.
    TorrentInfo(TorrentInfo),
    /// Peers of a swarm.
    Peers(TrackerPeers),
    /// Seeders and leechers of a room's swarms.
    Scrape(TrackerScrapeReply),
    /// Members serve a room's history.
    History(HistoryFound),
    /// The bans in force.
    Bans(BanList),
}

/// One logged-in connection.
pub struct Link {
    /// The QUIC connection.
    pub conn: quinn::Connection,
    /// Our session id on the server.
    pub session_id: u32,
    /// Longest chat message the server accepts (0 = unknown).
    pub max_message_len: u32,
    /// Largest file the server lets us share (0 = unknown).
    pub max_file_size: u64,
    control_tx: tokio::sync::Mutex<quinn::SendStream>,
    chat_tx: tokio::sync::Mutex<quinn::SendStream>,
    /// Requests waiting for their answer; `None` once the connection is
    /// gone (a request made then fails at once).
    pending: Mutex<Option<HashMap<u64, oneshot::Sender<Reply>>>>,
    next_id: AtomicU64,
    _endpoint: quinn::Endpoint,
}

impl Link {
    /// Wraps the streams of a dialed connection.
    pub fn new(
        conn: quinn::Connection,
        session_id: u32,
        max_message_len: u32,
        max_file_size: u64,
        control_tx: quinn::SendStream,
        chat_tx: quinn::SendStream,
        endpoint: quinn::Endpoint,
    ) -> Self {
        Self {
            conn,
            session_id,
            max_message_len,
            max_file_size,
            control_tx: tokio::sync::Mutex::new(control_tx),
            chat_tx: tokio::sync::Mutex::new(chat_tx),
            pending: Mutex::new(Some(HashMap::new())),
            next_id: AtomicU64::new(1),
            _endpoint: endpoint,
        }
    }

    /// A fresh request id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a request as pending and returns where its reply will
    /// arrive (through [`Link::resolve`]).
    pub fn register_request(&self, id: u64) -> oneshot::Receiver<Reply> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock()
            && let Some(p) = p.as_mut()
        {
            p.insert(id, tx);
        }
        rx
    }

    /// Hands a reply to whoever waits for it.
    pub fn resolve(&self, id: u64, reply: Reply) {
        let waiter = self
            .pending
            .lock()
            .ok()
            .and_then(|mut p| p.as_mut()?.remove(&id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(reply);
            }
            None => tracing::debug!(id, "reply to no pending request"),
        }
    }

    /// Fails every request still waiting for an answer (the connection is
    /// gone: no answer will come, and a waiter must not hold on until its
    /// timeout, keeping the next proposal waiting behind it).
    pub fn fail_pending(&self) {
        if let Ok(mut p) = self.pending.lock() {
            *p = None;
        }
    }

    /// Forgets a request (timed out).
    pub fn forget(&self, id: u64) {
        if let Ok(mut p) = self.pending.lock()
            && let Some(p) = p.as_mut()
        {
            p.remove(&id);
        }
    }

    /// Sends on the control stream.
    pub async fn send_control(&self, msg: client_msg::Msg) -> Result<(), StreamError> {
        let mut tx = self.control_tx.lock().await;
        frames::write(&mut tx, msg).await
    }

    /// Sends on the chat stream.
    pub async fn send_chat(&self, msg: client_msg::Msg) -> Result<(), StreamError> {
        let mut tx = self.chat_tx.lock().await;
        frames::write(&mut tx, msg).await
    }
}
