//! The window driven through its accessibility tree (egui_kittest) against a
//! real voiced and a real voice-server; what happened is checked with voiced
//! itself over gRPC, not only on screen.
#![allow(clippy::unwrap_used)] // tests: a failure is a test failure

mod access;
mod chat;
mod files;
mod history;
mod support;

use egui::accesskit::Toggled;
use egui_kittest::kittest::{NodeT, Queryable};
use voice_gui::panels::connect::{ACCEPT_ALWAYS, ACCEPT_ONCE, CHANGED_TITLE, UNKNOWN_TITLE};
use voice_gui::panels::offline::NOT_RUNNING;
use voice_proto::pb::control::{
    AudioConfig, ChatHistoryRequest, ConnectionState, CreateRoomRequest, Empty, TrustRequest,
};

use support::{PASSWORD, SETTLE, World, until, until_daemon};

fn has_label(harness: &egui_kittest::Harness<'_, voice_gui::App>, label: &str) -> bool {
    harness.query_by_label(label).is_some()
}

fn has_label_containing(harness: &egui_kittest::Harness<'_, voice_gui::App>, text: &str) -> bool {
    harness.query_by_label_contains(text).is_some()
}

/// Fills the connect dialog and presses its Connect button.
fn connect_through_dialog(harness: &mut egui_kittest::Harness<'_, voice_gui::App>, server: &str) {
    harness.get_by_label("Connect…").click();
    harness.run_steps(SETTLE);
    let field = harness.get_by_label("Server");
    field.click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Server").type_text(server);
    harness.run_steps(SETTLE);
    harness.get_by_label("Password").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Password").type_text(PASSWORD);
    harness.run_steps(SETTLE);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, "Connect")
        .click();
    harness.run_steps(SETTLE);
}

use eframe::egui;

#[test]
fn connect_accept_join_mute_and_chat_through_the_window() {
    let mut world = World::new(true);
    world.start_daemon();
    let mut harness = world.window();
    until(&mut harness, "the toolbar once voiced answers", |h| {
        has_label(h, "Connect…")
    });

    // The server's self-signed certificate is unknown: the prompt shows its
    // fingerprint; "Accept always" pins it.
    connect_through_dialog(&mut harness, &world.server_addr);
    until(&mut harness, "the trust prompt", |h| {
        has_label(h, UNKNOWN_TITLE)
    });
    let grouped = voice_gui::panels::connect::group_hex(&world.fingerprint);
    assert!(
        has_label(&harness, &grouped),
        "the prompt shows the fingerprint"
    );
    harness.get_by_label(ACCEPT_ALWAYS).click();
    until(&mut harness, "our own row in the tree", |h| {
        has_label_containing(h, "(you)")
    });
    let mut client = world.client();
    let status = world
        .block_on(client.status(Empty {}))
        .unwrap()
        .into_inner();
    assert_eq!(status.state, ConnectionState::Connected as i32);
    let known = world
        .block_on(client.known_servers(Empty {}))
        .unwrap()
        .into_inner();
    assert!(
        known
            .servers
            .iter()
            .any(|k| k.fingerprint.eq_ignore_ascii_case(&world.fingerprint)),
        "accepted always = pinned: {known:?}"
    );

    // A new room inside the root, through the window, then join it.
    harness.get_by_label_contains("(here)").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("New room…").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Room name").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Room name").type_text("Den");
    harness.run_steps(SETTLE);
    harness.get_by_label("Create").click();
    until(&mut harness, "the new room in the tree", |h| {
        has_label(h, "# Den")
    });
    harness.get_by_label("# Den").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Join").click();
    until(&mut harness, "the Den marked as ours", |h| {
        has_label(h, "# Den (here)")
    });
    let state = world.block_on(client.state(Empty {})).unwrap().into_inner();
    let snapshot = state.state.unwrap();
    let den = snapshot.rooms.iter().find(|r| r.name == "Den").unwrap().id;
    let own = snapshot
        .sessions
        .iter()
        .find(|s| s.id == state.session_id)
        .unwrap();
    assert_eq!(own.room, den, "voiced says we are in the Den");

    // Mute: voiced's status says so, and so does our row.
    harness.get_by_label("Mute").click();
    until_daemon(
        &world,
        &mut harness,
        "self-mute",
        |mut c| Box::pin(async move { c.status(Empty {}).await.unwrap().into_inner() }),
        |s| s.self_mute,
    );
    until(&mut harness, "the mute mark on our row", |h| {
        has_label_containing(h, "(you) 🔇")
    });

    // Chat in the room: typed, sent with Enter, kept by voiced.
    harness.get_by_label("Message").click();
    harness.run_steps(SETTLE);
    harness
        .get_by_label("Message")
        .type_text("hello from egui https://example.org");
    harness.run_steps(SETTLE);
    harness.key_press(egui::Key::Enter);
    let history = until_daemon(
        &world,
        &mut harness,
        "the chat line",
        |mut c| {
            Box::pin(async move {
                c.chat_history(ChatHistoryRequest {
                    room: "/Den".to_owned(),
                    limit: 0,
                })
                .await
                .unwrap()
                .into_inner()
                .messages
            })
        },
        |m| !m.is_empty(),
    );
    assert_eq!(history[0].text, "hello from egui https://example.org");
    until(&mut harness, "the link in the chat", |h| {
        has_label(h, "https://example.org")
    });

    // Drag our own row onto the root room: we go there.
    let from = harness.get_by_label_contains("(you)").rect().center();
    let to = harness
        .get_by(|n| {
            n.label()
                .is_some_and(|l| l.starts_with("# ") && !l.contains("Den"))
        })
        .rect()
        .center();
    harness.hover_at(from);
    harness.run_steps(SETTLE);
    harness.drag_at(from);
    harness.run_steps(SETTLE);
    for i in 1..=6 {
        harness.hover_at(from.lerp(to, i as f32 / 6.0));
        harness.run_steps(SETTLE);
    }
    harness.drop_at(to);
    harness.run_steps(SETTLE);
    until_daemon(
        &world,
        &mut harness,
        "our session back in the root after the drop",
        |mut c| {
            Box::pin(async move {
                let state = c.state(Empty {}).await.unwrap().into_inner();
                let own = state.session_id;
                state
                    .state
                    .and_then(|s| s.sessions.into_iter().find(|x| x.id == own))
                    .map(|s| s.room)
            })
        },
        |room| *room == Some(0),
    );

    // Closing the window leaves the call up.
    drop(harness);
    let status = world
        .block_on(client.status(Empty {}))
        .unwrap()
        .into_inner();
    assert_eq!(status.state, ConnectionState::Connected as i32);
}

#[test]
fn a_changed_certificate_is_refused_loudly() {
    let mut world = World::new(true);
    world.start_daemon();
    // Pin some other certificate for this server first.
    let mut client = world.client();
    world
        .block_on(client.trust(TrustRequest {
            server: world.server_addr.clone(),
            fingerprint: "ab".repeat(32),
            permanent: true,
        }))
        .unwrap();
    let mut harness = world.window();
    until(&mut harness, "the toolbar", |h| has_label(h, "Connect…"));
    connect_through_dialog(&mut harness, &world.server_addr);
    until(&mut harness, "the refusal", |h| has_label(h, CHANGED_TITLE));
    assert!(
        !has_label(&harness, ACCEPT_ALWAYS),
        "no quick accept for a changed certificate"
    );
    let status = world
        .block_on(client.status(Empty {}))
        .unwrap()
        .into_inner();
    assert_ne!(status.state, ConnectionState::Connected as i32);
    harness.get_by_label("Cancel").click();
    until(&mut harness, "the refusal gone", |h| {
        !has_label(h, CHANGED_TITLE)
    });
}

#[test]
fn without_voiced_the_window_says_how_to_start_it_and_comes_back_after_restarts() {
    let mut world = World::new(false);
    let mut harness = world.window();
    until(&mut harness, "the not-running view", |h| {
        has_label(h, NOT_RUNNING)
    });
    assert!(has_label_containing(&harness, voiced_client::HOW_TO_START));

    world.start_daemon();
    until(&mut harness, "the toolbar once voiced starts", |h| {
        has_label(h, "Connect…")
    });

    world.stop_daemon();
    until(&mut harness, "the not-running view again", |h| {
        has_label(h, NOT_RUNNING)
    });
    world.start_daemon();
    until(&mut harness, "the toolbar after the restart", |h| {
        has_label(h, "Connect…")
    });
}

/// Drags the node labelled `from` onto the node labelled `to`.
fn drag(harness: &mut egui_kittest::Harness<'_, voice_gui::App>, from: &str, to: &str) {
    let from = harness.get_by_label(from).rect().center();
    let to = harness.get_by_label(to).rect().center();
    harness.hover_at(from);
    harness.run_steps(SETTLE);
    harness.drag_at(from);
    harness.run_steps(SETTLE);
    for i in 1..=6 {
        harness.hover_at(from.lerp(to, i as f32 / 6.0));
        harness.run_steps(1);
    }
    harness.drop_at(to);
    harness.run_steps(SETTLE);
}

#[test]
fn accept_once_and_what_others_may_not_do_is_refused_visibly() {
    let mut world = World::new(true);
    world.start_daemon();
    let mut harness = world.window();
    until(&mut harness, "the toolbar", |h| has_label(h, "Connect…"));
    connect_through_dialog(&mut harness, &world.server_addr);
    until(&mut harness, "the trust prompt", |h| {
        has_label(h, UNKNOWN_TITLE)
    });
    harness.get_by_label(ACCEPT_ONCE).click();
    until(&mut harness, "our own row", |h| {
        has_label_containing(h, "(you)")
    });
    let mut client = world.client();
    let known = world
        .block_on(client.known_servers(Empty {}))
        .unwrap()
        .into_inner();
    assert!(
        known.servers.is_empty(),
        "accepted once = not pinned: {known:?}"
    );

    // Bob comes; a room to move him to.
    let _bob = world.other_user("Bob");
    world
        .block_on(client.create_room(CreateRoomRequest {
            parent: "/".to_owned(),
            name: "Den".to_owned(),
            description: String::new(),
        }))
        .unwrap();
    until(&mut harness, "Bob's row and the Den", |h| {
        has_label(h, "Bob") && has_label(h, "# Den")
    });
    assert!(
        has_label_containing(&harness, "Bob connected"),
        "news of Bob"
    );

    // His menu: local volume and mute, no moderation without the rights.
    harness.get_by_label("Bob").click_secondary();
    harness.run_steps(SETTLE);
    assert!(has_label(&harness, "Mute for me"));
    assert!(!has_label(&harness, "Kick"));
    assert!(!has_label(&harness, "Move to"));
    harness.key_press(egui::Key::Escape);
    harness.run_steps(SETTLE);

    // Dragging him anyway: the server refuses, and the window says so.
    drag(&mut harness, "Bob", "# Den");
    until(&mut harness, "the refusal as a notification", |h| {
        has_label_containing(h, "move user failed")
    });

    // A double-click on a room joins it.
    let den = harness.get_by_label("# Den");
    den.click();
    den.click();
    until(&mut harness, "the Den marked as ours", |h| {
        has_label(h, "# Den (here)")
    });
    let state = world.block_on(client.state(Empty {})).unwrap().into_inner();
    let snapshot = state.state.unwrap();
    let bob = snapshot.sessions.iter().find(|s| s.name == "Bob").unwrap();
    assert_eq!(bob.room, 0, "Bob stays in the root");
    let den = snapshot.rooms.iter().find(|r| r.name == "Den").unwrap().id;
    let own = snapshot
        .sessions
        .iter()
        .find(|s| s.id == state.session_id)
        .unwrap();
    assert_eq!(own.room, den, "voiced says the double-click joined the Den");
}

#[test]
fn settings_work_with_an_audio_less_voiced() {
    let mut world = World::new(false);
    world.start_daemon();
    let mut harness = world.window();
    until(&mut harness, "the toolbar", |h| has_label(h, "Connect…"));
    harness.get_by_label("Settings…").click();
    // This voiced has no audio engine: its device list is refused, which
    // is news in a corner, and the rest of the settings still work.
    until(&mut harness, "the settings with voiced's answers", |h| {
        has_label(h, "40 ms") && h.state().model.audio.is_some()
    });
    harness.get_by_label("40 ms").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Apply").click();
    let config: AudioConfig = until_daemon(
        &world,
        &mut harness,
        "the new frame size",
        |mut c| Box::pin(async move { c.audio_settings(Empty {}).await.unwrap().into_inner() }),
        |c| c.frame_ms == 40,
    );
    assert_eq!(config.frame_ms, 40);
    // The window shows what voiced holds (the null backend has no echo
    // path: echo cancellation and automatic gain start off there), and
    // writes back only what was changed.
    let toggled = |h: &egui_kittest::Harness<'_, voice_gui::App>, label: &str| {
        h.get_by_label(label).accesskit_node().toggled()
    };
    assert_eq!(toggled(&harness, "Echo cancellation"), Some(Toggled::False));
    assert_eq!(
        toggled(&harness, "Automatic gain control"),
        Some(Toggled::False)
    );
    harness.get_by_label("Echo cancellation").click();
    harness.run_steps(SETTLE);
    assert_eq!(toggled(&harness, "Echo cancellation"), Some(Toggled::True));
    harness.get_by_label("Apply").click();
    let config: AudioConfig = until_daemon(
        &world,
        &mut harness,
        "echo cancellation on",
        |mut c| Box::pin(async move { c.audio_settings(Empty {}).await.unwrap().into_inner() }),
        |c| c.echo_cancellation,
    );
    assert_eq!(
        (config.frame_ms, config.auto_gain, config.noise_suppression),
        (40, false, true)
    );
    // A headset user turns it off again.
    harness.get_by_label("Echo cancellation").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Apply").click();
    until_daemon(
        &world,
        &mut harness,
        "echo cancellation off",
        |mut c| Box::pin(async move { c.audio_settings(Empty {}).await.unwrap().into_inner() }),
        |c| !c.echo_cancellation,
    );
    // The push-to-talk key: click, press another key; kept for the next run.
    harness.get_by_label("F9").click();
    harness.run_steps(SETTLE);
    harness.key_press(egui::Key::F10);
    until(&mut harness, "the new key shown", |h| has_label(h, "F10"));
    let prefs = voice_gui::prefs::Prefs::load(&world.dir.path().join("config/voice/gui.toml"));
    assert_eq!(prefs.unwrap().ptt_key(), egui::Key::F10);

    if harness.state().model.devices.is_none() {
        until(&mut harness, "the refused device list as news", |h| {
            has_label_containing(h, "audio devices failed")
        });
    }
}
