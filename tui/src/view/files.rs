//! The files pane: the files shared in the current room (name, size, sharer,
//! seeders) over voiced's transfers, each with a progress gauge and how its
//! peers are connected (directly or through the server's relay).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Gauge, Paragraph, Widget};
use voice_proto::pb::control::{FileEntry, Transfer, TransferState};
use voiced_client::files::{
    TransferRoute, human_size, human_speed, percent, progress, route_name, transfer_kind_name,
    transfer_route, transfer_state, transfer_state_name,
};
use voiced_client::text::printable;

use super::layout::{inner, tree_offset};
use super::tree::border_style;
use crate::model::{App, FilesRow, Focus};

/// Widest columns of a transfer row besides its gauge: name and state
/// (each at most a third of the row).
const TRANSFER_NAME: u16 = 22;
const TRANSFER_STATE: u16 = 26;
/// The route column of a transfer row: `relayed 1/2` where the row is wide
/// enough ([`WIDE_ROUTE_FROM`]), else `relayed`.
const ROUTE_WIDE: u16 = 11;
const ROUTE_NARROW: u16 = 7;
const WIDE_ROUTE_FROM: u16 = 60;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let focused = app.focus == Focus::Files && app.modal.is_none();
    let rows = app.files_rows();
    let selected = rows.get(app.files_selected_index(&rows)).copied();
    let transfers = app.mirror.transfers.len();
    // The transfers take what they need, up to half the pane.
    let wanted = u16::try_from(transfers.max(1)).unwrap_or(u16::MAX);
    let height = wanted.saturating_add(2).min(area.height / 2).max(3);
    let [files, transfers_area] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(height)]).areas(area);
    files_ui(app, selected, focused, files, buf);
    transfers_ui(app, selected, focused, transfers_area, buf);
}

fn highlight(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().bg(Color::DarkGray)
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

/// `text` cut to `width` characters (with `…`), then padded to it.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count > width {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        format!("{text}{}", " ".repeat(width - count))
    }
}

fn files_ui(app: &App, selected: Option<FilesRow>, focused: bool, area: Rect, buf: &mut Buffer) {
    let room = app.mirror.current_room();
    let block = Block::bordered()
        .title(format!(
            " Files {} ",
            printable(&app.mirror.room_path(room))
        ))
        .border_style(border_style(focused));
    let body = inner(area);
    let Some(files) = app.mirror.files_here() else {
        Paragraph::new(Line::styled("Asking voiced for the files…", dim()))
            .block(block)
            .render(area, buf);
        return;
    };
    if files.is_empty() {
        let lines = vec![
            Line::styled("No files shared in this room.", dim()),
            Line::styled("Share one with `voicectl share FILE`.", dim()),
        ];
        Paragraph::new(lines).block(block).render(area, buf);
        return;
    }
    let width = usize::from(body.width);
    // size, sharer and seeders columns, the name takes the rest.
    let (size_w, sharer_w, seeders_w) = (9, (width / 5).min(14), 7);
    let name_w = width
        .saturating_sub(size_w + sharer_w + seeders_w + 3)
        .max(8);
    let mut lines = vec![Line::styled(
        format!(
            "{} {:>size_w$} {} {:>seeders_w$}",
            fit("NAME", name_w),
            "SIZE",
            fit("SHARER", sharer_w),
            "SEEDERS"
        ),
        dim().add_modifier(Modifier::BOLD),
    )];
    let chosen = files
        .iter()
        .position(|f| selected == Some(FilesRow::File(f.id)));
    let visible = usize::from(body.height).saturating_sub(1);
    let offset = tree_offset(chosen.unwrap_or(0), visible);
    for (i, file) in files.iter().enumerate().skip(offset).take(visible) {
        let line = file_line(file, name_w, size_w, sharer_w, seeders_w);
        lines.push(if Some(i) == chosen {
            line.patch_style(highlight(focused))
        } else {
            line
        });
    }
    Paragraph::new(lines).block(block).render(area, buf);
}

fn file_line(
    file: &FileEntry,
    name_w: usize,
    size_w: usize,
    sharer_w: usize,
    seeders_w: usize,
) -> Line<'static> {
    let seeders_style = if file.seeders == 0 {
        Style::new().fg(Color::Red)
    } else {
        Style::new().fg(Color::Green)
    };
    Line::from(vec![
        Span::styled(
            fit(&printable(&file.name), name_w),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(" {:>size_w$} ", human_size(file.size))),
        Span::styled(
            fit(&printable(&file.sharer), sharer_w),
            Style::new().fg(Color::Cyan),
        ),
        Span::styled(format!(" {:>seeders_w$}", file.seeders), seeders_style),
    ])
}

fn transfers_ui(
    app: &App,
    selected: Option<FilesRow>,
    focused: bool,
    area: Rect,
    buf: &mut Buffer,
) {
    let block = Block::bordered()
        .title(" Transfers ")
        .border_style(border_style(focused));
    let body = inner(area);
    block.render(area, buf);
    let transfers: Vec<&Transfer> = app.mirror.transfer_list().collect();
    if transfers.is_empty() {
        Paragraph::new(Line::styled(
            "None yet. Enter or d downloads the selected file.",
            dim(),
        ))
        .render(body, buf);
        return;
    }
    let chosen = transfers
        .iter()
        .position(|t| selected == Some(FilesRow::Transfer(t.id)));
    let visible = usize::from(body.height);
    let offset = tree_offset(chosen.unwrap_or(0), visible);
    for (row, (i, t)) in transfers
        .iter()
        .enumerate()
        .skip(offset)
        .take(visible)
        .enumerate()
    {
        let y = body.y + u16::try_from(row).unwrap_or(u16::MAX);
        let line = Rect::new(body.x, y, body.width, 1);
        transfer_row(t, Some(i) == chosen, focused, line, buf);
    }
}

fn transfer_row(t: &Transfer, chosen: bool, focused: bool, area: Rect, buf: &mut Buffer) {
    let wide = area.width >= WIDE_ROUTE_FROM;
    let name_w = TRANSFER_NAME.min(area.width / 3);
    // A narrow row gives the route its room from the state words (cut
    // there anyway), so the gauge stays readable.
    let state_w = TRANSFER_STATE.min(area.width / if wide { 3 } else { 4 });
    let route_w = if wide { ROUTE_WIDE } else { ROUTE_NARROW };
    let [name, gauge, route, state] = Layout::horizontal([
        Constraint::Length(name_w),
        Constraint::Fill(1),
        Constraint::Length(route_w),
        Constraint::Length(state_w),
    ])
    .spacing(1)
    .areas(area);
    let arrow = if transfer_kind_name(t.kind) == "download" {
        "↓ "
    } else {
        "↑ "
    };
    let mut label = Line::from(vec![
        Span::raw(arrow),
        Span::raw(fit(
            &printable(&t.name),
            usize::from(name_w.saturating_sub(2)),
        )),
    ]);
    if chosen {
        label = label.patch_style(highlight(focused));
    }
    Paragraph::new(label).render(name, buf);
    let color = match transfer_state(t) {
        TransferState::Failed => Color::Red,
        TransferState::Complete | TransferState::Seeding => Color::Green,
        _ => Color::Blue,
    };
    Gauge::default()
        .ratio(progress(t))
        .label(format!("{}%", percent(t)))
        .use_unicode(true)
        .gauge_style(Style::new().fg(color).bg(Color::Black))
        .render(gauge, buf);
    let words = match transfer_state(t) {
        TransferState::Downloading => {
            format!("{} · {} peers", human_speed(t.download_bps), t.peers)
        }
        TransferState::Seeding => format!("seeding · {} peers", t.peers),
        TransferState::Failed => format!("failed: {}", printable(&t.error)),
        _ => transfer_state_name(t.state).to_owned(),
    };
    Paragraph::new(Line::styled(
        fit(&words, usize::from(state_w)),
        Style::new().fg(color),
    ))
    .render(state, buf);
    Paragraph::new(route_span(t, wide, usize::from(route_w))).render(route, buf);
}

/// How a transfer's peers are connected: `direct`, `relayed` (through the
/// server, in yellow: slower, and on the server's bandwidth), `mixed`, with
/// how many of the peers are relayed when `wide` (`relayed 1/2`); blank
/// with no peer.
fn route_span(t: &Transfer, wide: bool, width: usize) -> Span<'static> {
    let style = match transfer_route(t) {
        TransferRoute::Relayed | TransferRoute::Mixed => Style::new().fg(Color::Yellow),
        _ => dim(),
    };
    let words = match transfer_route(t) {
        TransferRoute::NoPeer => String::new(),
        _ if wide && t.relayed_peers > 0 => format!(
            "{} {}/{}",
            route_name(t),
            t.relayed_peers,
            t.peers.max(t.relayed_peers)
        ),
        _ => route_name(t).to_owned(),
    };
    Span::styled(fit(&words, width), style)
}
