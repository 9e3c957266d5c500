//! `update` is pure: synthetic key, mouse and daemon events in, commands out.

use crossterm::event::KeyModifiers;
use crossterm::event::{KeyCode, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{
    Bookmark, ConnectRequest, ConnectionState, InputLevel, TrustPrompt, VoiceMode,
};
use voice_proto::pb::wire::{Change, SessionMove, StateUpdate, change};
use voice_tui::model::{DaemonLink, Focus, Modal, RowKind};
use voice_tui::{Action, App, Command, update};
use voiced_client::command::Answer;
use voiced_client::link::Report;

use crate::fixtures::*;

#[test]
fn daemon_down_counts_attempts_and_only_q_works() {
    let mut app = App::new("/tmp/x.sock");
    let down = || {
        Action::Link(Report::Down {
            error: "No such file or directory".into(),
        })
    };
    assert!(run(&mut app, [down(), down(), ch('m'), ch('c')]).is_empty());
    assert_eq!(
        app.mirror.daemon,
        DaemonLink::Down {
            attempts: 2,
            error: "No such file or directory".into()
        }
    );
    assert!(app.modal.is_none(), "c does nothing without voiced");
    assert_eq!(
        update(&mut app, Action::Link(Report::Up)),
        [
            Command::LoadBookmarks,
            Command::LoadChatHistory,
            Command::LoadIdentity,
            Command::LoadTransfers
        ]
    );
    assert_eq!(app.mirror.daemon, DaemonLink::Up);
    let _ = update(&mut app, down());
    assert!(matches!(
        app.mirror.daemon,
        DaemonLink::Down { attempts: 1, .. }
    ));
    let _ = update(&mut app, ch('q'));
    assert!(app.quit);
}

#[test]
fn state_builds_the_tree_and_enter_joins_the_selected_room() {
    let mut app = connected();
    let rows: Vec<RowKind> = app.mirror.rows().iter().map(|r| r.kind).collect();
    assert_eq!(
        rows,
        [
            RowKind::Room(0),
            RowKind::User(CLEO),
            RowKind::Room(GAMES),
            RowKind::User(ME),
            RowKind::User(BOB),
            RowKind::Room(CHESS),
            RowKind::User(DAN),
            RowKind::Room(MUSIC),
        ]
    );
    // The selection starts on the room we are in.
    assert_eq!(app.selected, Some(RowKind::Room(GAMES)));
    assert!(run(&mut app, [ch('j'), ch('j'), ch('j')]).is_empty());
    assert_eq!(app.selected, Some(RowKind::Room(CHESS)));
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        [Command::Join("2".into())]
    );
    let _ = run(&mut app, [key(KeyCode::Up), ch('k')]);
    assert_eq!(app.selected, Some(RowKind::User(ME)));
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "a user row is not joinable"
    );
    let _ = run(&mut app, [ch('G')]);
    assert_eq!(app.selected, Some(RowKind::Room(MUSIC)));
    let _ = run(&mut app, [ch('j'), key(KeyCode::Home), ch('k')]);
    assert_eq!(app.selected, Some(RowKind::Room(0)));
}

#[test]
fn mute_deafen_and_voice_mode_keys() {
    let mut app = connected();
    assert_eq!(update(&mut app, ch('m')), [Command::SetMute(true)]);
    assert_eq!(update(&mut app, ch('m')), [Command::SetMute(false)]);
    assert_eq!(update(&mut app, ch('d')), [Command::SetDeaf(true)]);
    let modes = run(&mut app, [ch('v'), ch('v'), ch('v')]);
    assert_eq!(
        modes,
        [
            Command::SetVoiceMode(VoiceMode::PushToTalk),
            Command::SetVoiceMode(VoiceMode::Continuous),
            Command::SetVoiceMode(VoiceMode::VoiceActivity),
        ]
    );
    // voiced's report wins over what we assumed.
    let mut status = status();
    status.self_mute = true;
    let _ = update(&mut app, event(Kind::Connection(status)));
    assert_eq!(update(&mut app, ch('m')), [Command::SetMute(false)]);
}

#[test]
fn push_to_talk_is_held_where_releases_are_reported() {
    let mut app = connected();
    let _ = update(&mut app, Action::KeyReleases(true));
    let space = KeyCode::Char(' ');
    let commands = run(
        &mut app,
        [
            key_kind(space, KeyEventKind::Press),
            key_kind(space, KeyEventKind::Repeat),
            key_kind(space, KeyEventKind::Repeat),
            key_kind(space, KeyEventKind::Release),
        ],
    );
    assert_eq!(
        commands,
        [Command::PushToTalk(true), Command::PushToTalk(false)]
    );
    // Releases of other keys do nothing (the terminal reports them all).
    assert!(
        update(
            &mut app,
            key_kind(KeyCode::Char('m'), KeyEventKind::Release)
        )
        .is_empty()
    );
}

#[test]
fn push_to_talk_toggles_without_releases() {
    let mut app = connected();
    let _ = update(&mut app, Action::KeyReleases(false));
    assert_eq!(update(&mut app, ch(' ')), [Command::PushToTalk(true)]);
    assert!(app.ptt.active);
    assert_eq!(update(&mut app, ch(' ')), [Command::PushToTalk(false)]);
    assert!(!app.ptt.active);
}

#[test]
fn volume_keys_change_the_selected_user_only() {
    let mut app = connected();
    app.selected = Some(RowKind::User(BOB));
    let commands = run(&mut app, [ch('+'), ch('+'), ch('-'), ch('-'), ch('-')]);
    let volumes: Vec<f32> = commands
        .iter()
        .map(|c| match c {
            Command::SetUserVolume {
                session: BOB,
                volume,
            } => *volume,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(volumes, [1.1, 1.2, 1.1, 1.0, 0.9]);
    app.selected = Some(RowKind::User(ME));
    assert!(
        update(&mut app, ch('+')).is_empty(),
        "own volume is not a thing"
    );
    app.selected = Some(RowKind::Room(GAMES));
    assert!(update(&mut app, ch('+')).is_empty());
    app.selected = Some(RowKind::User(CLEO));
    let up: Vec<_> = (0..50).flat_map(|_| update(&mut app, ch('+'))).collect();
    assert_eq!(
        up.last(),
        Some(&Command::SetUserVolume {
            session: CLEO,
            volume: 4.0
        })
    );
}

#[test]
fn new_rename_and_delete_room_go_through_dialogs() {
    let mut app = connected();
    app.selected = Some(RowKind::User(DAN));
    let _ = update(&mut app, ch('n'));
    assert!(matches!(app.modal, Some(Modal::Prompt { .. })));
    // Keys go to the prompt, not to the tree.
    let mut actions = typed("Go mq");
    actions.push(key(KeyCode::Backspace));
    actions.push(key(KeyCode::Enter));
    assert_eq!(
        run(&mut app, actions),
        [Command::CreateRoom {
            parent: CHESS,
            name: "Go m".into()
        }]
    );
    assert!(app.modal.is_none());

    app.selected = Some(RowKind::Room(MUSIC));
    let _ = update(&mut app, ch('r'));
    let mut actions = vec![key(KeyCode::Backspace); 5];
    actions.extend(typed("Jazz"));
    actions.push(key(KeyCode::Enter));
    assert_eq!(
        run(&mut app, actions),
        [Command::RenameRoom {
            room: MUSIC,
            name: "Jazz".into()
        }]
    );

    // Delete asks first; n keeps the room, y deletes it; the root cannot go.
    assert!(run(&mut app, [ch('x'), ch('n')]).is_empty());
    assert!(app.modal.is_none());
    let _ = update(&mut app, ch('x'));
    assert!(
        update(&mut app, ch('q')).is_empty(),
        "other keys keep the question"
    );
    assert!(!app.quit);
    assert_eq!(update(&mut app, ch('y')), [Command::DeleteRoom(MUSIC)]);
    app.selected = Some(RowKind::Room(0));
    let _ = update(&mut app, ch('x'));
    assert!(app.modal.is_none());
    // Esc cancels a prompt.
    assert!(run(&mut app, [ch('n'), ch('a'), key(KeyCode::Esc)]).is_empty());
    assert!(app.modal.is_none());
}

#[test]
fn chat_input_takes_text_and_sends_it() {
    let mut app = connected();
    let _ = update(&mut app, ch('i'));
    assert_eq!(app.focus, Focus::Chat);
    let mut actions = typed("quiet mode? ");
    actions.push(key(KeyCode::Enter));
    assert_eq!(
        run(&mut app, actions),
        [Command::SendChat {
            text: "quiet mode?".into(),
            room: String::new()
        }]
    );
    assert!(!app.quit, "q is text while typing");
    assert!(app.input.is_empty());
    assert!(
        update(&mut app, key(KeyCode::Enter)).is_empty(),
        "nothing to send"
    );
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.focus, Focus::Tree);
    let _ = update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Chat);
}

#[test]
fn connect_dialog_uses_bookmarks_or_an_address() {
    let mut app = daemon_up();
    assert_eq!(update(&mut app, ch('c')), [Command::LoadBookmarks]);
    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::Bookmarks(vec![Bookmark {
            name: "home".into(),
            server: "home.example:7878".into(),
            ..Bookmark::default()
        }]))),
    );
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        [Command::Connect(ConnectRequest {
            bookmark: "home".into(),
            ..ConnectRequest::default()
        })]
    );
    let _ = update(&mut app, ch('c'));
    let mut actions = typed("127.0.0.1:9000");
    actions.push(Action::Key(crossterm::event::KeyEvent::new(
        KeyCode::Char('s'),
        KeyModifiers::CONTROL,
    )));
    actions.push(key(KeyCode::Enter));
    assert_eq!(
        run(&mut app, actions),
        [
            Command::SaveBookmark(Bookmark {
                name: "127.0.0.1:9000".into(),
                server: "127.0.0.1:9000".into(),
                ..Bookmark::default()
            }),
            Command::Connect(ConnectRequest {
                server: "127.0.0.1:9000".into(),
                ..ConnectRequest::default()
            })
        ]
    );
    // Tab to the password field; Enter connects with both.
    let _ = update(&mut app, ch('c'));
    let mut actions = typed("h:1");
    actions.push(key(KeyCode::Tab));
    actions.extend(typed("pw"));
    actions.push(key(KeyCode::Enter));
    assert_eq!(
        run(&mut app, actions),
        [Command::Connect(ConnectRequest {
            server: "h:1".into(),
            password: "pw".into(),
            ..ConnectRequest::default()
        })]
    );
    // While connected the first entry disconnects.
    let mut app = connected();
    let _ = update(&mut app, ch('c'));
    assert_eq!(update(&mut app, key(KeyCode::Enter)), [Command::Disconnect]);
}

#[test]
fn trust_prompt_pins_and_reconnects() {
    let mut app = daemon_up();
    let prompt = TrustPrompt {
        server: "new.example:7878".into(),
        fingerprint: "ab".repeat(32),
        ..TrustPrompt::default()
    };
    let _ = update(&mut app, event(Kind::Trust(prompt.clone())));
    assert!(matches!(app.modal, Some(Modal::Trust(_))));
    assert!(update(&mut app, ch('x')).is_empty());
    // Pinned by voiced once the handshake with that certificate succeeds.
    assert_eq!(
        update(&mut app, ch('a')),
        [Command::Connect(ConnectRequest {
            server: prompt.server.clone(),
            accept_fingerprint: prompt.fingerprint.clone(),
            ..ConnectRequest::default()
        })]
    );
    let _ = update(&mut app, event(Kind::Trust(prompt)));
    assert!(update(&mut app, key(KeyCode::Esc)).is_empty());
    assert!(app.modal.is_none());
}

#[test]
fn state_updates_apply_and_a_mismatch_asks_for_the_state() {
    let mut app = connected();
    let moved = Change {
        kind: Some(change::Kind::MoveSession(SessionMove {
            session: BOB,
            room: MUSIC,
        })),
    };
    let mut expected = state();
    expected.apply(&moved).unwrap();
    let good = StateUpdate {
        seq: 1,
        change: Some(moved.clone()),
        resulting_hash: expected.hash().to_vec(),
        actor: BOB,
    };
    assert!(update(&mut app, event(Kind::Update(good))).is_empty());
    assert_eq!(
        app.mirror
            .state
            .as_ref()
            .unwrap()
            .session(BOB)
            .unwrap()
            .room,
        MUSIC
    );

    let back = Change {
        kind: Some(change::Kind::MoveSession(SessionMove {
            session: BOB,
            room: GAMES,
        })),
    };
    let bad = StateUpdate {
        seq: 2,
        change: Some(back),
        resulting_hash: vec![7; 32],
        actor: BOB,
    };
    assert_eq!(
        update(&mut app, event(Kind::Update(bad))),
        [Command::LoadState]
    );
}

#[test]
fn talking_and_levels() {
    let mut app = connected();
    let _ = run(
        &mut app,
        [talking(BOB, true), talking(DAN, true), talking(DAN, false)],
    );
    assert!(app.mirror.is_talking(BOB));
    assert!(!app.mirror.is_talking(DAN));
    assert!(!app.mirror.is_talking(ME));
    let _ = update(
        &mut app,
        event(Kind::Level(InputLevel {
            dbfs: -12.0,
            voice: 0.9,
            transmitting: true,
        })),
    );
    assert!(
        app.mirror.is_talking(ME),
        "our own transmitting mic lights our row"
    );
    // Losing the daemon clears what it told us.
    let _ = update(
        &mut app,
        Action::Link(Report::Down {
            error: "gone".into(),
        }),
    );
    assert!(!app.mirror.is_talking(BOB));
    assert!(app.mirror.level.is_none());
}

#[test]
fn losing_the_server_clears_the_tree_and_reconnecting_shows_a_countdown() {
    let mut app = connected();
    let mut status = status();
    status.state = ConnectionState::Reconnecting as i32;
    status.next_attempt_ms = app.now_ms + 4_200;
    status.last_error = "timed out".into();
    let _ = update(&mut app, event(Kind::Connection(status)));
    assert!(app.mirror.state.is_none());
    assert_eq!(app.notice.as_deref(), Some("timed out"));
    assert!(voice_tui::update::needs_redraw(&app, &Action::Tick(0)));
}

#[test]
fn chat_history_and_live_messages_merge_without_duplicates() {
    let mut app = connected();
    let _ = update(&mut app, event(Kind::Chat(chat(2, 1, GAMES, "ann", "dup"))));
    let _ = update(&mut app, event(Kind::Chat(chat(9, 9, GAMES, "bob", "new"))));
    let texts: Vec<&str> = app
        .mirror
        .chat
        .in_room(GAMES)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(texts.len(), 4);
    assert_eq!(texts[1], "sure, give me five minutes");
    assert_eq!(texts[3], "new");
    let _ = update(&mut app, key(KeyCode::PageUp));
    assert_eq!(app.chat_scroll, 3);
    let _ = update(&mut app, key(KeyCode::PageDown));
    assert_eq!(app.chat_scroll, 0);
}

#[test]
fn mouse_click_selects_and_a_second_click_joins() {
    let mut app = connected();
    let _ = update(&mut app, Action::Resize(80, 24));
    // The tree's first row is at y = 1 (inside the border); Music is row 7.
    let click = |row| {
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 3,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    assert!(update(&mut app, click(8)).is_empty());
    assert_eq!(app.selected, Some(RowKind::Room(MUSIC)));
    assert_eq!(
        update(&mut app, click(8)),
        [Command::Join(MUSIC.to_string())]
    );
    assert!(update(&mut app, click(2)).is_empty());
    assert_eq!(app.selected, Some(RowKind::User(CLEO)));
    // Clicking the input line focuses the chat.
    let _ = update(
        &mut app,
        Action::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: 50,
            row: 20,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(app.focus, Focus::Chat);
}

#[test]
fn help_overlay_opens_and_any_key_closes_it() {
    let mut app = connected();
    let _ = update(&mut app, ch('?'));
    assert_eq!(app.modal, Some(Modal::Help));
    assert!(
        update(&mut app, ch('m')).is_empty(),
        "keys do not leak under the overlay"
    );
    assert!(app.modal.is_none());
    let _ = update(&mut app, ch('q'));
    assert!(app.quit);
}

#[test]
fn a_refused_connect_carrying_a_prompt_opens_the_trust_prompt() {
    let mut app = daemon_up();
    let fp = "0f".repeat(32);
    let message = format!(
        "the certificate of 127.0.0.1:7878 is not trusted (self-signed or unknown CA); \
         its SHA-256 fingerprint is {fp}. If that is the server's fingerprint, run …"
    );
    // The old prompt's wording alone, in an error or a failed call, is only words.
    let words = [
        Action::Link(Report::Failed {
            what: "connect",
            message: message.clone(),
            trust: None,
        }),
        event(Kind::Error(voice_proto::pb::control::ErrorEvent {
            message: message.clone(),
        })),
    ];
    let _ = run(&mut app, words);
    assert!(app.modal.is_none(), "{:?}", app.modal);
    let prompt = TrustPrompt {
        server: "127.0.0.1:7878".into(),
        fingerprint: fp.clone(),
        ..TrustPrompt::default()
    };
    let _ = update(
        &mut app,
        Action::Link(Report::Failed {
            what: "connect",
            message: message.clone(),
            trust: Some(prompt.clone()),
        }),
    );
    let Some(Modal::Trust(prompt)) = &app.modal else {
        panic!("expected the trust prompt, got {:?}", app.modal);
    };
    assert_eq!(prompt.server, "127.0.0.1:7878");
    assert_eq!(prompt.fingerprint, fp);
    let late_copy = event(Kind::Trust(prompt.clone()));
    assert_eq!(
        update(&mut app, ch('o')),
        [
            Command::Trust {
                server: "127.0.0.1:7878".into(),
                fingerprint: fp.clone(),
                permanent: false
            },
            Command::Connect(ConnectRequest {
                server: "127.0.0.1:7878".into(),
                ..ConnectRequest::default()
            })
        ]
    );
    // voiced reports one refusal twice; the copy after the answer is ignored.
    let _ = update(&mut app, late_copy);
    assert!(app.modal.is_none());
}

#[test]
fn trusting_repeats_the_refused_request_with_its_password() {
    let mut app = daemon_up();
    let mut actions = vec![ch('c')];
    actions.extend(typed("127.0.0.1:7878"));
    actions.push(key(KeyCode::Tab));
    actions.extend(typed("secret"));
    actions.push(key(KeyCode::Enter));
    let request = ConnectRequest {
        server: "127.0.0.1:7878".into(),
        password: "secret".into(),
        ..ConnectRequest::default()
    };
    assert_eq!(
        run(&mut app, actions),
        [Command::LoadBookmarks, Command::Connect(request.clone())]
    );
    let prompt = TrustPrompt {
        server: "127.0.0.1:7878".into(),
        fingerprint: "12".repeat(32),
        ..TrustPrompt::default()
    };
    let _ = update(&mut app, event(Kind::Trust(prompt)));
    let commands = update(&mut app, ch('a'));
    let pinned = ConnectRequest {
        accept_fingerprint: "12".repeat(32),
        ..request
    };
    assert_eq!(commands, [Command::Connect(pinned)]);
}

#[test]
fn ticks_redraw_only_for_the_countdown() {
    let app = connected();
    assert!(!voice_tui::update::needs_redraw(&app, &Action::Tick(1)));
    assert!(voice_tui::update::needs_redraw(&app, &ch('j')));
}
