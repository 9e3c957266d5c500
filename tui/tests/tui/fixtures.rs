//! A small server state and the events voiced would send about it.

// Fixture helpers are not #[test] functions, so allow-unwrap-in-tests misses them.
#![allow(clippy::unwrap_used)]

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use voice_proto::pb::control::{
    ConnectionState, Event, StateReply, StatusReply, Talking, VoiceMode, event::Kind,
};
use voice_proto::pb::wire::{Change, ChatMessage, Room, Session, change};
use voice_proto::{Limits, State};
use voice_tui::{Action, App, Command, update};
use voiced_client::command::Answer;
use voiced_client::link::Report;

pub const ME: u32 = 1;
pub const BOB: u32 = 2;
pub const CLEO: u32 = 3;
pub const DAN: u32 = 4;
pub const GAMES: u32 = 1;
pub const CHESS: u32 = 2;
pub const MUSIC: u32 = 3;

/// Lobby (root) with Games/Chess and Music; ann (me) and bob in Games, cleo in
/// the Lobby, dan in Chess.
pub fn state() -> State {
    let mut state = State::new("Lobby", Limits::default());
    let room = |id, parent, name: &str, position| Room {
        id,
        parent,
        name: name.to_owned(),
        position,
        inherit_acl: true,
        ..Room::default()
    };
    let session = |id: u32, name: &str, room| Session {
        id,
        public_key: vec![id as u8; 32],
        name: name.to_owned(),
        room,
        ..Session::default()
    };
    let mut bob = session(BOB, "bob", GAMES);
    bob.self_mute = true;
    let mut cleo = session(CLEO, "cleo", 0);
    cleo.self_deaf = true;
    cleo.self_mute = true;
    let mut dan = session(DAN, "dan", CHESS);
    dan.server_mute = true;
    let changes = [
        change::Kind::AddRoom(room(GAMES, 0, "Games", 0)),
        change::Kind::AddRoom(room(CHESS, GAMES, "Chess", 0)),
        change::Kind::AddRoom(room(MUSIC, 0, "Music", 1)),
        change::Kind::AddSession(session(ME, "ann", GAMES)),
        change::Kind::AddSession(bob),
        change::Kind::AddSession(cleo),
        change::Kind::AddSession(dan),
    ];
    for kind in changes {
        state.apply(&Change { kind: Some(kind) }).unwrap();
    }
    state
}

pub fn event(kind: Kind) -> Action {
    Action::Link(Report::Event(Event { kind: Some(kind) }))
}

pub fn status() -> StatusReply {
    StatusReply {
        state: ConnectionState::Connected as i32,
        server: "voice.example.org:7878".to_owned(),
        session_id: ME,
        room: GAMES,
        rtt_ms: 23,
        loss_permille: 12,
        display_name: "ann".to_owned(),
        voice_mode: VoiceMode::VoiceActivity as i32,
        history: "ask".to_owned(),
        ..StatusReply::default()
    }
}

/// A chat message from one of the fixture's members (by name), with their
/// session id and key as the server relays them.
pub fn chat(id: u64, minute: u64, room: u32, sender: &str, text: &str) -> ChatMessage {
    let session = match sender {
        "ann" => ME,
        "bob" => BOB,
        "cleo" => CLEO,
        "dan" => DAN,
        other => panic!("no member named {other} in the fixture"),
    };
    ChatMessage {
        sender: session,
        sender_key: vec![session as u8; 32],
        ..bot_chat(id, minute, room, sender, text)
    }
}

/// A chat message a bot sent through the server (admin `SendChat`): sender
/// 0 and no key, under the bot's name.
pub fn bot_chat(id: u64, minute: u64, room: u32, bot: &str, text: &str) -> ChatMessage {
    ChatMessage {
        id,
        time_ms: 1_795_000_000_000 + minute * 60_000,
        room,
        sender: 0,
        sender_key: Vec::new(),
        sender_name: bot.to_owned(),
        text: text.to_owned(),
        ..ChatMessage::default()
    }
}

/// An app that reached voiced but no server.
pub fn daemon_up() -> App {
    let mut app = App::new("/run/user/1000/voiced.sock");
    app.now_ms = 1_795_000_000_000;
    let _ = update(&mut app, Action::Link(Report::Up));
    app
}

/// An app connected to the fixture server, with some chat.
pub fn connected() -> App {
    let mut app = daemon_up();
    let _ = update(&mut app, event(Kind::Connection(status())));
    let _ = update(
        &mut app,
        event(Kind::State(StateReply {
            state: Some(state().snapshot()),
            hash: state().hash().to_vec(),
            session_id: ME,
        })),
    );
    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::ChatHistory(vec![
            chat(1, 0, GAMES, "bob", "anyone up for a game?"),
            chat(2, 1, GAMES, "ann", "sure, give me five minutes"),
            chat(3, 2, 0, "cleo", "this is in the lobby"),
            chat(
                4,
                3,
                GAMES,
                "bob",
                "great, I will set up the board in Chess and wait for you there, \
                 take your time",
            ),
        ]))),
    );
    app
}

pub fn talking(session: u32, on: bool) -> Action {
    event(Kind::Talking(Talking {
        session,
        talking: on,
    }))
}

pub fn key(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn key_kind(code: KeyCode, kind: KeyEventKind) -> Action {
    Action::Key(KeyEvent::new_with_kind(code, KeyModifiers::NONE, kind))
}

pub fn ch(c: char) -> Action {
    key(KeyCode::Char(c))
}

/// Feeds every action and returns all commands they produced.
pub fn run(app: &mut App, actions: impl IntoIterator<Item = Action>) -> Vec<Command> {
    actions.into_iter().flat_map(|a| update(app, a)).collect()
}

/// Types a string, one key per character.
pub fn typed(text: &str) -> Vec<Action> {
    text.chars().map(ch).collect()
}
