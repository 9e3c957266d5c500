//! The view rendered to `TestBackend` at 80×24 and 120×40, snapshotted.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{Bookmark, InputLevel, TrustPrompt};
use voice_tui::{Action, App, update};
use voiced_client::command::Answer;
use voiced_client::link::Report;

use crate::fixtures::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal.backend().to_string()
}

fn snapshot(name: &str, mut app: App) {
    for (w, h) in SIZES {
        let _ = update(&mut app, Action::Resize(w, h));
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(&app, w, h));
    }
}

#[test]
fn empty() {
    snapshot("empty", daemon_up());
}

#[test]
fn connected_with_tree_and_chat() {
    snapshot("connected", connected());
}

#[test]
fn someone_talking() {
    let mut app = connected();
    let _ = run(&mut app, [talking(BOB, true), talking(DAN, true)]);
    let _ = update(
        &mut app,
        event(Kind::Level(InputLevel {
            dbfs: -18.0,
            voice: 0.8,
            transmitting: true,
        })),
    );
    app.selected = Some(voice_tui::model::RowKind::User(BOB));
    let _ = run(&mut app, [ch('+'), ch('+')]);
    snapshot("talking", app);
}

#[test]
fn help_overlay() {
    let mut app = connected();
    let _ = update(&mut app, ch('?'));
    snapshot("help", app);
}

#[test]
fn connect_dialog() {
    let mut app = daemon_up();
    let _ = update(&mut app, ch('c'));
    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::Bookmarks(vec![
            Bookmark {
                name: "home".into(),
                server: "home.example:7878".into(),
                ..Bookmark::default()
            },
            Bookmark {
                name: "club".into(),
                server: "voice.club.example".into(),
                ..Bookmark::default()
            },
        ]))),
    );
    let _ = run(&mut app, typed("127.0.0.1"));
    let _ = update(&mut app, key(KeyCode::Tab));
    let _ = run(&mut app, typed("pw"));
    snapshot("connect", app);
}

#[test]
fn trust_prompt() {
    let mut app = daemon_up();
    let _ = update(
        &mut app,
        event(Kind::Trust(TrustPrompt {
            server: "new.example:7878".into(),
            fingerprint: "0123456789abcdef".repeat(4),
            ..TrustPrompt::default()
        })),
    );
    snapshot("trust", app);
}

#[test]
fn daemon_not_running() {
    let mut app = App::new("/run/user/1000/voiced.sock");
    let _ = update(
        &mut app,
        Action::Link(Report::Down {
            error: "No such file or directory (os error 2)".into(),
        }),
    );
    snapshot("daemon_down", app);
}

#[test]
fn chat_input_focused_and_scrolled_back() {
    let mut app = connected();
    let _ = run(&mut app, [key(KeyCode::PageUp), ch('i')]);
    let _ = run(&mut app, typed("typing a reply"));
    snapshot("chat_focus", app);
}
