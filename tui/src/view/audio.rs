//! The audio settings overlay: the microphone's processing (echo
//! cancellation, automatic gain, noise suppression) with the chosen one
//! highlighted, then the codec and devices, as voiced reported them.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use voice_proto::pb::control::AudioConfig;
use voiced_client::names::voice_mode_name;
use voiced_client::text::printable;

use super::overlay::dialog;
use crate::model::{App, AudioSwitch, AudioView};

/// Width of the overlay.
const WIDTH: u16 = 78;

pub(super) fn render(app: &App, view: &AudioView, area: Rect, buf: &mut Buffer) {
    let dim = Style::new().fg(Color::DarkGray);
    let mut lines = match &app.mirror.audio {
        Some(config) => settings(config, view, dim),
        None if app.mirror.audio_error.is_none() => {
            vec![Line::styled("Asking voiced for its audio settings…", dim)]
        }
        None => Vec::new(),
    };
    // A refused change (or an audio-less voiced) says why here.
    if let Some(error) = &app.mirror.audio_error {
        lines.push(Line::styled(
            format!("voiced: {}", printable(error)),
            Style::new().fg(Color::Red),
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "↑↓: choose  Enter/space: turn on or off  Esc: close",
        dim,
    ));
    dialog(" Audio settings ", lines, WIDTH, area, buf);
}

fn settings<'a>(config: &AudioConfig, view: &AudioView, dim: Style) -> Vec<Line<'a>> {
    let mut lines = Vec::new();
    for (i, switch) in AudioSwitch::ALL.into_iter().enumerate() {
        let on = switch.is_on(config);
        let selected = i == view.selected;
        let mut line = Line::from(vec![
            Span::raw(if selected { "› " } else { "  " }),
            if on {
                Span::styled("[✓] ", Style::new().fg(Color::Green))
            } else {
                Span::styled("[ ] ", dim)
            },
            Span::styled(
                format!("{:<22}", switch.label()),
                if on {
                    Style::new().add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                },
            ),
            Span::styled(format!(" {}", switch.about()), dim),
        ]);
        if selected {
            line = line.patch_style(Style::new().bg(Color::DarkGray));
        }
        lines.push(line);
    }
    lines.push(Line::raw(""));
    let device = |name: &str| {
        if name.is_empty() {
            "default".to_owned()
        } else {
            printable(name).into_owned()
        }
    };
    let shown = [
        (
            "Voice mode",
            format!(
                "{}  (v on the main screen)",
                voice_mode_name(config.voice_mode)
            ),
        ),
        ("Bitrate", format!("{} kbit/s", config.bitrate / 1000)),
        ("Frame", format!("{} ms", config.frame_ms)),
        ("VAD threshold", format!("{:.2}", config.vad_threshold)),
        ("Input device", device(&config.input_device)),
        ("Output device", device(&config.output_device)),
    ];
    for (name, value) in shown {
        lines.push(Line::from(vec![
            Span::styled(format!("    {name:<23}"), dim),
            Span::raw(value),
        ]));
    }
    lines
}
