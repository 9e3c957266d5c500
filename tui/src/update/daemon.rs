//! What the link to voiced reports, folded into the front-end core's mirror;
//! its news become this screen's notice line, a trust dialog or a scroll.

use voice_proto::pb::control::ConnectionState;
use voiced_client::command::Answer;
use voiced_client::link::Report;
use voiced_client::mirror::News;

use crate::action::Command;
use crate::model::{App, Modal, Refusal, RowKind};

pub(super) fn on_report(app: &mut App, report: Report<Answer>) -> Vec<Command> {
    match &report {
        Report::Up => app.notice = None,
        Report::Down { .. } => app.ptt.active = false,
        _ => {}
    }
    let applied = app.mirror.apply(report);
    for news in applied.news {
        on_news(app, news);
    }
    if app.selected.is_none() && app.mirror.state.is_some() {
        app.selected = Some(RowKind::Room(app.mirror.current_room()));
    }
    applied.commands
}

fn on_news(app: &mut App, news: News) {
    match news {
        News::Status { was } => {
            let now = app.mirror.connection();
            if now == ConnectionState::Connected {
                // Errors of earlier attempts are over.
                if was != ConnectionState::Connected {
                    app.notice = None;
                }
            } else if !app.mirror.status.last_error.is_empty() {
                app.notice = Some(app.mirror.status.last_error.clone());
            }
        }
        News::Chat { room } => {
            if room == app.mirror.current_room() && app.chat_scroll > 0 {
                // Keep the lines in view where they are while reading back.
                app.chat_scroll += 1;
            }
        }
        News::Error(message) | News::Device(message) | News::Network(message) => {
            app.notice = Some(message)
        }
        News::Failed { what, message } => {
            let call = app.asked.get(what);
            if call.is_some_and(voiced_client::refusal::is_fetch) {
                app.notice = Some(format!("{what} failed: {message}"));
                return;
            }
            // A refused action: its reasons a key away.
            let refusal = Refusal::new(&app.mirror, call, what, message);
            app.notice = Some(refusal.notice());
            app.refusal = Some(refusal);
        }
        News::TrustAsked => {
            if let Some(prompt) = app.mirror.trust.clone() {
                app.modal = Some(Modal::Trust(prompt));
            }
        }
        News::Shared { name, .. } => app.notice = Some(format!("{name} is shared")),
        News::Recording { name, on } => {
            app.notice = Some(voiced_client::mirror::recording_words(&name, on))
        }
        News::TransferFinished(t) => app.notice = Some(voiced_client::files::finished_words(&t)),
        // The chat pane shows it above the room's history lines.
        News::History(_) => {}
        News::UserConnected { .. }
        | News::UserJoinedYou { .. }
        | News::UserLeftYou { .. }
        | News::UserDisconnected { .. } => {}
    }
}
