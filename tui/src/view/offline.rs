//! The screen shown while voiced cannot be reached.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use voiced_client::text::printable;

use super::layout::centered;
use crate::model::{App, DaemonLink};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let cmd = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
    let dim = Style::new().fg(Color::DarkGray);
    let lines = match &app.mirror.daemon {
        DaemonLink::Down { attempts, error } => vec![
            Line::styled("voiced is not running", bold.fg(Color::Yellow)),
            Line::raw(""),
            Line::raw("voice-tui is a front end of the voice daemon."),
            Line::raw("Start the daemon in another terminal:"),
            Line::raw(""),
            Line::styled("    voiced &", cmd),
            Line::raw("or, as a systemd user service:"),
            Line::styled("    systemctl --user start voiced", cmd),
            Line::raw(""),
            Line::styled(format!("Socket: {}", app.socket), dim),
            Line::styled(format!("Last error: {}", printable(error)), dim),
            Line::styled(
                format!("Retrying every second (attempt {attempts}).  q: quit"),
                dim,
            ),
        ],
        _ => vec![
            Line::styled("Connecting to voiced…", bold),
            Line::raw(""),
            Line::styled(format!("Socket: {}", app.socket), dim),
        ],
    };
    let width = 64.min(area.width);
    let text_width = usize::from(width.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(text_width))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let panel = centered(area, width, height);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" voice-tui "))
        .render(panel, buf);
}
