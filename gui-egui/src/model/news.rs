//! The mirror's news in the window's words.

use voice_proto::pb::control::{ConnectionState, TransferState};
use voiced_client::mirror::{Mirror, News};

use super::Level;

/// The notification a piece of news makes, if any (chat shows in the chat
/// panel, a trust prompt in its own dialog).
pub fn notification(mirror: &Mirror, news: News) -> Option<(Level, String)> {
    let info = |text: String| Some((Level::Info, text));
    match news {
        News::Status { was } => (mirror.connection() == ConnectionState::Connected
            && was != ConnectionState::Connected)
            .then(|| {
                (
                    Level::Info,
                    format!("connected to {}", mirror.status.server),
                )
            }),
        News::UserConnected { name, room } => {
            info(format!("{name} connected ({})", mirror.room_path(room)))
        }
        News::UserJoinedYou { name } => info(format!("{name} joined your room")),
        News::UserLeftYou { name, room } => {
            info(format!("{name} left for {}", mirror.room_path(room)))
        }
        News::UserDisconnected { name } => info(format!("{name} disconnected")),
        News::Recording { name, on } => info(voiced_client::mirror::recording_words(&name, on)),
        News::Device(message) | News::Network(message) => info(message),
        News::Error(message) => Some((Level::Error, message)),
        News::Failed { what, message } => Some((Level::Error, format!("{what} failed: {message}"))),
        News::Shared { name, .. } => info(format!("{name} is shared: its link is in the chat")),
        News::TransferFinished(t) => {
            let level = if voiced_client::files::transfer_state(&t) == TransferState::Failed {
                Level::Error
            } else {
                Level::Info
            };
            Some((level, voiced_client::files::finished_words(&t)))
        }
        News::History(summary) => info(format!("{summary} in {}", mirror.room_path(summary.room))),
        News::Chat { .. } | News::TrustAsked => None,
    }
}

#[cfg(test)]
mod tests {
    use voice_proto::pb::control::StatusReply;

    use super::*;

    #[test]
    fn news_in_words() {
        let mut mirror = Mirror::new();
        let name = || "bob".to_owned();
        let word = |m: &Mirror, n| notification(m, n).map(|(_, t)| t);
        assert_eq!(
            word(
                &mirror,
                News::UserConnected {
                    name: name(),
                    room: 3
                }
            )
            .as_deref(),
            Some("bob connected (#3)")
        );
        assert_eq!(
            word(
                &mirror,
                News::UserLeftYou {
                    name: name(),
                    room: 3
                }
            )
            .as_deref(),
            Some("bob left for #3")
        );
        assert_eq!(word(&mirror, News::Chat { room: 0 }), None);
        mirror.status = StatusReply {
            state: ConnectionState::Connected as i32,
            server: "h:1".into(),
            ..StatusReply::default()
        };
        let was = ConnectionState::Connecting;
        assert_eq!(
            word(&mirror, News::Status { was }).as_deref(),
            Some("connected to h:1")
        );
        let was = ConnectionState::Connected;
        assert_eq!(word(&mirror, News::Status { was }), None);
        let failed = News::Failed {
            what: "join",
            message: "no".into(),
        };
        assert_eq!(
            notification(&mirror, failed),
            Some((Level::Error, "join failed: no".into()))
        );
    }
}
