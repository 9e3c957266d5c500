//! The view rendered to `TestBackend` at 80×24 and 120×40, snapshotted.

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::{Color, Modifier};
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

/// A bot's message (sent through the server: sender 0) says `(server)`
/// after its name, in magenta where members' names are cyan, even when the
/// bot is named like a member.
#[test]
fn a_bots_message_is_marked_as_the_servers() {
    let mut app = connected();
    let _ = update(
        &mut app,
        event(Kind::Chat(bot_chat(
            5,
            4,
            GAMES,
            "Greeter",
            "Welcome, ada!",
        ))),
    );
    let _ = update(
        &mut app,
        event(Kind::Chat(bot_chat(6, 5, GAMES, "bob", "not the real bob"))),
    );
    let _ = update(&mut app, Action::Resize(120, 40));
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(&app, frame.area()))
        .unwrap();
    let buffer = terminal.backend().buffer();
    let shown = terminal.backend().to_string();
    assert!(shown.contains("Greeter (server): Welcome, ada!"), "{shown}");
    assert!(shown.contains("bob (server): not the real bob"), "{shown}");
    assert!(shown.contains("bob: anyone up for a game?"), "{shown}");
    // The style of the first cell of `text` on screen.
    let style_at = |text: &str| {
        let (row, line) = shown
            .lines()
            .enumerate()
            .find(|(_, line)| line.contains(text))
            .unwrap();
        let col = line[..line.find(text).unwrap()].chars().count();
        // `to_string` quotes each row; the buffer does not.
        buffer[(col as u16 - 1, row as u16)].style()
    };
    for bot in ["Greeter (server)", "bob (server)"] {
        let style = style_at(bot);
        assert_eq!(style.fg, Some(Color::Magenta), "{bot}");
        assert!(style.add_modifier.contains(Modifier::BOLD), "{bot}");
    }
    assert_eq!(style_at("bob: anyone").fg, Some(Color::Cyan));
    snapshot("server_chat", app);
}

#[test]
fn a_user_recording_is_marked_and_announced() {
    use voice_proto::pb::wire::{Change, SessionFlags, StateUpdate, change};
    let mut app = connected();
    let recording = |session| Change {
        kind: Some(change::Kind::SetSessionFlags(SessionFlags {
            session,
            recording: Some(true),
            ..SessionFlags::default()
        })),
    };
    let mut expected = state();
    for (seq, session) in [(1, BOB), (2, ME)] {
        let change = recording(session);
        expected.apply(&change).unwrap();
        let update_event = event(Kind::Update(StateUpdate {
            seq,
            change: Some(change),
            resulting_hash: expected.hash().to_vec(),
            actor: session,
        }));
        assert!(update(&mut app, update_event).is_empty());
    }
    assert_eq!(app.notice.as_deref(), Some("bob is recording this room"));
    let _ = update(&mut app, Action::Resize(120, 40));
    let screen = render(&app, 120, 40);
    assert!(screen.contains("bob [REC] [M]"), "{screen}");
    assert!(screen.contains("ann (you) [REC]"), "{screen}");
    assert!(screen.contains(" REC │"), "{screen}");
}
