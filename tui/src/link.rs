//! The background task that talks to voiced: the front-end core's link
//! (`voiced_client::link`) making this screen's calls, its reports turned
//! into actions.

use std::path::PathBuf;

use tokio::sync::mpsc;
use voice_proto::pb::control::WatchRequest;

use crate::action::{Action, Command};

pub use voiced_client::link::{Client, RETRY};

/// Runs until `actions` or `calls` closes: keeps a link to voiced at
/// `socket`, sending what it reports (up, down, every event, the answers and
/// failures of `calls`) as [`Action::Link`].
pub async fn run_link(
    socket: PathBuf,
    actions: mpsc::UnboundedSender<Action>,
    calls: mpsc::UnboundedReceiver<Command>,
) {
    let report = move |report| actions.send(Action::Link(report)).is_ok();
    voiced_client::link::run_link(socket, WatchRequest { levels: true }, report, calls).await;
}
