//! A room's access through the window: the editor opened from the room's
//! menu, an entry added and a permission toggled with the preview following,
//! another entry moved and removed, inheritance turned off, Save, and voiced's state holding exactly those
//! rules; a save the server refuses shows its reason in the editor; a
//! refused join carries a "Why can't I …?" line that unfolds to the rule.

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use voice_gui::App;
use voice_gui::panels::access::{
    ADD_ENTRY, EDIT_ACCESS, INHERIT, SAVE, preview_label, title, toggle_label,
};
use voice_proto::acl::Permissions;
use voice_proto::pb::control::{CreateRoomRequest, Empty, SetAclRequest};
use voice_proto::pb::wire::{AclRule, Permission, acl_rule};

use crate::support::{Client, SETTLE, World, until, until_daemon};

fn has(harness: &Harness<'_, App>, label: &str) -> bool {
    harness.query_by_label(label).is_some()
}

fn create_room(world: &World, client: &mut Client, name: &str) {
    world
        .block_on(client.create_room(CreateRoomRequest {
            parent: "/".to_owned(),
            name: name.to_owned(),
            description: String::new(),
        }))
        .unwrap();
}

/// Opens the editor of `room` (a row's label) from its context menu.
fn open_editor(harness: &mut Harness<'_, App>, row: &str, path: &str) {
    harness.get_by_label(row).click_secondary();
    harness.run_steps(SETTLE);
    harness.get_by_label(EDIT_ACCESS).click();
    let title = title(path);
    until(harness, "the access editor", |h| has(h, &title));
}

/// Adds an entry for `subject` ("user Bob") through the Add entry menu.
fn add_entry(harness: &mut Harness<'_, App>, subject: &str) {
    harness.get_by_label(ADD_ENTRY).click();
    harness.run_steps(SETTLE);
    harness
        .get_by_role_and_label(egui::accesskit::Role::Button, subject)
        .click();
    harness.run_steps(SETTLE);
}

fn toggle(harness: &mut Harness<'_, App>, label: &str) {
    let node = harness.get_by_label(label);
    node.scroll_to_me();
    harness.run_steps(SETTLE);
    harness.get_by_label(label).click();
    harness.run_steps(SETTLE);
}

#[test]
fn an_admin_edits_a_rooms_access_and_voiced_gets_exactly_those_rules() {
    let mut world = World::new(true);
    world.start_daemon();
    world.connect_daemon_as_admin("Ada");
    let mut client = world.client();
    create_room(&world, &mut client, "Den");
    let _bob = world.other_user("Bob");
    let mut harness = world.window();
    until(&mut harness, "the Den and Bob", |h| {
        has(h, "# Den") && has(h, "Bob")
    });

    open_editor(&mut harness, "# Den", "/Den");
    let speaks = preview_label("Bob", "speak", true);
    let silenced = preview_label("Bob", "speak", false);
    assert!(has(&harness, &speaks), "Bob speaks by the root's rules");

    // A rule for Bob taking speech away: the preview follows at once.
    add_entry(&mut harness, "user Bob");
    assert!(
        harness
            .query_by_role_and_label(egui::accesskit::Role::Button, "entry 1: user Bob")
            .is_some()
    );
    toggle(&mut harness, &toggle_label(Permission::Speak, true));
    until(&mut harness, "Bob silenced in the preview", |h| {
        has(h, &silenced)
    });
    assert!(has(&harness, &preview_label("Bob", "enter", true)));

    // A second entry, moved before Bob's, then removed again.
    add_entry(&mut harness, "role everyone");
    let button = egui::accesskit::Role::Button;
    assert!(
        harness
            .query_by_role_and_label(button, "entry 2: role everyone")
            .is_some()
    );
    harness.get_by_label("Move entry 2 up").click();
    until(&mut harness, "the everyone entry first", |h| {
        h.query_by_role_and_label(button, "entry 1: role everyone")
            .is_some()
    });
    harness.get_by_label("Remove entry 1").click();
    until(&mut harness, "only Bob's entry left", |h| {
        h.query_by_role_and_label(button, "entry 1: user Bob")
            .is_some()
            && !h.query_all_by_label("Remove entry 2").any(|_| true)
    });

    // Not inheriting the root's rules: Bob may not even pass through.
    toggle(&mut harness, INHERIT);
    until(&mut harness, "nothing granted without inheritance", |h| {
        has(h, &preview_label("Bob", "traverse", false))
            && has(h, &preview_label("Bob", "enter", false))
    });
    assert!(
        has(&harness, &preview_label("Ada", "enter", true)),
        "the admin keeps everything"
    );
    // Nothing has been sent yet.
    let state = world.block_on(client.state(Empty {})).unwrap().into_inner();
    let den = state
        .state
        .as_ref()
        .and_then(|s| s.rooms.iter().find(|r| r.name == "Den"))
        .unwrap();
    assert!(den.inherit_acl && den.acl.is_empty(), "{den:?}");

    harness.get_by_label(SAVE).click();
    until(&mut harness, "the editor closed after the save", |h| {
        !has(h, &title("/Den"))
    });
    let bob_key = state
        .state
        .as_ref()
        .and_then(|s| s.sessions.iter().find(|x| x.name == "Bob"))
        .map(|s| s.public_key.clone())
        .unwrap();
    let expected = vec![AclRule {
        subject: Some(acl_rule::Subject::UserKey(bob_key)),
        allow: 0,
        deny: Permissions::bit(Permission::Speak),
        apply_here: true,
        apply_subs: true,
    }];
    let den = until_daemon(
        &world,
        &mut harness,
        "the Den's new rules in voiced's state",
        |mut c| {
            Box::pin(async move {
                let state = c.state(Empty {}).await.unwrap().into_inner().state;
                state.and_then(|s| s.rooms.into_iter().find(|r| r.name == "Den"))
            })
        },
        |den| den.as_ref().is_some_and(|d| !d.inherit_acl),
    )
    .unwrap();
    assert_eq!(den.acl, expected);
}

#[test]
fn refusals_say_why_in_the_editor_and_under_a_refused_join() {
    let mut world = World::new(true);
    world.start_daemon();
    world.connect_daemon("Cy");
    // An administrator elsewhere: everyone may edit the Lab (but grant
    // only what they hold), nobody may enter the Vault.
    let mut admin = world.other_admin("Root");
    create_room(&world, &mut admin, "Lab");
    create_room(&world, &mut admin, "Vault");
    let everyone = || Some(acl_rule::Subject::Role("everyone".to_owned()));
    for (room, allow, deny) in [
        ("/Lab", Permissions::bit(Permission::EditRoom), 0),
        ("/Vault", 0, Permissions::bit(Permission::Enter)),
    ] {
        world
            .block_on(admin.set_acl(SetAclRequest {
                room: room.to_owned(),
                inherit: true,
                rules: vec![AclRule {
                    subject: everyone(),
                    allow,
                    deny,
                    apply_here: true,
                    apply_subs: false,
                }],
            }))
            .unwrap();
    }
    let mut harness = world.window();
    until(&mut harness, "the Lab and the Vault", |h| {
        has(h, "# Lab") && has(h, "# Vault")
    });

    // Granting kick in the Lab, which Cy does not hold: the server refuses
    // and the editor says why.
    open_editor(&mut harness, "# Lab", "/Lab");
    add_entry(&mut harness, "role everyone");
    toggle(&mut harness, &toggle_label(Permission::Kick, false));
    // The window sees it coming (the server still decides).
    until(&mut harness, "the warning before Save", |h| {
        has(h, "Why can't I grant kick in /Lab?")
    });
    harness.get_by_label(SAVE).click();
    until(&mut harness, "the refusal in the editor", |h| {
        h.query_by_label_contains("which you do not hold in /Lab")
            .is_some()
    });
    assert!(has(&harness, "Why can't I change access to /Lab?"));
    assert!(has(&harness, &title("/Lab")), "the editor stays open");
    let mut client = world.client();
    let state = world.block_on(client.state(Empty {})).unwrap().into_inner();
    let lab = state
        .state
        .and_then(|s| s.rooms.into_iter().find(|r| r.name == "Lab"))
        .unwrap();
    assert_eq!(lab.acl.len(), 1, "the Lab's rules are unchanged");
    harness.get_by_label("Cancel").click();
    until(&mut harness, "the editor closed", |h| {
        !has(h, &title("/Lab"))
    });

    // Joining the Vault: refused; the corner asks why, and unfolds to the
    // permission, the room and the rule.
    harness.get_by_label("# Vault").click();
    harness.run_steps(SETTLE);
    harness.get_by_label("Join").click();
    let question = "Why can't I join /Vault?";
    until(&mut harness, "the why line under the refusal", |h| {
        has(h, question)
    });
    assert!(has(&harness, "join failed"));
    assert!(
        harness
            .query_by_label_contains("rule #0 of /Vault")
            .is_none(),
        "folded at first"
    );
    harness.get_by_label(question).click();
    until(&mut harness, "the reason unfolded", |h| {
        h.query_by_label_contains("you lack the enter permission in /Vault: rule #0 of /Vault")
            .is_some()
    });
}
