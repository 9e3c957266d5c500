//! A file shared by another user reaches us through the window: the magnet
//! link in chat is a *Download* button, the Files panel follows the
//! transfer to *Open folder*, and the file voiced put in our download
//! directory has the sharer's bytes. Each transfer says whether its peers
//! are connected directly or through the server's relay.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use voice_gui::App;
use voice_gui::panels::files::{DOWNLOAD, OPEN_FOLDER, ROUTE, files_ui};
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{Empty, Event, ShareRequest, Transfer, TransferKind, TransferState};
use voiced_client::link::Report;

use crate::support::{SETTLE, World, until, until_daemon};

/// `len` pseudo-random bytes (xorshift64*, seeded from the clock): no two
/// runs share a file, and nothing compresses or repeats.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn a_magnet_link_in_chat_downloads_through_the_files_panel() {
    let started = Instant::now();
    let mut world = World::new(true);
    // Our downloads go to a temp dir, never to the user's Downloads.
    let downloads = world.dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    world.write_config(&format!(
        "download_dir = {:?}\n",
        downloads.to_str().unwrap()
    ));
    world.start_daemon();
    world.connect_daemon("Bob");
    let mut harness = world.window();
    until(&mut harness, "our own row once connected", |h| {
        h.query_by_label_contains("(you)").is_some()
    });

    // Alice shares 1 MiB in the room we are both in: voiced posts its
    // magnet link in the chat.
    let mut alice = world.other_user("Alice");
    let data = random_bytes(1024 * 1024);
    let original = world.dir.path().join("shared.bin");
    std::fs::write(&original, &data).unwrap();
    let shared = world
        .block_on(alice.share(ShareRequest {
            path: original.to_str().unwrap().to_owned(),
            room: String::new(),
        }))
        .unwrap()
        .into_inner();
    assert_eq!(shared.size, data.len() as u64);

    // The link is a Download button in our chat; clicking it opens the
    // Files panel, whose transfer ends with Open folder.
    until(&mut harness, "the magnet link's Download button", |h| {
        h.query_by_label(DOWNLOAD).is_some()
    });
    harness.get_by_label(DOWNLOAD).click();
    harness.run_steps(SETTLE);
    until(&mut harness, "Open folder on the finished transfer", |h| {
        h.query_by_label(OPEN_FOLDER).is_some()
    });
    assert!(
        harness.query_by_label("Transfers").is_some(),
        "the Files panel is open"
    );

    // voiced agrees: one complete download of Alice's file, in our dir,
    // with her bytes.
    let info_hash = shared.info_hash.clone();
    let transfers: Vec<Transfer> = until_daemon(
        &world,
        &mut harness,
        "the download complete",
        |mut c| {
            Box::pin(async move { c.transfers(Empty {}).await.unwrap().into_inner().transfers })
        },
        |all| {
            all.iter().any(|t| {
                t.kind == TransferKind::Download as i32 && t.state == TransferState::Complete as i32
            })
        },
    );
    let done = transfers
        .iter()
        .find(|t| t.kind == TransferKind::Download as i32)
        .unwrap();
    assert_eq!(done.info_hash, info_hash);
    assert_eq!(done.size, data.len() as u64);
    let path = std::path::Path::new(&done.path);
    assert!(
        path.starts_with(&downloads),
        "downloaded into download_dir: {path:?}"
    );
    assert!(
        std::fs::read(path).unwrap() == data,
        "the downloaded file has the shared bytes"
    );
    eprintln!(
        "shared and downloaded through the window in {:?}",
        started.elapsed()
    );
}

/// A transfer as voiced reports it, its `peers` connected by `route`,
/// `relayed` of them through the server's relay.
fn routed(id: u32, name: &str, route: &str, peers: u32, relayed: u32) -> Transfer {
    Transfer {
        id,
        kind: TransferKind::Download as i32,
        state: TransferState::Downloading as i32,
        name: name.to_owned(),
        size: 64 * 1024 * 1024,
        done_bytes: 16 * 1024 * 1024,
        peers,
        route: route.to_owned(),
        relayed_peers: relayed,
        relayed_bytes: u64::from(relayed) * (14 * 1024 * 1024 + 200 * 1024),
        ..Transfer::default()
    }
}

#[test]
fn each_transfer_says_whether_it_goes_through_the_relay() {
    // No daemon: the transfers come into the window's mirror as voiced's
    // events would, and only the Files panel is drawn.
    let world = World::new(false);
    let mut app = App::new(world.socket.clone(), None, &egui::Context::default()).unwrap();
    for t in [
        routed(1, "direct.bin", "direct", 2, 0),
        routed(2, "relayed.bin", "relayed", 2, 1),
        routed(3, "mixed.bin", "mixed", 3, 1),
        routed(4, "lonely.bin", "", 0, 0),
    ] {
        let _ = app.model.apply(Report::Event(Event {
            kind: Some(Kind::Transfer(t)),
        }));
    }
    let mut harness = Harness::builder()
        .with_size(egui::vec2(420.0, 720.0))
        .build_ui_state(|ui, app: &mut App| files_ui(ui, app), app);
    harness.run_steps(SETTLE);

    assert!(harness.query_by_label("Route: direct").is_some());
    assert!(
        harness
            .query_by_label("Route: relayed (1 of 2 peers, 14.2 MiB)")
            .is_some()
    );
    assert!(
        harness
            .query_by_label("Route: mixed (1 of 3 peers, 14.2 MiB)")
            .is_some()
    );
    // A transfer with no peer has no route to show.
    assert_eq!(harness.query_all_by_label_contains(ROUTE).count(), 3);
}
