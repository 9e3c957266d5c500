//! Room history from peers: the call that asks voiced for a room's earlier
//! chat (with its generous timeout), what a front end keeps of each fetch,
//! and the words every front end shows for it.

use std::fmt;
use std::time::Duration;

use voice_proto::pb::control::{FetchHistoryRequest, HistoryReply};

use crate::files::human_size;
use crate::link::Client;

/// How long a front end waits for a room's history: voiced asks the other
/// members, downloads their snapshot and checks it, which takes seconds.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// What the front ends offer (a button, a key): load the room's earlier chat.
pub const LOAD_EARLIER: &str = "Load earlier messages";

/// Shown while voiced fetches a room's history.
pub const LOADING: &str = "Loading earlier messages…";

/// The separator above the history lines of a room.
pub const EARLIER_MARKER: &str = "— earlier messages (history) —";

/// The separator after the history lines where live chat follows (the
/// command line, where no style tells them apart).
pub const EARLIER_END: &str = "— end of earlier messages —";

/// The `history` setting of voiced (`StatusReply.history`) that offers
/// nothing: front ends do not offer to load earlier messages.
pub const SETTING_OFF: &str = "off";

/// Asks voiced for the earlier chat of `room` (an id, a path or a name;
/// empty for the current room), waiting at most [`FETCH_TIMEOUT`].
pub async fn fetch(mut client: Client, room: String) -> Result<HistoryReply, tonic::Status> {
    let mut request = tonic::Request::new(FetchHistoryRequest { room });
    request.set_timeout(FETCH_TIMEOUT);
    match tokio::time::timeout(FETCH_TIMEOUT, client.fetch_history(request)).await {
        Ok(reply) => Ok(reply?.into_inner()),
        Err(_) => Err(tonic::Status::deadline_exceeded(format!(
            "no history came within {} s",
            FETCH_TIMEOUT.as_secs()
        ))),
    }
}

/// What a fetched history was, without its messages (those go to the chat
/// log): its size and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistorySummary {
    /// The room.
    pub room: u32,
    /// How many messages it held.
    pub messages: usize,
    /// The settled range of room sequence numbers.
    pub first_seq: u64,
    /// The last sequence number of the range.
    pub last_seq: u64,
    /// The snapshot's info hash (hex).
    pub info_hash: String,
    /// The snapshot's size in bytes.
    pub bytes: u64,
    /// Members who served it.
    pub seeders: u32,
    /// Peers it was downloaded from.
    pub peers: u32,
    /// From the request to the verified messages, in milliseconds.
    pub elapsed_ms: u32,
}

impl HistorySummary {
    /// The summary of a reply.
    pub fn of(reply: &HistoryReply) -> Self {
        Self {
            room: reply.room,
            messages: reply.messages.len(),
            first_seq: reply.first_seq,
            last_seq: reply.last_seq,
            info_hash: reply.info_hash.clone(),
            bytes: reply.bytes,
            seeders: reply.seeders,
            peers: reply.peers,
            elapsed_ms: reply.elapsed_ms,
        }
    }
}

/// One line for people: `200 earlier messages from 2 members (12.3 KiB)`.
impl fmt::Display for HistorySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = match self.messages {
            0 => "no earlier messages".to_owned(),
            1 => "1 earlier message".to_owned(),
            n => format!("{n} earlier messages"),
        };
        let members = if self.seeders == 1 {
            "member"
        } else {
            "members"
        };
        write!(
            f,
            "{count} from {} {members} ({})",
            self.seeders,
            human_size(self.bytes)
        )
    }
}

/// Where the history of a room stands, as this front end asked for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryFetch {
    /// Asked for; voiced is fetching it.
    Loading,
    /// Arrived (asked for here, or fetched by voiced on its own).
    Loaded(HistorySummary),
    /// voiced could not fetch it: why, in its words.
    Failed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_messages_members_and_bytes() {
        let mut s = HistorySummary {
            messages: 200,
            seeders: 2,
            bytes: 12_595,
            ..HistorySummary::default()
        };
        assert_eq!(
            s.to_string(),
            "200 earlier messages from 2 members (12.3 KiB)"
        );
        s.messages = 1;
        s.seeders = 1;
        s.bytes = 300;
        assert_eq!(s.to_string(), "1 earlier message from 1 member (300 B)");
        s.messages = 0;
        assert_eq!(s.to_string(), "no earlier messages from 1 member (300 B)");
    }
}
