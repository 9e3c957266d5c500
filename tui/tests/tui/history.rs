//! Earlier messages of a room (its history from the other members): the key
//! that asks for them, the fetch's state, and history lines drawn dim under
//! their marker above the live chat.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use voice_proto::pb::control::HistoryReply;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::wire::ChatMessage;
use voice_tui::update::HISTORY_KEY;
use voice_tui::{Action, App, Command, update};
use voiced_client::command::{Answer, FETCH_HISTORY};
use voiced_client::history::{EARLIER_MARKER, HistoryFetch, LOAD_EARLIER, LOADING};
use voiced_client::link::Report;

use crate::fixtures::*;

/// Earlier messages of Games, numbered like the live ones after them.
fn reply() -> HistoryReply {
    let old = |seq: u64, sender: &str, text: &str| ChatMessage {
        seq,
        history: true,
        ..chat(0, seq, GAMES, sender, text)
    };
    HistoryReply {
        room: GAMES,
        messages: vec![
            old(1, "dan", "who took the black queen?"),
            old(2, "bob", "not me, ask cleo"),
        ],
        first_seq: 1,
        last_seq: 2,
        info_hash: "ab".repeat(20),
        bytes: 12_595,
        seeders: 2,
        peers: 2,
        elapsed_ms: 900,
        files: Vec::new(),
    }
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal.backend().to_string()
}

fn history_key() -> Action {
    key(HISTORY_KEY)
}

#[test]
fn the_key_asks_once_and_the_answer_goes_above_the_live_chat() {
    let mut app = connected();
    let _ = update(&mut app, Action::Resize(120, 40));
    assert!(screen(&app, 120, 40).contains(&format!("h: {LOAD_EARLIER}")));
    assert_eq!(
        update(&mut app, history_key()),
        [Command::FetchHistory(GAMES)]
    );
    assert_eq!(app.mirror.history_of(GAMES), Some(&HistoryFetch::Loading));
    assert!(screen(&app, 120, 40).contains(LOADING));
    // Pressed again while loading: no second call.
    assert!(update(&mut app, history_key()).is_empty());

    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::History(reply()))),
    );
    // The same history as an event changes nothing.
    let _ = update(&mut app, event(Kind::History(reply())));
    let texts: Vec<(&str, bool)> = app
        .mirror
        .chat
        .in_room(GAMES)
        .map(|m| (m.text.as_str(), m.history))
        .collect();
    assert_eq!(texts.len(), 5, "{texts:?}");
    assert_eq!(texts[0], ("who took the black queen?", true));
    assert_eq!(texts[1], ("not me, ask cleo", true));
    assert!(texts[2..].iter().all(|(_, history)| !history));
    let shown = screen(&app, 120, 40);
    assert!(
        shown.contains("2 earlier messages from 2 members (12.3 KiB)"),
        "{shown}"
    );
    let marker = shown.find(EARLIER_MARKER).expect("the marker");
    let old = shown.find("who took the black queen?").expect("history");
    let live = shown.find("anyone up for a game?").expect("live chat");
    assert!(marker < old && old < live, "{shown}");
    // Loaded: no more offer, and the key does nothing.
    assert!(!shown.contains(LOAD_EARLIER), "{shown}");
    assert!(update(&mut app, history_key()).is_empty());
}

#[test]
fn a_refusal_is_shown_and_the_key_tries_again() {
    let mut app = connected();
    let _ = update(&mut app, history_key());
    let refusal = "you lack the read_history permission in room 1";
    let _ = update(
        &mut app,
        Action::Link(Report::Failed {
            what: FETCH_HISTORY,
            message: refusal.into(),
            trust: None,
        }),
    );
    // Wrapped in the chat pane, and said in the status bar.
    let shown = screen(&app, 120, 40);
    assert!(
        shown.contains("load earlier messages failed: you lack the read_history"),
        "{shown}"
    );
    assert_eq!(
        app.notice.as_deref(),
        Some(format!("{FETCH_HISTORY} failed: {refusal}").as_str())
    );
    assert_eq!(
        update(&mut app, history_key()),
        [Command::FetchHistory(GAMES)]
    );
}

#[test]
fn with_history_off_nothing_is_offered() {
    let mut app = connected();
    let mut off = status();
    off.history = "off".into();
    let _ = update(&mut app, event(Kind::Connection(off)));
    assert!(update(&mut app, history_key()).is_empty());
    assert!(!screen(&app, 120, 40).contains(LOAD_EARLIER));
    // In the chat input, h is a letter.
    let mut app = connected();
    let _ = update(&mut app, ch('i'));
    assert!(update(&mut app, history_key()).is_empty());
    assert_eq!(app.input, "h");
}

#[test]
fn history_under_its_marker() {
    let mut app = connected();
    let _ = update(&mut app, history_key());
    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::History(reply()))),
    );
    for (w, h) in [(80, 24), (120, 40)] {
        let _ = update(&mut app, Action::Resize(w, h));
        insta::assert_snapshot!(format!("history_{w}x{h}"), screen(&app, w, h));
    }
}
