//! Access: a room's rules and who may do what there (`a`), a user's roles
//! granted and revoked from their row (`u`), and every refused call read in
//! full ("why can't I …?", `w`), from voiced's message and the mirrored rules.

use crossterm::event::{KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use voice_proto::State;
use voice_proto::acl::{Permissions, Subject, lacking};
use voice_proto::pb::control::StateReply;
use voice_proto::pb::control::event::Kind;
use voice_proto::pb::wire::{
    AclRule, Change, Permission, Role, RoomAcl, SessionRoles, acl_rule, change,
};
use voice_proto::state::ROOT;
use voice_tui::model::{AclTab, AclView, Modal, Reading, RowKind};
use voice_tui::update::{ACL_KEY, ROLES_KEY, WHY_KEY};
use voice_tui::view::acl::{lines, max_scroll};
use voice_tui::{Action, App, Command, update};
use voiced_client::link::Report;

use crate::fixtures::*;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn bits(permissions: &[Permission]) -> u32 {
    permissions
        .iter()
        .fold(0, |all, p| all | Permissions::bit(*p))
}

fn rule(subject: acl_rule::Subject, allow: u32, deny: u32, here: bool, below: bool) -> AclRule {
    AclRule {
        subject: Some(subject),
        allow,
        deny,
        apply_here: here,
        apply_subs: below,
    }
}

fn everyone() -> acl_rule::Subject {
    acl_rule::Subject::Role("everyone".into())
}

/// The fixture server with rules: at the root everyone may traverse,
/// enter, speak and chat everywhere, and `mod` (bob) may mute and move
/// below it; Games gives bob file sharing there and takes chat away below
/// it (so not in Games itself); Music keeps everyone out.
fn ruled_state() -> State {
    use Permission::*;
    let mut state = state();
    let changes = [
        change::Kind::AddRole(Role {
            name: "mod".into(),
            description: "keeps order".into(),
        }),
        change::Kind::SetSessionRoles(SessionRoles {
            session: BOB,
            roles: vec!["mod".into()],
        }),
        change::Kind::SetRoomAcl(RoomAcl {
            room: ROOT,
            inherit_acl: true,
            rules: vec![
                rule(
                    everyone(),
                    bits(&[Traverse, Enter, Speak, TextMessage]),
                    0,
                    true,
                    true,
                ),
                rule(
                    acl_rule::Subject::Role("mod".into()),
                    bits(&[MuteDeafen, MoveUsers]),
                    0,
                    false,
                    true,
                ),
            ],
        }),
        change::Kind::SetRoomAcl(RoomAcl {
            room: GAMES,
            inherit_acl: true,
            rules: vec![
                rule(
                    acl_rule::Subject::UserKey(vec![BOB as u8; 32]),
                    bits(&[ShareFiles]),
                    0,
                    true,
                    false,
                ),
                rule(everyone(), 0, bits(&[TextMessage]), false, true),
            ],
        }),
        change::Kind::SetRoomAcl(RoomAcl {
            room: MUSIC,
            inherit_acl: true,
            rules: vec![rule(everyone(), 0, bits(&[Enter]), true, true)],
        }),
    ];
    for kind in changes {
        state
            .apply(&Change { kind: Some(kind) })
            .expect("the rules apply to the fixture");
    }
    state
}

/// Connected to the server with rules, on a screen of 80×24.
fn ruled() -> App {
    let mut app = connected();
    let state = ruled_state();
    let _ = update(
        &mut app,
        event(Kind::State(StateReply {
            state: Some(state.snapshot()),
            hash: state.hash().to_vec(),
            session_id: ME,
        })),
    );
    let _ = update(&mut app, Action::Resize(80, 24));
    app
}

fn screen(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .unwrap();
    terminal.backend().to_string()
}

/// Snapshots at both sizes; returns the screens.
fn snapshot(name: &str, app: &mut App) -> Vec<String> {
    SIZES
        .iter()
        .map(|&(w, h)| {
            let _ = update(app, Action::Resize(w, h));
            let screen = screen(app, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
            screen
        })
        .collect()
}

fn acl_view(app: &App) -> AclView {
    match &app.modal {
        Some(Modal::Acl(view)) => *view,
        other => panic!("no access overlay: {other:?}"),
    }
}

fn failed(what: &'static str, message: &str) -> Action {
    Action::Link(Report::Failed {
        what,
        message: message.to_owned(),
        trust: None,
    })
}

#[test]
fn the_rules_of_a_room_list_inherited_ones_with_their_room_then_its_own() {
    let mut app = ruled();
    assert_eq!(app.selected, Some(RowKind::Room(GAMES)));
    assert!(update(&mut app, key(ACL_KEY)).is_empty());
    assert_eq!(acl_view(&app), AclView::new(GAMES));
    let screens = snapshot("acl_rules", &mut app);
    let big = &screens[1];
    for text in [
        "Access: /Games",
        "/Games (room 1)",
        "Inherited, in the order they apply",
        "from /           #0  role everyone  [here and below]",
        "allow traverse,enter,speak,text_message",
        "from /           #1  role mod  [below only]",
        "allow mute_deafen,move_users",
        "This room's own",
        "own              #0  user bob (02020202…)  [here only]",
        "allow share_files",
        "own              #1  role everyone  [below only] (not in force here)",
        "deny text_message",
    ] {
        assert!(big.contains(text), "{text:?} missing:\n{big}");
    }
    // Inherited rules come before the room's own.
    assert!(big.find("from /").unwrap() < big.find("own   ").unwrap());
    // Esc closes it.
    let _ = update(&mut app, key(KeyCode::Esc));
    assert!(app.modal.is_none());
}

#[test]
fn the_second_tab_says_who_may_do_what_and_scrolls() {
    let mut app = ruled();
    let _ = run(&mut app, [key(ACL_KEY), key(KeyCode::Tab)]);
    assert_eq!(acl_view(&app).tab, AclTab::Effective);
    let screens = snapshot("acl_effective", &mut app);
    let big = &screens[1];
    for text in [
        "Who may do what in /Games (room 1)",
        "               ann     bob     cleo    dan",
        "share_files    ✗       ✓       ✗       ✗",
        "move_users     ✗       ✓       ✗       ✗",
        "Why, user by user",
        "ann (you)  4 of 15 allowed",
        "✓ traverse       allowed  rule #0 of /",
        "✗ share_files    denied   no rule grants it",
    ] {
        assert!(big.contains(text), "{text:?} missing:\n{big}");
    }
    // The whole text: Bob's own rule in Games, his role's rule from the root.
    let text: Vec<String> = lines(&app, &acl_view(&app), 100)
        .iter()
        .map(|l| l.to_string())
        .collect();
    let text = text.join("\n");
    for line in [
        "bob  7 of 15 allowed",
        "✓ share_files    allowed  rule #0 of /Games",
        "✓ move_users     allowed  rule #1 of /",
        "dan  4 of 15 allowed",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    let _ = update(&mut app, Action::Resize(80, 24));
    let max = max_scroll(&app, &acl_view(&app));
    assert!(max > 0, "4 users × 15 permissions do not fit 80×24");
    let _ = run(&mut app, [ch('j'), ch('j')]);
    assert_eq!(acl_view(&app).scroll, 2);
    let _ = run(
        &mut app,
        [key(KeyCode::End), ch('j'), key(KeyCode::PageDown)],
    );
    assert_eq!(acl_view(&app).scroll, max, "kept within the text");
    let bottom = screen(&app, 80, 24);
    assert!(bottom.contains("▲ more"), "{bottom}");
    assert!(
        bottom.contains("✗ read_history   denied   no rule grants it"),
        "{bottom}"
    );
    // The mouse wheel scrolls it too; Tab goes back to the rules, at the top.
    let wheel = |kind| {
        Action::Mouse(MouseEvent {
            kind,
            column: 40,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    let _ = update(&mut app, wheel(MouseEventKind::ScrollUp));
    assert_eq!(acl_view(&app).scroll, max - 3);
    let _ = update(&mut app, key(KeyCode::Tab));
    assert_eq!(acl_view(&app), AclView::new(GAMES));
}

#[test]
fn a_users_roles_show_and_enter_grants_or_revokes() {
    let mut app = ruled();
    app.selected = Some(RowKind::User(BOB));
    assert!(update(&mut app, key(ROLES_KEY)).is_empty());
    let screens = snapshot("roles", &mut app);
    let small = &screens[0];
    for text in [
        "Roles of bob",
        "[ ] admin",
        "[✓] everyone         (built-in) everyone holds it",
        "[ ] known",
        "[✓] mod              keeps order",
    ] {
        assert!(small.contains(text), "{text:?} missing:\n{small}");
    }
    // everyone cannot be taken away; known is granted, mod revoked.
    let _ = update(&mut app, key(KeyCode::Down));
    assert!(update(&mut app, key(KeyCode::Enter)).is_empty());
    let grant = run(&mut app, [key(KeyCode::Down), key(KeyCode::Enter)]);
    assert_eq!(
        grant,
        [Command::GrantRole {
            session: BOB,
            role: "known".into(),
        }]
    );
    let revoke = run(&mut app, [ch('j'), ch(' ')]);
    assert_eq!(
        revoke,
        [Command::RevokeRole {
            session: BOB,
            role: "mod".into(),
        }]
    );
    // On a room row, the roles are your own.
    let _ = update(&mut app, key(KeyCode::Esc));
    app.selected = Some(RowKind::Room(GAMES));
    let _ = update(&mut app, key(ROLES_KEY));
    assert!(matches!(&app.modal, Some(Modal::Roles(v)) if v.session == ME));
}

#[test]
fn a_refused_grant_shows_under_the_roles_with_why() {
    let mut app = ruled();
    app.selected = Some(RowKind::User(BOB));
    let _ = run(&mut app, [key(ROLES_KEY), ch('j'), ch('j')]);
    let calls = update(&mut app, key(KeyCode::Enter));
    assert!(matches!(calls.as_slice(), [Command::GrantRole { .. }]));
    let message = lacking(
        app.mirror.state.as_ref().unwrap(),
        Subject::from(app.mirror.own_session().unwrap()),
        Permission::ManageRoles,
        ROOT,
    );
    let _ = update(&mut app, failed("grant role", &message));
    let refusal = app.refusal.clone().unwrap();
    assert_eq!(refusal.needs, Some((Permission::ManageRoles, ROOT)));
    assert_eq!(
        refusal.reading,
        Reading::Lacking {
            why: "no rule grants it there".into(),
            words: message.clone(),
        }
    );
    let roles = screen(&app, 80, 24);
    assert!(
        roles.contains("grant role failed: you lack the manage_roles"),
        "{roles}"
    );
    assert!(roles.contains("(w: why)"), "{roles}");
    // w opens the full reason from the roles overlay.
    let _ = update(&mut app, key(WHY_KEY));
    assert_eq!(app.modal, Some(Modal::Why));
    let why = screen(&app, 120, 40);
    assert!(why.contains("Why can't I grant role?"), "{why}");
    assert!(
        why.contains("It needs the manage_roles permission in /."),
        "{why}"
    );
}

#[test]
fn a_refused_join_offers_why_and_says_it_in_full() {
    let mut app = ruled();
    app.selected = Some(RowKind::Room(MUSIC));
    assert_eq!(
        update(&mut app, key(KeyCode::Enter)),
        [Command::Join(MUSIC.to_string())]
    );
    // The server's refusal, as it words it.
    let message = lacking(
        app.mirror.state.as_ref().unwrap(),
        Subject::from(app.mirror.own_session().unwrap()),
        Permission::Enter,
        MUSIC,
    );
    assert_eq!(
        message,
        "you lack the enter permission in /Music: rule #0 of /Music (role everyone: deny enter) takes it away"
    );
    let _ = update(&mut app, failed("join", &message));
    let refusal = app.refusal.clone().unwrap();
    assert_eq!(refusal.needs, Some((Permission::Enter, MUSIC)));
    assert_eq!(
        refusal.reading,
        Reading::Lacking {
            why: "rule #0 of /Music (role everyone: deny enter) takes it away".into(),
            words: message.clone(),
        }
    );
    assert_eq!(app.notice.as_deref(), Some(refusal.notice().as_str()));
    let main = screen(&app, 80, 24);
    let hint = main.lines().last().unwrap();
    assert!(
        hint.contains("w: why? join failed: you lack the enter permission"),
        "{main}"
    );
    let _ = update(&mut app, key(WHY_KEY));
    assert_eq!(app.modal, Some(Modal::Why));
    let screens = snapshot("why_join", &mut app);
    let big = &screens[1];
    for text in [
        "Why can't I join?",
        "join failed. voiced says:",
        "It needs the enter permission in /Music.",
        "By the rules this client mirrors, you lack it:",
        "rule #0 of /Music (role everyone: deny enter) takes it away",
        "a: the rules of /Music",
    ] {
        assert!(big.contains(text), "{text:?} missing:\n{big}");
    }
    // From there, the rules of the room that refused.
    let _ = update(&mut app, key(ACL_KEY));
    assert_eq!(acl_view(&app), AclView::new(MUSIC));
    // Esc on the main screen clears the notice, and with it the why line.
    let _ = run(&mut app, [key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert!(app.notice.is_none());
    assert!(!screen(&app, 80, 24).contains("why?"));
}

#[test]
fn a_refusal_the_mirrored_rules_do_not_explain_says_so() {
    let mut app = ruled();
    // ann may chat in Games (the deny there is for the rooms below).
    let calls = run(
        &mut app,
        [ch('i')]
            .into_iter()
            .chain(typed("hi"))
            .chain([key(KeyCode::Enter)]),
    );
    assert_eq!(calls.len(), 1);
    let _ = update(
        &mut app,
        failed("send chat", "slow down: 5 messages a second at most"),
    );
    let refusal = app.refusal.clone().unwrap();
    assert_eq!(refusal.needs, Some((Permission::TextMessage, GAMES)));
    assert_eq!(refusal.reading, Reading::Held);
    let _ = run(&mut app, [key(KeyCode::Esc), key(WHY_KEY)]);
    let why = screen(&app, 120, 40);
    assert!(
        why.contains("slow down: 5 messages a second at most"),
        "{why}"
    );
    assert!(
        why.contains("By the rules this client mirrors you hold text_message there"),
        "{why}"
    );
    // A call no permission guards: voiced's message alone.
    let _ = update(&mut app, key(KeyCode::Esc));
    let _ = update(&mut app, failed("download", "no seeder left"));
    let refusal = app.refusal.clone().unwrap();
    assert_eq!((refusal.needs, refusal.reading), (None, Reading::Unknown));
    // A fetch for the screen that fails is news, not a refused action.
    let _ = update(&mut app, ch('f'));
    let _ = update(&mut app, failed("files", "voiced is not running"));
    assert_eq!(
        app.notice.as_deref(),
        Some("files failed: voiced is not running")
    );
    assert!(!app.refusal_shown());
    assert_eq!(app.refusal.as_ref().map(|r| r.what), Some("download"));
}

#[test]
fn a_click_on_the_refusal_opens_why_and_names_are_escaped() {
    let mut app = ruled();
    app.selected = Some(RowKind::Room(MUSIC));
    let _ = update(&mut app, key(KeyCode::Enter));
    let _ = update(&mut app, failed("join", "room \u{1b}[31mfull\u{7}"));
    let main = screen(&app, 80, 24);
    assert!(
        !main.contains('\u{1b}') && !main.contains('\u{7}'),
        "{main}"
    );
    let click = Action::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 3,
        row: 23,
        modifiers: KeyModifiers::NONE,
    });
    let _ = update(&mut app, click);
    assert_eq!(app.modal, Some(Modal::Why));
    let why = screen(&app, 80, 24);
    assert!(!why.contains('\u{1b}') && !why.contains('\u{7}'), "{why}");
}
