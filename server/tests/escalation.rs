//! Privilege escalation: nobody grants what they do not hold, moving others
//! needs `move_users` on both ends, kick and ban are checked at the root,
//! administrators are out of reach of non-administrators, rooms are entered
//! and heard only with Enter, and a deleted role stays deleted (issue 16,
//! hole 1, 9 and 10). Each test is the attack run over real QUIC against a
//! real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use voice_proto::acl::Permissions;
use voice_proto::close;
use voice_proto::pb::wire::{
    AclRule, Change, KickRequest, Permission, Role, RoleRemove, Room, RoomAcl, RoomMove,
    SessionFlags, SessionMove, SessionRoles, acl_rule, change::Kind, client_msg, rejected::Reason,
    server_msg::Msg,
};

fn add_room(parent: u32, name: &str, acl: Vec<AclRule>) -> Change {
    Change {
        kind: Some(Kind::AddRoom(Room {
            id: 0,
            parent,
            name: name.into(),
            inherit_acl: true,
            acl,
            ..Room::default()
        })),
    }
}

fn set_acl(room: u32, rules: Vec<AclRule>) -> Change {
    Change {
        kind: Some(Kind::SetRoomAcl(RoomAcl {
            room,
            inherit_acl: true,
            rules,
        })),
    }
}

fn move_session(session: u32, room: u32) -> Change {
    Change {
        kind: Some(Kind::MoveSession(SessionMove { session, room })),
    }
}

/// A rule for one key.
fn for_key(client: &Client, allow: &[Permission], here: bool, subs: bool) -> AclRule {
    AclRule {
        subject: Some(acl_rule::Subject::UserKey(
            client.key.verifying_key().to_bytes().to_vec(),
        )),
        allow: allow.iter().copied().collect::<Permissions>().bits(),
        deny: 0,
        apply_here: here,
        apply_subs: subs,
    }
}

/// The refusal of a proposal, which must be a permission refusal.
fn denied(reply: Reply) -> voice_proto::pb::wire::Rejected {
    match reply {
        Reply::Rejected(r) => {
            assert_eq!(r.reason, Reason::Denied as i32, "{r:?}");
            r
        }
        Reply::Accepted(a) => panic!("accepted: {a:?}"),
    }
}

/// Sends a kick (or ban) and returns the server's answer: `Ok` when
/// accepted, `Err(message)` when refused.
async fn kick(client: &mut Client, request_id: u64, session: u32, ban: bool) -> Result<(), String> {
    client
        .control
        .send(client_msg::Msg::Kick(KickRequest {
            request_id,
            session,
            reason: "mine now".into(),
            ban,
            ban_seconds: 0,
        }))
        .await;
    loop {
        match client.next_reply().await.expect("an answer") {
            Msg::Accepted(a) if a.request_id == request_id => return Ok(()),
            Msg::Failed(f) if f.request_id == request_id => return Err(f.message),
            _ => {}
        }
    }
}

/// The attack as reported: a member makes a room whose ACL grants them
/// everything, moves the admin into it, kicks and bans them. Every step is
/// refused and the admin stays.
#[tokio::test]
async fn a_member_cannot_take_over_an_admin_through_a_room_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let admin_login = {
        let mut l = server.login("boss");
        l.admin_token = server.admin_token.clone().unwrap();
        l
    };
    let mut boss = Client::connect(&server, admin_login.clone()).await.unwrap();
    let mut mallory = server.join("mallory").await;

    let everything: Vec<Permission> = Permissions::ALL.iter().collect();
    let rule = for_key(&mallory, &everything, true, true);
    let r = denied(mallory.propose(add_room(0, "Mine", vec![rule])).await);
    assert!(
        r.message
            .contains("you can only grant permissions you hold"),
        "{r:?}"
    );
    assert!(
        r.message.contains("kick") && r.message.contains("manage_roles"),
        "{r:?}"
    );
    assert!(
        mallory
            .state
            .rooms()
            .values()
            .all(|room| room.name != "Mine")
    );

    // A room without an ACL of its own is fine (known users make rooms)...
    let mine = accepted(mallory.propose(add_room(0, "Mine", vec![])).await).assigned_id;
    // ...but it gives no hold over others.
    mallory.catch_up(boss.seq).await;
    let r = denied(mallory.propose(move_session(boss.id, mine)).await);
    assert_eq!(r.permission, Permission::MoveUsers as i32, "{r:?}");
    let refusal = kick(&mut mallory, 900, boss.id, false).await.unwrap_err();
    assert!(refusal.contains("kick permission"), "{refusal}");
    let refusal = kick(&mut mallory, 901, boss.id, true).await.unwrap_err();
    assert!(refusal.contains("ban permission"), "{refusal}");

    // The admin is still here and can still act...
    boss.catch_up(mallory.seq).await;
    accepted(boss.propose(add_room(0, "Still here", vec![])).await);
    // ...and is not banned: a new login with the same key gets in.
    drop(boss);
    let mut again = admin_login;
    again.admin_token = String::new();
    Client::connect(&server, again)
        .await
        .expect("the admin logs in again");
    server.stop().await;
}

/// Nested rooms: what a member may grant in a sub-room is bounded by what
/// they hold in the room above it, however deep.
#[tokio::test]
async fn a_nested_room_grants_no_more_than_its_maker_holds_above_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut member = server.join("member").await;
    let a = accepted(member.propose(add_room(0, "A", vec![])).await).assigned_id;
    let b = accepted(member.propose(add_room(a, "B", vec![])).await).assigned_id;
    // Granting what one holds (enter, speak) passes...
    let fine = for_key(&member, &[Permission::Enter, Permission::Speak], true, true);
    accepted(member.propose(add_room(b, "C", vec![fine])).await);
    // ...granting edit_room (which a member lacks under B) does not.
    let grab = for_key(&member, &[Permission::EditRoom], true, true);
    let r = denied(member.propose(add_room(b, "D", vec![grab])).await);
    assert_eq!(r.permission, Permission::EditRoom as i32, "{r:?}");
    assert!(r.message.contains("do not hold in /A/B"), "{r:?}");
    server.stop().await;
}

/// Editing an ACL: an editor of a room may hand on what they hold there,
/// nothing else.
#[tokio::test]
async fn an_acl_editor_grants_only_what_they_hold_in_that_room() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let mut editor = server.join("editor").await;
    boss.catch_up(editor.seq).await;
    let held = [Permission::EditRoom, Permission::MuteDeafen];
    let rule = for_key(&editor, &held, true, false);
    let room = accepted(boss.propose(add_room(0, "Stage", vec![rule.clone()])).await).assigned_id;
    editor.catch_up(boss.seq).await;

    let mut grab = rule.clone();
    grab.allow |= Permissions::from(Permission::Ban).bits();
    let r = denied(editor.propose(set_acl(room, vec![grab])).await);
    assert_eq!(r.permission, Permission::Ban as i32, "{r:?}");

    // Handing mute_deafen on to everyone (while keeping their own rule) is
    // within what they hold.
    let everyone = AclRule {
        subject: Some(acl_rule::Subject::Role("everyone".into())),
        allow: Permissions::from(Permission::MuteDeafen).bits(),
        deny: 0,
        apply_here: true,
        apply_subs: false,
    };
    accepted(editor.propose(set_acl(room, vec![rule, everyone])).await);
    server.stop().await;
}

/// Moving a room carries its ACL: a room whose rules grant what the mover
/// holds only where it was cannot be moved somewhere they do not.
#[tokio::test]
async fn a_room_cannot_carry_its_grants_out_from_under_the_room_that_allowed_them() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let mut member = server.join("member").await;
    boss.catch_up(member.seq).await;
    let space = for_key(
        &member,
        &[
            Permission::EditRoom,
            Permission::MakeRoom,
            Permission::MuteDeafen,
        ],
        true,
        true,
    );
    let s = accepted(boss.propose(add_room(0, "Space", vec![space])).await).assigned_id;
    member.catch_up(boss.seq).await;
    // Within the space the member holds mute_deafen, so may grant it...
    let own = for_key(&member, &[Permission::MuteDeafen], true, true);
    let c = accepted(member.propose(add_room(s, "Corner", vec![own])).await).assigned_id;
    // ...but moving that room out to the root would grant it where they lack it.
    let r = denied(
        member
            .propose(Change {
                kind: Some(Kind::MoveRoom(RoomMove { id: c, parent: 0 })),
            })
            .await,
    );
    assert_eq!(r.permission, Permission::MuteDeafen as i32, "{r:?}");
    assert_eq!(member.state.room(c).unwrap().parent, s);
    server.stop().await;
}

/// Moving someone needs move_users where they are and where they go;
/// kicking needs kick at the root; administrators can be moved and muted
/// only by administrators.
#[tokio::test]
async fn moderation_is_checked_at_both_ends_and_never_reaches_an_admin() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let mut moderator = server.join("moderator").await;
    let mut victim = server.join("victim").await;
    boss.catch_up(victim.seq).await;
    let pen_rule = for_key(
        &moderator,
        &[Permission::MoveUsers, Permission::Kick],
        true,
        false,
    );
    let pen = accepted(boss.propose(add_room(0, "Pen", vec![pen_rule])).await).assigned_id;
    moderator.catch_up(boss.seq).await;

    // move_users in the target only: the victim cannot be taken from the root.
    let r = denied(moderator.propose(move_session(victim.id, pen)).await);
    assert_eq!(r.permission, Permission::MoveUsers as i32, "{r:?}");
    assert!(
        r.message
            .ends_with("move_users permission in /: no rule grants it there"),
        "{r:?}"
    );

    // With move_users and mute_deafen at the root too, ordinary users move...
    let root_rule = for_key(
        &moderator,
        &[Permission::MoveUsers, Permission::MuteDeafen],
        true,
        true,
    );
    let mut root_acl = voice_proto::acl::default_root_acl();
    root_acl.push(root_rule);
    boss.catch_up(moderator.seq).await;
    accepted(boss.propose(set_acl(0, root_acl)).await);
    moderator.catch_up(boss.seq).await;
    accepted(moderator.propose(move_session(victim.id, pen)).await);
    // ...but the admin does not, nor is muted.
    let r = denied(moderator.propose(move_session(boss.id, pen)).await);
    assert!(r.message.contains("administers this server"), "{r:?}");
    let r = denied(
        moderator
            .propose(Change {
                kind: Some(Kind::SetSessionFlags(SessionFlags {
                    session: boss.id,
                    server_mute: Some(true),
                    ..SessionFlags::default()
                })),
            })
            .await,
    );
    assert!(r.message.contains("administers this server"), "{r:?}");

    // kick in the victim's room is not enough: kicking is server-wide.
    let refusal = kick(&mut moderator, 77, victim.id, false)
        .await
        .unwrap_err();
    assert!(refusal.contains("kick permission in /"), "{refusal}");
    victim.catch_up(moderator.seq).await;
    assert_eq!(victim.state.session(victim.id).unwrap().room, pen);

    // With kick at the root it works, still not on the admin.
    let mut root_acl = boss.state.room(0).unwrap().acl.clone();
    root_acl.push(for_key(&moderator, &[Permission::Kick], true, false));
    boss.catch_up(moderator.seq).await;
    accepted(boss.propose(set_acl(0, root_acl)).await);
    moderator.catch_up(boss.seq).await;
    let refusal = kick(&mut moderator, 78, boss.id, false).await.unwrap_err();
    assert!(refusal.contains("administers this server"), "{refusal}");
    kick(&mut moderator, 79, victim.id, false).await.unwrap();
    assert_eq!(close_of(&victim.conn).await.0, close::KICKED);
    server.stop().await;
}

/// Enter decides where a session lands and whether it hears its room.
#[tokio::test]
async fn no_enter_no_landing_and_no_hearing() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let lobby = accepted(boss.propose(add_room(0, "Lobby", vec![])).await).assigned_id;
    // Everyone loses Enter at the root (only); the lobby keeps it.
    let mut root_acl = voice_proto::acl::default_root_acl();
    root_acl.push(AclRule {
        subject: Some(acl_rule::Subject::Role("everyone".into())),
        allow: 0,
        deny: Permissions::from(Permission::Enter).bits(),
        apply_here: true,
        apply_subs: false,
    });
    accepted(boss.propose(set_acl(0, root_acl)).await);
    // A newcomer asking for the root lands in the lobby instead.
    let newcomer = server.join("newcomer").await;
    assert_eq!(newcomer.state.session(newcomer.id).unwrap().room, lobby);

    // A listener in the lobby who loses Enter there stops hearing it.
    let speaker = server.join("speaker").await;
    let mut listener = server.join("listener").await;
    boss.catch_up(listener.seq).await;
    let deny_listener = AclRule {
        subject: Some(acl_rule::Subject::UserKey(
            listener.key.verifying_key().to_bytes().to_vec(),
        )),
        allow: 0,
        deny: Permissions::from(Permission::Enter).bits(),
        apply_here: true,
        apply_subs: false,
    };
    accepted(boss.propose(set_acl(lobby, vec![deny_listener])).await);
    listener.catch_up(boss.seq).await;
    assert_eq!(listener.state.session(listener.id).unwrap().room, lobby);
    let mut speaker = speaker;
    speaker.catch_up(boss.seq).await;
    speaker.speak(1, b"not for you");
    accepted(boss.propose(set_acl(lobby, vec![])).await);
    speaker.catch_up(boss.seq).await;
    speaker.speak(2, b"for you");
    let got = tokio::time::timeout(WAIT, listener.conn.read_datagram())
        .await
        .unwrap()
        .unwrap();
    let v = voice_proto::voice::decode_server(&got, 1000).unwrap();
    assert_eq!(
        v.opus, b"for you",
        "the packet sent while the listener lacked Enter reached it"
    );

    // With Enter nowhere, a login is refused with a reason.
    let mut root_acl = voice_proto::acl::default_root_acl();
    root_acl[0].allow &= !Permissions::from(Permission::Enter).bits();
    boss.catch_up(speaker.seq).await;
    accepted(boss.propose(set_acl(0, root_acl)).await);
    let (code, reason) = Client::connect(&server, server.login("nowhere"))
        .await
        .err()
        .expect("refused");
    assert_eq!(code, close::AUTH_FAILED);
    assert!(reason.contains("enter no room"), "{reason}");
    server.stop().await;
}

/// A role deleted while its holder was offline does not come back to them
/// when a role of the same name is created again.
#[tokio::test]
async fn a_deleted_role_stays_deleted_for_offline_holders() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let role = |name: &str| Change {
        kind: Some(Kind::AddRole(Role {
            name: name.into(),
            description: String::new(),
        })),
    };
    accepted(boss.propose(role("mod")).await);
    let login = server.login("member");
    let member = Client::connect(&server, login.clone()).await.unwrap();
    boss.catch_up(member.seq).await;
    let mut roles = member.state.session(member.id).unwrap().roles.clone();
    roles.push("mod".into());
    accepted(
        boss.propose(Change {
            kind: Some(Kind::SetSessionRoles(SessionRoles {
                session: member.id,
                roles,
            })),
        })
        .await,
    );
    member.conn.close(0u32.into(), b"bye");
    drop(member);
    // Wait until the server has seen the member leave.
    while boss.state.sessions().len() > 1 {
        boss.control
            .send(client_msg::Msg::Ping(voice_proto::pb::wire::Ping {
                timestamp_us: 1,
            }))
            .await;
        let _ = boss.next_reply().await;
    }
    accepted(
        boss.propose(Change {
            kind: Some(Kind::RemoveRole(RoleRemove { name: "mod".into() })),
        })
        .await,
    );
    accepted(boss.propose(role("mod")).await);
    let back = Client::connect(&server, login).await.unwrap();
    let roles = &back.state.session(back.id).unwrap().roles;
    assert!(!roles.iter().any(|r| r == "mod"), "{roles:?}");
    server.stop().await;
}

/// The recording mark is its user's: they set and clear it, everyone sees
/// it, and nobody else (not even an administrator) can hide or fake it.
#[tokio::test]
async fn the_recording_mark_is_set_only_by_the_recorder_and_seen_by_all() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::in_dir(dir.path()).await;
    let mut boss = admin(&server, "boss").await;
    let mut recorder = server.join("recorder").await;
    let mut listener = server.join("listener").await;
    recorder.catch_up(listener.seq).await;
    let mark = |session: u32, on: bool| Change {
        kind: Some(Kind::SetSessionFlags(SessionFlags {
            session,
            recording: Some(on),
            ..SessionFlags::default()
        })),
    };

    accepted(recorder.propose(mark(recorder.id, true)).await);
    listener.catch_up(recorder.seq).await;
    assert!(listener.state.session(recorder.id).unwrap().recording);

    // Neither an administrator nor another user can clear it or set it on
    // someone who is not recording.
    boss.catch_up(recorder.seq).await;
    let r = denied(boss.propose(mark(recorder.id, false)).await);
    assert!(r.message.contains("recording mark belongs"), "{r:?}");
    let r = denied(listener.propose(mark(boss.id, true)).await);
    assert!(r.message.contains("recording mark belongs"), "{r:?}");
    listener.catch_up(boss.seq).await;
    assert!(listener.state.session(recorder.id).unwrap().recording);
    assert!(!listener.state.session(boss.id).unwrap().recording);

    accepted(recorder.propose(mark(recorder.id, false)).await);
    listener.catch_up(recorder.seq).await;
    assert!(!listener.state.session(recorder.id).unwrap().recording);
}
