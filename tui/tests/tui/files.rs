//! The files pane: opening it asks voiced for the room's files, keys
//! download and cancel, transfers show with a gauge and their route, direct
//! or through the server's relay (snapshots).

use crossterm::event::KeyCode;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::control::{FileEntry, Transfer, TransferKind, TransferState};
use voice_proto::pb::wire::{Change, SharedFile, StateUpdate, change};
use voice_tui::model::{FilesRow, Focus, Pane};
use voice_tui::update::FILES_REFRESH_MS;
use voice_tui::{Action, App, Command, update};
use voiced_client::command::Answer;
use voiced_client::link::Report;

use crate::fixtures::*;

fn entry(id: u32, name: &str, size: u64, sharer: &str, seeders: u32) -> FileEntry {
    FileEntry {
        id,
        name: name.to_owned(),
        size,
        sharer: sharer.to_owned(),
        seeders,
        room: GAMES,
        ..FileEntry::default()
    }
}

fn files_answer() -> Action {
    Action::Link(Report::Answer(Answer::Files {
        room: GAMES,
        files: vec![
            entry(1, "board-openings.pdf", 3 * 1024 * 1024 + 200_000, "bob", 2),
            entry(2, "tournament rules.txt", 1536, "ann", 1),
            entry(3, "old-recording.ogg", 40 * 1024 * 1024, "cleo", 0),
        ],
    }))
}

fn transfer(id: u32, kind: TransferKind, state: TransferState, name: &str, done: u64) -> Action {
    routed(id, kind, state, name, done, "direct", 0)
}

/// [`transfer`] whose two peers are connected by `route`, `relayed` of
/// them through the server's relay.
fn routed(
    id: u32,
    kind: TransferKind,
    state: TransferState,
    name: &str,
    done: u64,
    route: &str,
    relayed: u32,
) -> Action {
    event(Kind::Transfer(Transfer {
        id,
        kind: kind as i32,
        state: state as i32,
        name: name.to_owned(),
        size: 4 * 1024 * 1024,
        done_bytes: done,
        download_bps: 1024 * 1024 + 300 * 1024,
        peers: 2,
        room: GAMES,
        route: route.to_owned(),
        relayed_peers: relayed,
        relayed_bytes: u64::from(relayed) * 700 * 1024,
        ..Transfer::default()
    }))
}

/// Connected, the files pane open with three files and two transfers.
fn with_files() -> App {
    let mut app = connected();
    assert_eq!(update(&mut app, ch('f')), [Command::LoadFiles(GAMES)]);
    let _ = update(&mut app, files_answer());
    let _ = update(
        &mut app,
        routed(
            7,
            TransferKind::Download,
            TransferState::Downloading,
            "board-openings.pdf",
            1024 * 1024,
            "relayed",
            2,
        ),
    );
    let _ = update(
        &mut app,
        transfer(
            8,
            TransferKind::Share,
            TransferState::Seeding,
            "tournament rules.txt",
            4 * 1024 * 1024,
        ),
    );
    app
}

#[test]
fn the_pane_asks_for_files_downloads_and_cancels() {
    let mut app = with_files();
    assert_eq!((app.pane, app.focus), (Pane::Files, Focus::Files));
    // The first file is selected; Enter and d download it.
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        [Command::Download {
            file: "1".into(),
            to: String::new()
        }]
    );
    // d downloads here (it deafens only in the tree), x only cancels transfers.
    let _ = update(&mut app, ch('j'));
    assert!(update(&mut app, ch('x')).is_empty());
    assert_eq!(
        update(&mut app, ch('d')),
        [Command::Download {
            file: "2".into(),
            to: String::new()
        }]
    );
    // Below the files come the transfers.
    let _ = run(&mut app, [ch('j'), ch('j')]);
    assert_eq!(app.files_selected, Some(FilesRow::Transfer(7)));
    assert!(update(&mut app, ch('d')).is_empty());
    assert_eq!(update(&mut app, ch('x')), [Command::CancelTransfer(7)]);
    let _ = update(
        &mut app,
        Action::Link(Report::Answer(Answer::TransferCancelled(7))),
    );
    assert_eq!(app.files_rows().len(), 4);
    // r lists again; so does an open pane now and then, for the seeders.
    assert_eq!(update(&mut app, ch('r')), [Command::LoadFiles(GAMES)]);
    let now = app.now_ms;
    assert!(update(&mut app, Action::Tick(now + 1000)).is_empty());
    assert_eq!(
        update(&mut app, Action::Tick(now + FILES_REFRESH_MS)),
        [Command::LoadFiles(GAMES)]
    );
    // A file added to the state is fetched with its seeders.
    let added = update(
        &mut app,
        event(Kind::Update(StateUpdate {
            seq: 0,
            change: Some(Change {
                kind: Some(change::Kind::AddFile(SharedFile {
                    id: 4,
                    info_hash: vec![9; 20],
                    name: "new.txt".into(),
                    size: 5,
                    room: GAMES,
                    owner_key: vec![BOB as u8; 32],
                })),
            }),
            resulting_hash: Vec::new(),
            actor: BOB,
        })),
    );
    assert_eq!(added, [Command::LoadFiles(GAMES)]);
    // Esc goes back to the chat; a finished download is news.
    let _ = update(&mut app, key(KeyCode::Esc));
    assert_eq!((app.pane, app.focus), (Pane::Chat, Focus::Tree));
    let mut done = Transfer {
        id: 9,
        kind: TransferKind::Download as i32,
        state: TransferState::Complete as i32,
        name: "x.bin".into(),
        path: "/home/ann/Downloads/x.bin".into(),
        ..Transfer::default()
    };
    let _ = update(&mut app, event(Kind::Transfer(done.clone())));
    assert_eq!(
        app.notice.as_deref(),
        Some("downloaded x.bin to /home/ann/Downloads/x.bin")
    );
    done.state = TransferState::Gone as i32;
    let _ = update(&mut app, event(Kind::Transfer(done)));
    assert!(!app.mirror.transfers.contains_key(&9));
}

#[test]
fn files_pane_snapshots() {
    let mut app = with_files();
    let _ = update(
        &mut app,
        event(Kind::Transfer(Transfer {
            id: 9,
            kind: TransferKind::Download as i32,
            state: TransferState::Failed as i32,
            name: "old-recording.ogg".into(),
            size: 40 * 1024 * 1024,
            error: "no seeder left".into(),
            ..Transfer::default()
        })),
    );
    let _ = update(&mut app, ch('j'));
    for (w, h) in [(80, 24), (120, 40)] {
        let _ = update(&mut app, Action::Resize(w, h));
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|frame| frame.render_widget(&app, frame.area()))
            .unwrap();
        let screen = terminal.backend().to_string();
        // Which transfers go through the server's relay, and how many of
        // their peers where there is room; the failed one has no peer.
        let relayed = if w >= 120 { "relayed 2/2" } else { "relayed" };
        let row = |name: &str| screen.lines().find(|l| l.contains(name)).unwrap_or("");
        assert!(row("↓ board-openin").contains(relayed), "{screen}");
        assert!(row("↑ tournament").contains("direct"), "{screen}");
        let failed = row("↓ old-recordin");
        assert!(
            !failed.contains("direct") && !failed.contains("relayed"),
            "{screen}"
        );
        insta::assert_snapshot!(format!("files_{w}x{h}"), screen);
    }
}
