//! Messages the server sent (a bot's, through the admin API's `SendChat`:
//! sender 0, no key) are tagged after their name, members' are not — drawn
//! from a mirror alone, then through the window with a real bot message.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{ChatHistoryRequest, Event, SendChatRequest};
use voice_proto::pb::wire::ChatMessage;
use voiced_client::chat::{SERVER_TAG, SERVER_TAG_HINT};
use voiced_client::command::Answer;
use voiced_client::link::Report;
use voiced_client::mirror::Mirror;

use voice_gui::panels::chat::messages_ui;

use crate::support::{World, until, until_daemon};

/// A message in the root room: from member `sender` (with a key), or from
/// the server when `sender` is 0.
fn message(id: u64, sender: u32, name: &str, text: &str) -> ChatMessage {
    ChatMessage {
        id,
        seq: id,
        time_ms: 1_795_000_000_000 + id * 60_000,
        sender,
        sender_key: if sender == 0 {
            Vec::new()
        } else {
            vec![sender as u8; 32]
        },
        sender_name: name.into(),
        text: text.into(),
        ..ChatMessage::default()
    }
}

fn harness(mirror: Mirror) -> Harness<'static, Mirror> {
    Harness::builder().with_step_dt(1.0 / 60.0).build_ui_state(
        |ui, mirror: &mut Mirror| {
            messages_ui(ui, mirror, 0);
        },
        mirror,
    )
}

/// The top of the widget labelled `label`.
fn y(h: &Harness<'_, Mirror>, label: &str) -> f32 {
    h.get_by_label(label).rect().top()
}

#[test]
fn a_bots_message_is_tagged_and_the_tag_says_why_on_hover() {
    let mut mirror = Mirror::new();
    mirror.apply(Report::Up);
    for m in [
        message(1, 2, "bob", "hi all"),
        // A bot named like a member.
        message(2, 0, "bob", "not the real bob"),
        message(3, 0, "Greeter", "Welcome, ada!"),
    ] {
        mirror.apply(Report::<Answer>::Event(Event {
            kind: Some(Kind::Chat(m)),
        }));
    }
    let mut h = harness(mirror);
    h.run();
    // One tag per bot message, on its line; none on the member's.
    let tags: Vec<f32> = h
        .query_all_by_label(SERVER_TAG)
        .map(|n| n.rect().center().y)
        .collect();
    assert_eq!(tags.len(), 2, "{:#?}", h.root());
    let on_line = |text: &str| {
        let line = h.get_by_label(text).rect();
        tags.iter().any(|t| line.y_range().contains(*t))
    };
    assert!(!on_line("hi all"));
    assert!(on_line("not the real bob"));
    assert!(on_line("Welcome, ada!"));
    assert!(y(&h, "hi all") < y(&h, "not the real bob"));
    // The tag sits between the name and the text.
    let tag = h.get_all_by_label(SERVER_TAG).last().unwrap().rect();
    assert!(h.get_by_label("Greeter").rect().right() <= tag.left());
    assert!(tag.right() <= h.get_by_label("Welcome, ada!").rect().left());

    assert!(h.query_by_label(SERVER_TAG_HINT).is_none());
    h.get_all_by_label(SERVER_TAG).last().unwrap().hover();
    // Past egui's tooltip delay (half a second).
    h.run_steps(60);
    assert!(
        h.query_by_label(SERVER_TAG_HINT).is_some(),
        "{:#?}",
        h.root()
    );
}

/// A member and a bot chat in the root room of a real server; the window
/// tags the bot's message only.
#[test]
fn a_real_bots_message_is_tagged_in_the_window() {
    let mut world = World::new(true);
    world.start_daemon();
    world.connect_daemon("ada");
    let mut harness = world.window();
    until(&mut harness, "our own row in the tree", |h| {
        h.query_by_label_contains("(you)").is_some()
    });
    let mut client = world.client();
    world
        .block_on(client.send_chat(SendChatRequest {
            text: "hi all".into(),
            ..SendChatRequest::default()
        }))
        .unwrap();
    world.server_chat(0, "Greeter", "Welcome, ada!");
    // voiced has both, the bot's as the server's.
    let kept = until_daemon(
        &world,
        &mut harness,
        "both messages kept by voiced",
        |mut c| {
            Box::pin(async move {
                c.chat_history(ChatHistoryRequest {
                    room: String::new(),
                    limit: 0,
                })
                .await
                .unwrap()
                .into_inner()
                .messages
            })
        },
        |m| m.len() == 2,
    );
    let sender = |text: &str| kept.iter().find(|m| m.text == text).map(|m| m.sender);
    assert!(sender("hi all").is_some_and(|s| s != 0), "{kept:?}");
    assert_eq!(sender("Welcome, ada!"), Some(0), "{kept:?}");
    until(&mut harness, "the bot's message", |h| {
        h.query_by_label("Welcome, ada!").is_some() && h.query_by_label("hi all").is_some()
    });
    let tags: Vec<f32> = harness
        .query_all_by_label(SERVER_TAG)
        .map(|n| n.rect().center().y)
        .collect();
    assert_eq!(tags.len(), 1, "{:#?}", harness.root());
    let bot = harness.get_by_label("Welcome, ada!").rect();
    assert!(bot.y_range().contains(tags[0]));
    assert!(harness.query_by_label("Greeter").is_some());
}
