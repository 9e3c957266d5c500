//! Earlier messages of a room (its history from the other members): the
//! *Load earlier messages* button, the spinner while voiced fetches, and the
//! history lines under their marker above the live chat — drawn from a
//! mirror alone, then through the window against real daemons.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{
    ChatHistoryRequest, ConnectionState, Event, HistoryReply, SendChatRequest, StateReply,
    StatusReply,
};
use voice_proto::pb::wire::{Change, ChatMessage, Session, change};
use voice_proto::{Limits, State};
use voiced_client::command::{Answer, Command, FETCH_HISTORY};
use voiced_client::history::{EARLIER_MARKER, LOAD_EARLIER, LOADING};
use voiced_client::link::Report;
use voiced_client::mirror::Mirror;

use voice_gui::panels::chat::{history_ui, messages_ui};

use crate::support::{World, until, until_daemon};

fn event(kind: Kind) -> Report<Answer> {
    Report::Event(Event { kind: Some(kind) })
}

/// A mirror connected to a server, in the root room, with one live line;
/// voiced's `history` setting is `setting`.
fn mirror(setting: &str) -> Mirror {
    let mut mirror = Mirror::new();
    mirror.apply(Report::Up);
    mirror.apply(event(Kind::Connection(StatusReply {
        state: ConnectionState::Connected as i32,
        session_id: 1,
        history: setting.into(),
        ..StatusReply::default()
    })));
    let mut state = State::new("Root", Limits::default());
    let me = Session {
        id: 1,
        name: "ann".into(),
        public_key: vec![1; 32],
        ..Session::default()
    };
    state
        .apply(&Change {
            kind: Some(change::Kind::AddSession(me)),
        })
        .unwrap();
    mirror.apply(event(Kind::State(StateReply {
        state: Some(state.snapshot()),
        hash: Vec::new(),
        session_id: 1,
    })));
    mirror.apply(event(Kind::Chat(line(5, false, "live now"))));
    mirror
}

fn line(seq: u64, history: bool, text: &str) -> ChatMessage {
    ChatMessage {
        id: if history { 0 } else { 100 + seq },
        seq,
        time_ms: 1_795_000_000_000 + seq * 60_000,
        sender: 2,
        sender_key: vec![2; 32],
        sender_name: "bob".into(),
        text: text.into(),
        history,
        ..ChatMessage::default()
    }
}

/// The chat's history bar and messages over `mirror`; a click on the
/// button starts the fetch as the window does.
fn harness(mirror: Mirror) -> Harness<'static, (Mirror, Vec<Command>)> {
    Harness::new_ui_state(
        |ui, (mirror, sent): &mut (Mirror, Vec<Command>)| {
            if history_ui(ui, mirror, 0)
                && let Some(command) = mirror.fetch_history(0)
            {
                sent.push(command);
            }
            messages_ui(ui, mirror, 0);
        },
        (mirror, Vec::new()),
    )
}

#[test]
fn the_button_fetches_once_shows_progress_then_history_above_live_chat() {
    let mut h = harness(mirror("ask"));
    h.run();
    h.get_by_label(LOAD_EARLIER).click();
    h.run_steps(2);
    assert_eq!(h.state().1, [Command::FetchHistory(0)]);
    assert!(h.query_by_label(LOAD_EARLIER).is_none(), "no second fetch");
    assert!(h.query_by_label(LOADING).is_some());

    let reply = HistoryReply {
        room: 0,
        messages: vec![line(3, true, "before you came"), line(4, true, "and then")],
        first_seq: 3,
        last_seq: 4,
        bytes: 2048,
        seeders: 1,
        ..HistoryReply::default()
    };
    h.state_mut()
        .0
        .apply(Report::Answer(Answer::History(reply)));
    h.run_steps(2);
    assert!(h.query_by_label(LOADING).is_none());
    let summary = "2 earlier messages from 1 member (2.0 KiB)";
    assert!(h.query_by_label(summary).is_some());
    // The marker, then the history lines, then the live one, top to bottom.
    let y = |label: &str| h.get_by_label(label).rect().top();
    assert!(y(EARLIER_MARKER) < y("before you came"));
    assert!(y("before you came") < y("and then"));
    assert!(y("and then") < y("live now"));
}

#[test]
fn a_failure_offers_the_button_again_and_off_offers_nothing() {
    let mut h = harness(mirror("ask"));
    h.run();
    h.get_by_label(LOAD_EARLIER).click();
    h.run_steps(2);
    h.state_mut().0.apply(Report::Failed {
        what: FETCH_HISTORY,
        message: "no other member of room 0 shares history".into(),
        trust: None,
    });
    h.run_steps(2);
    assert!(h.query_by_label(LOADING).is_none());
    h.get_by_label(LOAD_EARLIER).click();
    h.run_steps(2);
    assert_eq!(h.state().1.len(), 2, "tried again");

    let mut off = harness(mirror("off"));
    off.run();
    assert!(off.query_by_label(LOAD_EARLIER).is_none());
    assert!(off.query_by_label("live now").is_some());
}

/// Bob chats in the root before Ann connects; Ann's window loads what she
/// missed from Bob's voiced. Needs voiced's side of room history working.
#[test]
fn the_window_loads_earlier_messages_from_another_member() {
    let mut world = World::new(true);
    world.start_daemon();
    let mut bob = world.other_user("Bob");
    let said = ["board is set up", "your move, Ann"];
    for text in said {
        world
            .block_on(bob.send_chat(SendChatRequest {
                text: text.into(),
                room: String::new(),
            }))
            .unwrap();
    }
    // Bob has seen them come back (he can serve them).
    let start = std::time::Instant::now();
    loop {
        let kept = world
            .block_on(bob.chat_history(ChatHistoryRequest::default()))
            .unwrap()
            .into_inner()
            .messages;
        if kept.len() >= said.len() {
            break;
        }
        assert!(
            start.elapsed() < crate::support::WAIT,
            "Bob's chat came back"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    world.connect_daemon("Ann");
    let mut harness = world.window();
    until(&mut harness, "the offer of earlier messages", |h| {
        h.query_by_label(LOAD_EARLIER).is_some()
    });
    harness.get_by_label(LOAD_EARLIER).click();
    until(&mut harness, "the history lines", |h| {
        h.query_by_label(EARLIER_MARKER).is_some()
            && said.iter().all(|t| h.query_by_label(t).is_some())
    });
    assert!(harness.query_by_label(LOAD_EARLIER).is_none());
    // voiced keeps them, marked as history.
    let kept = until_daemon(
        &world,
        &mut harness,
        "the history in voiced's chat",
        |mut c| {
            Box::pin(async move {
                c.chat_history(ChatHistoryRequest::default())
                    .await
                    .unwrap()
                    .into_inner()
                    .messages
            })
        },
        |m| m.iter().filter(|m| m.history).count() >= said.len(),
    );
    assert_eq!(kept[0].text, said[0]);
    assert!(kept[0].history);
}
