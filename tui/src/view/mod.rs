//! The view: `impl Widget for &App`, a pure function of the model.

pub mod acl;
mod audio;
mod chat;
mod files;
pub mod layout;
mod offline;
mod overlay;
mod roles;
mod status;
mod tree;
mod why;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use crate::model::{App, DaemonLink, Pane};

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if self.mirror.daemon != DaemonLink::Up {
            offline::render(self, area, buf);
            return;
        }
        let panes = layout::areas(area);
        tree::render(self, panes.tree, buf);
        match self.pane {
            Pane::Chat => chat::render(self, panes.chat, buf),
            Pane::Files => files::render(self, panes.chat, buf),
        }
        chat::render_input(self, panes.input, buf);
        status::render(self, panes.status, buf);
        status::render_hint(self, panes.hint, buf);
        if let Some(modal) = &self.modal {
            overlay::render(self, modal, area, buf);
        }
    }
}

/// `HH:MM` (UTC) of a Unix time in milliseconds.
pub fn clock(time_ms: u64) -> String {
    let minutes = (time_ms / 60_000) % (24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}
