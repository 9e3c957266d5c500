//! Table-driven ACL cases (DESIGN §5): inheritance, overrides, apply_here vs
//! apply_subs, order, user rules after role rules, inheritance stops, admin.

mod support;

use support::*;
use voice_proto::State;
use voice_proto::acl::{Permissions, Subject, evaluate, explain, lacking, rules_in};
use voice_proto::pb::wire::change::Kind;
use voice_proto::pb::wire::{Permission, Role};

const SPEAK: u32 = Permissions::bit(Permission::Speak);
const ENTER: u32 = Permissions::bit(Permission::Enter);
const TRAVERSE: u32 = Permissions::bit(Permission::Traverse);
const MAKE_ROOM: u32 = Permissions::bit(Permission::MakeRoom);
const MOVE_USERS: u32 = Permissions::bit(Permission::MoveUsers);

// Tree: Root(0) ─ A(1) ─ B(2) ─ C(3)
const A: u32 = 1;
const B: u32 = 2;
const C: u32 = 3;

fn tree() -> State {
    let mut s = state();
    add_room(&mut s, A, 0, "A");
    add_room(&mut s, B, A, "B");
    add_room(&mut s, C, B, "C");
    s
}

struct Case {
    name: &'static str,
    setup: fn(&mut State),
    /// Key byte of the subject (keys are 32 copies of it).
    user: u8,
    roles: &'static [&'static str],
    room: u32,
    permission: Permission,
    expect: bool,
}

fn none(_: &mut State) {}

fn deny_speak_in_a_here_and_subs(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![role_rule("everyone", 0, SPEAK, true, true)],
    );
}

fn deny_speak_in_a_here_only(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![role_rule("everyone", 0, SPEAK, true, false)],
    );
}

fn deny_speak_in_a_subs_only(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![role_rule("everyone", 0, SPEAK, false, true)],
    );
}

fn allow_then_deny(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![
            role_rule("everyone", MAKE_ROOM, 0, true, true),
            role_rule("everyone", 0, MAKE_ROOM, true, true),
        ],
    );
}

fn deny_then_allow(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![
            role_rule("everyone", 0, MAKE_ROOM, true, true),
            role_rule("everyone", MAKE_ROOM, 0, true, true),
        ],
    );
}

fn role_deny_then_user_allow(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![
            role_rule("everyone", 0, SPEAK, true, true),
            user_rule(key(5), SPEAK, 0, true, true),
        ],
    );
}

fn user_allow_then_role_deny(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![
            user_rule(key(5), SPEAK, 0, true, true),
            role_rule("everyone", 0, SPEAK, true, true),
        ],
    );
}

fn b_stops_inheriting(s: &mut State) {
    set_acl(s, B, false, vec![]);
}

fn b_stops_inheriting_allows_enter(s: &mut State) {
    set_acl(
        s,
        B,
        false,
        vec![role_rule("everyone", TRAVERSE | ENTER, 0, true, true)],
    );
}

fn lock_everyone_out(s: &mut State) {
    set_acl(
        s,
        0,
        true,
        vec![
            role_rule("everyone", 0, Permissions::ALL.bits(), true, true),
            user_rule(key(9), 0, Permissions::ALL.bits(), true, true),
        ],
    );
}

fn no_traverse_in_a(s: &mut State) {
    set_acl(
        s,
        A,
        true,
        vec![role_rule("everyone", 0, TRAVERSE, true, true)],
    );
}

fn mods_move_users_below_b(s: &mut State) {
    s.apply(&change(Kind::AddRole(Role {
        name: "mods".into(),
        description: String::new(),
    })))
    .expect("add role");
    set_acl(
        s,
        B,
        true,
        vec![role_rule("mods", MOVE_USERS, 0, false, true)],
    );
}

const CASES: &[Case] = &[
    Case {
        name: "defaults trickle down to the deepest room",
        setup: none,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::Speak,
        expect: true,
    },
    Case {
        name: "everyone may not make rooms by default",
        setup: none,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::MakeRoom,
        expect: false,
    },
    Case {
        name: "known may make rooms by default",
        setup: none,
        user: 1,
        roles: &["known"],
        room: C,
        permission: Permission::MakeRoom,
        expect: true,
    },
    Case {
        name: "override in a child applies there",
        setup: deny_speak_in_a_here_and_subs,
        user: 1,
        roles: &[],
        room: A,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "override in a child trickles further down",
        setup: deny_speak_in_a_here_and_subs,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "override in a child leaves the parent alone",
        setup: deny_speak_in_a_here_and_subs,
        user: 1,
        roles: &[],
        room: 0,
        permission: Permission::Speak,
        expect: true,
    },
    Case {
        name: "apply_here only: denied here",
        setup: deny_speak_in_a_here_only,
        user: 1,
        roles: &[],
        room: A,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "apply_here only: not below",
        setup: deny_speak_in_a_here_only,
        user: 1,
        roles: &[],
        room: B,
        permission: Permission::Speak,
        expect: true,
    },
    Case {
        name: "apply_subs only: not here",
        setup: deny_speak_in_a_subs_only,
        user: 1,
        roles: &[],
        room: A,
        permission: Permission::Speak,
        expect: true,
    },
    Case {
        name: "apply_subs only: denied below",
        setup: deny_speak_in_a_subs_only,
        user: 1,
        roles: &[],
        room: B,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "deny after allow wins",
        setup: allow_then_deny,
        user: 1,
        roles: &[],
        room: A,
        permission: Permission::MakeRoom,
        expect: false,
    },
    Case {
        name: "allow after deny wins",
        setup: deny_then_allow,
        user: 1,
        roles: &[],
        room: A,
        permission: Permission::MakeRoom,
        expect: true,
    },
    Case {
        name: "user rule after role rule: the user speaks",
        setup: role_deny_then_user_allow,
        user: 5,
        roles: &[],
        room: B,
        permission: Permission::Speak,
        expect: true,
    },
    Case {
        name: "user rule after role rule: others do not",
        setup: role_deny_then_user_allow,
        user: 6,
        roles: &[],
        room: B,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "role rule after user rule: the role rule wins",
        setup: user_allow_then_role_deny,
        user: 5,
        roles: &[],
        room: B,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "a room that stops inheriting without rules grants nothing",
        setup: b_stops_inheriting,
        user: 1,
        roles: &[],
        room: B,
        permission: Permission::Enter,
        expect: false,
    },
    Case {
        name: "below a room that stops inheriting nothing is granted either",
        setup: b_stops_inheriting,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::Traverse,
        expect: false,
    },
    Case {
        name: "stopped inheritance: own rules apply",
        setup: b_stops_inheriting_allows_enter,
        user: 1,
        roles: &[],
        room: B,
        permission: Permission::Enter,
        expect: true,
    },
    Case {
        name: "stopped inheritance: the root's Speak no longer applies",
        setup: b_stops_inheriting_allows_enter,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "no Traverse in an ancestor: nothing below",
        setup: no_traverse_in_a,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::Speak,
        expect: false,
    },
    Case {
        name: "admin cannot be locked out by role rules",
        setup: lock_everyone_out,
        user: 1,
        roles: &["admin"],
        room: C,
        permission: Permission::EditRoom,
        expect: true,
    },
    Case {
        name: "admin cannot be locked out by a rule on its own key",
        setup: lock_everyone_out,
        user: 9,
        roles: &["admin"],
        room: 0,
        permission: Permission::ManageRoles,
        expect: true,
    },
    Case {
        name: "locked out: non-admins have nothing",
        setup: lock_everyone_out,
        user: 1,
        roles: &["known"],
        room: 0,
        permission: Permission::Traverse,
        expect: false,
    },
    Case {
        name: "custom role granted below B",
        setup: mods_move_users_below_b,
        user: 1,
        roles: &["mods"],
        room: C,
        permission: Permission::MoveUsers,
        expect: true,
    },
    Case {
        name: "custom role: subs-only rule does not apply in B itself",
        setup: mods_move_users_below_b,
        user: 1,
        roles: &["mods"],
        room: B,
        permission: Permission::MoveUsers,
        expect: false,
    },
    Case {
        name: "custom role: others lack it",
        setup: mods_move_users_below_b,
        user: 1,
        roles: &[],
        room: C,
        permission: Permission::MoveUsers,
        expect: false,
    },
];

#[test]
fn acl_cases() {
    let mut failures = Vec::new();
    for case in CASES {
        let mut s = tree();
        (case.setup)(&mut s);
        let k = key(case.user);
        let roles: Vec<String> = case.roles.iter().map(|r| r.to_string()).collect();
        let subject = Subject {
            key: &k,
            roles: &roles,
        };
        let got = evaluate(&s, subject, case.room).contains(case.permission);
        // The explanation must agree with the evaluation.
        let why = explain(&s, subject, 0, case.room);
        let explained = Permissions::from_bits(why.granted).contains(case.permission);
        if got != case.expect || explained != got {
            failures.push(format!(
                "{}: expected {}, evaluate gave {got}, explain gave {explained}",
                case.name, case.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn explanation_names_the_deciding_rule_last() {
    let mut s = tree();
    role_deny_then_user_allow(&mut s);
    let k = key(5);
    let roles: Vec<String> = vec![];
    let why = explain(
        &s,
        Subject {
            key: &k,
            roles: &roles,
        },
        7,
        B,
    );
    let speak = why
        .permissions
        .iter()
        .find(|t| t.permission() == Permission::Speak)
        .unwrap();
    assert!(speak.granted);
    // Root default (allow), then A's role deny, then A's user allow.
    let trail: Vec<(u32, u32)> = speak.matched.iter().map(|r| (r.room, r.index)).collect();
    assert_eq!(trail, vec![(0, 0), (A, 0), (A, 1)]);
    assert_eq!(why.session, 7);
    assert_eq!(why.traverse_denied_at, None);
}

#[test]
fn explanation_reports_missing_traverse_and_inheritance_stop() {
    let mut s = tree();
    no_traverse_in_a(&mut s);
    let k = key(1);
    let roles: Vec<String> = vec![];
    let why = explain(
        &s,
        Subject {
            key: &k,
            roles: &roles,
        },
        0,
        C,
    );
    assert_eq!(why.traverse_denied_at, Some(A));
    assert_eq!(why.granted, 0);

    let mut s = tree();
    b_stops_inheriting_allows_enter(&mut s);
    let why = explain(
        &s,
        Subject {
            key: &k,
            roles: &roles,
        },
        0,
        C,
    );
    assert_eq!(why.evaluated_from, B);
    let speak = why
        .permissions
        .iter()
        .find(|t| t.permission() == Permission::Speak)
        .unwrap();
    assert!(speak.matched.is_empty(), "rules above B must be forgotten");
}

#[test]
fn admin_explanation_says_admin() {
    let s = tree();
    let k = key(1);
    let roles = vec!["admin".to_string()];
    let why = explain(
        &s,
        Subject {
            key: &k,
            roles: &roles,
        },
        0,
        C,
    );
    assert!(why.admin);
    assert_eq!(why.granted, Permissions::ALL.bits());
}

#[test]
fn rules_in_force_are_the_ancestors_passed_down_and_the_rooms_own() {
    let mut s = tree();
    set_acl(
        &mut s,
        0,
        true,
        vec![role_rule(
            "everyone",
            TRAVERSE | ENTER | SPEAK,
            0,
            true,
            true,
        )],
    );
    set_acl(
        &mut s,
        A,
        true,
        vec![
            role_rule("everyone", 0, SPEAK, true, false),
            role_rule("known", MAKE_ROOM, 0, false, true),
        ],
    );
    set_acl(
        &mut s,
        B,
        true,
        vec![user_rule(key(5), MOVE_USERS, 0, true, true)],
    );
    let at = |s: &State, room| {
        rules_in(s, room)
            .iter()
            .map(|r| (r.room, r.index))
            .collect::<Vec<_>>()
    };
    assert_eq!(at(&s, 0), vec![(0, 0)]);
    // A's second rule applies only below A, its first only in A.
    assert_eq!(at(&s, A), vec![(0, 0), (A, 0)]);
    assert_eq!(at(&s, B), vec![(0, 0), (A, 1), (B, 0)]);
    assert_eq!(at(&s, C), vec![(0, 0), (A, 1), (B, 0)]);
    assert!(rules_in(&s, 99).is_empty(), "an unknown room has none");

    // Folding the rules that match a subject, in order, is what evaluate says.
    let everyone: Vec<String> = Vec::new();
    let known = vec!["known".to_owned()];
    for (user, roles, room) in [
        (1u8, &known, C),
        (5, &everyone, B),
        (5, &everyone, C),
        (2, &everyone, A),
        (2, &known, B),
    ] {
        let k = key(user);
        let subject = Subject {
            key: &k,
            roles: roles.as_slice(),
        };
        let folded = rules_in(&s, room)
            .iter()
            .filter_map(|r| r.rule.as_ref())
            .filter(|rule| match &rule.subject {
                Some(voice_proto::pb::wire::acl_rule::Subject::Role(r)) => {
                    r == "everyone" || roles.contains(r)
                }
                Some(voice_proto::pb::wire::acl_rule::Subject::UserKey(x)) => x == &k,
                None => false,
            })
            .fold(Permissions::NONE, |g, rule| {
                (g | Permissions::from_bits(rule.allow)) & !Permissions::from_bits(rule.deny)
            });
        assert_eq!(
            folded,
            evaluate(&s, subject, room),
            "user {user} {roles:?} in {room}"
        );
    }

    // Inheritance stops at B: B's rules and nothing above.
    set_acl(
        &mut s,
        B,
        false,
        vec![user_rule(key(5), MOVE_USERS, 0, true, true)],
    );
    assert_eq!(at(&s, B), vec![(B, 0)]);
    assert_eq!(at(&s, C), vec![(B, 0)]);
}

#[test]
fn a_refusal_names_the_permission_the_room_and_the_rule() {
    let k = key(1);
    let roles: Vec<String> = vec![];
    let me = Subject {
        key: &k,
        roles: &roles,
    };
    // A rule that takes the permission away is named with its room, place
    // and contents.
    let mut s = tree();
    deny_speak_in_a_here_and_subs(&mut s);
    assert_eq!(
        lacking(&s, me, Permission::Speak, B),
        "you lack the speak permission in /A/B: rule #0 of /A (role everyone: deny speak) takes it away"
    );
    // No rule at all: said, with where the rules start when a room stops
    // inheritance.
    let mut s = tree();
    b_stops_inheriting_allows_enter(&mut s);
    assert_eq!(
        lacking(&s, me, Permission::Speak, C),
        "you lack the speak permission in /A/B/C: no rule grants it there (/A/B does not inherit: only its rules and those below it count)"
    );
    let s = tree();
    assert_eq!(
        lacking(&s, me, Permission::Kick, 0),
        "you lack the kick permission in /: no rule grants it there"
    );
    // Missing traverse on the way is the reason, with the rule that took it.
    let mut s = tree();
    no_traverse_in_a(&mut s);
    assert_eq!(
        lacking(&s, me, Permission::Enter, C),
        "you lack the enter permission in /A/B/C: traverse is missing in /A (rule #0 of /A (role everyone: deny traverse)), so nothing below it is granted"
    );
}
