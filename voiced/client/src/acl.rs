//! A room's access rules as every front end shows them: the rules it
//! inherits, each with the room it comes from, then its own; and the roles
//! with the users present who hold them. The rules' meaning stays in
//! `voice_proto::acl` ([`rules_in`]); this only names things for people.

use voice_proto::State;

use crate::text::printable;
use voice_proto::acl::{Permissions, Subject, explain, rules_in};
use voice_proto::pb::wire::{AclRule, Change, RoomAcl, acl_rule, change};
use voice_proto::state::{BUILTIN_ROLES, ROOT, RoomId};

/// Whom a rule is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSubject {
    /// Everyone holding a role.
    Role(String),
    /// One identity: its key in hex, and the names of the users present
    /// with that key (none when nobody with it is online).
    User {
        /// The ed25519 public key, hex.
        key: String,
        /// Display names of the sessions with this key.
        names: Vec<String>,
    },
    /// A rule without a subject (matches nobody).
    Nobody,
}

impl RuleSubject {
    /// Whom a rule is about, in words, escaped for a terminal or a window:
    /// `role everyone`, `user Ada (07070707…)`, `user 0707070707070707…`
    /// (nobody with that key online), `nobody`.
    pub fn text(&self) -> String {
        match self {
            Self::Role(r) => format!("role {}", printable(r)),
            Self::User { key, names } if names.is_empty() => {
                format!("user {}…", &key[..16.min(key.len())])
            }
            Self::User { key, names } => format!(
                "user {} ({}…)",
                printable(&names.join(", ")),
                &key[..8.min(key.len())]
            ),
            Self::Nobody => "nobody".to_owned(),
        }
    }
}

/// One rule as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The room that holds the rule.
    pub room: RoomId,
    /// That room's path.
    pub room_path: String,
    /// The rule's place in that room's list, from 0.
    pub index: usize,
    /// Whom it is about.
    pub subject: RuleSubject,
    /// Permissions it grants, by name.
    pub allow: Vec<&'static str>,
    /// Permissions it takes away (after `allow`), by name.
    pub deny: Vec<&'static str>,
    /// It applies in the room that holds it.
    pub here: bool,
    /// It applies in the rooms below that one.
    pub below: bool,
    /// It comes from an ancestor of the room shown.
    pub inherited: bool,
    /// It is in force in the room shown (inherited rules always are; the
    /// room's own when they apply here).
    pub in_force: bool,
}

/// A room's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The room.
    pub room: RoomId,
    /// Its path.
    pub path: String,
    /// Whether it inherits its ancestors' rules.
    pub inherit: bool,
    /// The rules inherited (in evaluation order), then the room's own (all
    /// of them, in force here or not).
    pub entries: Vec<Entry>,
}

/// The rules of `room`; `None` for a room the state does not hold.
pub fn listing(state: &State, room: RoomId) -> Option<Listing> {
    let r = state.room(room)?;
    let inherited = rules_in(state, room)
        .into_iter()
        .filter(|x| x.room != room)
        .filter_map(|x| {
            let rule = x.rule?;
            Some(entry(state, x.room, x.index as usize, &rule, true, true))
        });
    let own = r
        .acl
        .iter()
        .enumerate()
        .map(|(i, rule)| entry(state, room, i, rule, false, rule.apply_here));
    Some(Listing {
        room,
        path: state.path(room).unwrap_or_default(),
        inherit: r.inherit_acl || room == ROOT,
        entries: inherited.chain(own).collect(),
    })
}

fn entry(
    state: &State,
    room: RoomId,
    index: usize,
    rule: &AclRule,
    inherited: bool,
    in_force: bool,
) -> Entry {
    Entry {
        room,
        room_path: state.path(room).unwrap_or_default(),
        index,
        subject: subject(state, rule),
        allow: names(rule.allow),
        deny: names(rule.deny),
        here: rule.apply_here,
        below: rule.apply_subs,
        inherited,
        in_force,
    }
}

fn subject(state: &State, rule: &AclRule) -> RuleSubject {
    match &rule.subject {
        Some(acl_rule::Subject::Role(role)) => RuleSubject::Role(role.clone()),
        Some(acl_rule::Subject::UserKey(key)) => RuleSubject::User {
            key: hex(key),
            names: state
                .sessions()
                .values()
                .filter(|s| &s.public_key == key)
                .map(|s| s.name.clone())
                .collect(),
        },
        None => RuleSubject::Nobody,
    }
}

/// The names of the permissions in a mask, in the protocol's order.
pub fn names(bits: u32) -> Vec<&'static str> {
    Permissions::from_bits(bits)
        .iter()
        .map(Permissions::name)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether one user holds one permission in a room, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The permission's name.
    pub permission: &'static str,
    /// Held or not.
    pub granted: bool,
    /// The rule that decided it (the last that matched): its room, that
    /// room's path and its place there. `None` when no rule matched (not
    /// held), for an admin, or when `traverse` is missing on the way.
    pub rule: Option<(RoomId, String, usize)>,
}

/// One user's permissions in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    /// The session.
    pub session: u32,
    /// Its display name.
    pub name: String,
    /// Holds `admin`: everything is granted.
    pub admin: bool,
    /// The path of the room on the way where `traverse` is missing
    /// (nothing below it is granted), if any.
    pub traverse_denied_at: Option<String>,
    /// Every permission, in the protocol's order.
    pub permissions: Vec<Decision>,
}

/// Every user on the server (by name) × every permission in `room`, with
/// the rule that decided each; `None` for a room the state does not hold.
pub fn effective(state: &State, room: RoomId) -> Option<Vec<Effective>> {
    state.room(room)?;
    let mut users: Vec<Effective> = state
        .sessions()
        .values()
        .map(|s| {
            let x = explain(state, Subject::from(s), s.id, room);
            Effective {
                session: s.id,
                name: s.name.clone(),
                admin: x.admin,
                traverse_denied_at: x.traverse_denied_at.and_then(|r| state.path(r)),
                permissions: x
                    .permissions
                    .iter()
                    .map(|t| Decision {
                        permission: Permissions::name_of(t.permission).unwrap_or("unknown"),
                        granted: t.granted,
                        rule: (!x.admin && x.traverse_denied_at.is_none())
                            .then(|| t.matched.last())
                            .flatten()
                            .map(|r| {
                                (
                                    r.room,
                                    state.path(r.room).unwrap_or_default(),
                                    r.index as usize,
                                )
                            }),
                    })
                    .collect(),
            }
        })
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name).then(a.session.cmp(&b.session)));
    Some(users)
}

/// A role and who holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRow {
    /// Its name.
    pub name: String,
    /// Its description ("" for none).
    pub description: String,
    /// `everyone`, `known` or `admin`: always there, cannot be deleted.
    pub builtin: bool,
    /// Names of the users present who hold it (everyone present holds
    /// `everyone`), sorted.
    pub holders: Vec<String>,
}

/// Every role, built-in ones first, then by name.
pub fn roles(state: &State) -> Vec<RoleRow> {
    let mut names: Vec<String> = BUILTIN_ROLES.iter().map(|r| (*r).to_owned()).collect();
    names.extend(
        state
            .roles()
            .keys()
            .filter(|r| !BUILTIN_ROLES.contains(&r.as_str()))
            .cloned(),
    );
    names.sort_by_key(|n| (!BUILTIN_ROLES.contains(&n.as_str()), n.clone()));
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let everyone = name == voice_proto::state::ROLE_EVERYONE;
            let mut holders: Vec<String> = state
                .sessions()
                .values()
                .filter(|s| everyone || s.roles.contains(&name))
                .map(|s| s.name.clone())
                .collect();
            holders.sort();
            RoleRow {
                description: state
                    .roles()
                    .get(&name)
                    .map(|r| r.description.clone())
                    .unwrap_or_default(),
                builtin: BUILTIN_ROLES.contains(&name.as_str()),
                name,
                holders,
            }
        })
        .collect()
}

/// Every permission's name, in the protocol's order (for help and editors).
pub fn permission_names() -> Vec<&'static str> {
    Permissions::EVERY
        .iter()
        .map(|p| Permissions::name(*p))
        .collect()
}

/// A room's own rules as they stand, to start an edit from: whether it
/// inherits, and its rules in order. `None` for a room the state does not
/// hold.
pub fn own_rules(state: &State, room: RoomId) -> Option<(bool, Vec<AclRule>)> {
    let r = state.room(room)?;
    Some((r.inherit_acl || room == ROOT, r.acl.clone()))
}

/// The state as `rules` (with `inherit`) would make it, before they are
/// sent: the state as it is with only `room`'s rules replaced; why not when
/// they do not apply (an unknown room, limits).
pub fn drafted(
    state: &State,
    room: RoomId,
    inherit: bool,
    rules: &[AclRule],
) -> Result<State, String> {
    let mut state = state.clone();
    state
        .apply(&Change {
            kind: Some(change::Kind::SetRoomAcl(RoomAcl {
                room,
                inherit_acl: inherit || room == ROOT,
                rules: rules.to_vec(),
            })),
        })
        .map_err(|e| e.to_string())?;
    Ok(state)
}

/// What `rules` (with `inherit`) would make of everyone's permissions in
/// `room`, before they are sent ([`drafted`]). `None` for a room the state
/// does not hold, or rules that do not apply.
pub fn preview(
    state: &State,
    room: RoomId,
    inherit: bool,
    rules: &[AclRule],
) -> Option<Vec<Effective>> {
    effective(&drafted(state, room, inherit, rules).ok()?, room)
}

/// Permission names separated by commas (`speak,enter`; `all` for every
/// one) as a mask; an unknown name is an error that lists the known ones.
pub fn parse_permissions(list: &str) -> Result<u32, String> {
    let mut bits = 0;
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            bits |= Permissions::ALL.bits();
            continue;
        }
        let p = Permissions::parse_one(&name.to_ascii_lowercase()).ok_or_else(|| {
            format!(
                "no permission {name:?}; permissions are {}",
                permission_names().join(", ")
            )
        })?;
        bits |= Permissions::bit(p);
    }
    if bits == 0 {
        return Err(format!(
            "name at least one permission: {}",
            permission_names().join(", ")
        ));
    }
    Ok(bits)
}

/// Whom a rule is about, from what a person typed: `role:NAME`,
/// `user:NAME`, a role that exists, the name of a user present (one only),
/// or a public key (64 hex digits).
pub fn parse_subject(state: &State, who: &str) -> Result<acl_rule::Subject, String> {
    let who = who.trim();
    if let Some(role) = who.strip_prefix("role:") {
        return if state.roles().contains_key(role) || BUILTIN_ROLES.contains(&role) {
            Ok(acl_rule::Subject::Role(role.to_owned()))
        } else {
            Err(format!("no role {role:?}; `voicectl role list` lists them"))
        };
    }
    let user = who.strip_prefix("user:");
    if user.is_none() && (state.roles().contains_key(who) || BUILTIN_ROLES.contains(&who)) {
        return Ok(acl_rule::Subject::Role(who.to_owned()));
    }
    let name = user.unwrap_or(who);
    if name.len() == 64
        && let Some(key) = voice_proto::hash::parse_hex(name)
    {
        return Ok(acl_rule::Subject::UserKey(key));
    }
    let keys: Vec<&Vec<u8>> = {
        let mut keys: Vec<&Vec<u8>> = state
            .sessions()
            .values()
            .filter(|s| s.name.eq_ignore_ascii_case(name))
            .map(|s| &s.public_key)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    };
    match keys.as_slice() {
        [key] => Ok(acl_rule::Subject::UserKey((*key).clone())),
        [] => Err(format!(
            "{who:?} is neither a role nor a user present; give a role (`voicectl role list`), a user's name (`voicectl users`) or a 64-digit key"
        )),
        _ => Err(format!(
            "{} users present are named {name:?}; give the key (64 hex digits)",
            keys.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voice_proto::Limits;
    use voice_proto::pb::wire::{Change, Permission, Role, Room, RoomAcl, Session, change::Kind};

    fn apply(s: &mut State, kind: Kind) {
        s.apply(&Change { kind: Some(kind) }).expect("applies");
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

    fn bit(p: Permission) -> u32 {
        Permissions::bit(p)
    }

    /// Root ─ Lobby(1) ─ Quiet(2); Ada (key 7s) in Quiet with role `mod`.
    fn state() -> State {
        let mut s = State::new("Root", Limits::default());
        apply(
            &mut s,
            Kind::AddRoom(Room {
                id: 1,
                parent: ROOT,
                name: "Lobby".into(),
                inherit_acl: true,
                ..Room::default()
            }),
        );
        apply(
            &mut s,
            Kind::AddRoom(Room {
                id: 2,
                parent: 1,
                name: "Quiet".into(),
                inherit_acl: true,
                ..Room::default()
            }),
        );
        apply(
            &mut s,
            Kind::AddRole(Role {
                name: "mod".into(),
                description: "keeps order".into(),
            }),
        );
        apply(
            &mut s,
            Kind::AddSession(Session {
                id: 9,
                public_key: vec![7; 32],
                name: "Ada".into(),
                room: 2,
                roles: vec!["mod".into()],
                ..Session::default()
            }),
        );
        use acl_rule::Subject::{Role as R, UserKey as U};
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: ROOT,
                inherit_acl: true,
                rules: vec![rule(
                    R("everyone".into()),
                    bit(Permission::Traverse) | bit(Permission::Enter),
                    0,
                    true,
                    true,
                )],
            }),
        );
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: 1,
                inherit_acl: true,
                rules: vec![
                    rule(R("everyone".into()), bit(Permission::Speak), 0, true, false),
                    rule(R("mod".into()), bit(Permission::MuteDeafen), 0, false, true),
                ],
            }),
        );
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: 2,
                inherit_acl: true,
                rules: vec![
                    rule(U(vec![7; 32]), bit(Permission::Speak), 0, true, true),
                    rule(R("everyone".into()), 0, bit(Permission::Speak), false, true),
                ],
            }),
        );
        s
    }

    #[test]
    fn a_rooms_listing_says_where_each_rule_comes_from() {
        let s = state();
        let l = listing(&s, 2).unwrap();
        assert_eq!(l.path, "/Lobby/Quiet");
        assert!(l.inherit);
        let rows: Vec<(&str, usize, bool, bool)> = l
            .entries
            .iter()
            .map(|e| (e.room_path.as_str(), e.index, e.inherited, e.in_force))
            .collect();
        // Lobby's first rule applies in Lobby only: not listed for Quiet.
        assert_eq!(
            rows,
            vec![
                ("/", 0, true, true),
                ("/Lobby", 1, true, true),
                ("/Lobby/Quiet", 0, false, true),
                ("/Lobby/Quiet", 1, false, false),
            ]
        );
        assert_eq!(l.entries[0].allow, vec!["traverse", "enter"]);
        assert_eq!(l.entries[1].subject, RuleSubject::Role("mod".into()));
        assert_eq!(
            l.entries[2].subject,
            RuleSubject::User {
                key: "07".repeat(32),
                names: vec!["Ada".into()],
            }
        );
        assert_eq!(l.entries[3].deny, vec!["speak"]);
        assert!(!l.entries[3].here && l.entries[3].below);
        assert!(listing(&s, 42).is_none());
    }

    #[test]
    fn a_room_that_stops_inheritance_lists_only_its_own() {
        let mut s = state();
        apply(
            &mut s,
            Kind::SetRoomAcl(RoomAcl {
                room: 2,
                inherit_acl: false,
                rules: Vec::new(),
            }),
        );
        let l = listing(&s, 2).unwrap();
        assert!(!l.inherit);
        assert!(l.entries.is_empty());
    }

    #[test]
    fn roles_list_builtins_first_with_who_holds_them() {
        let s = state();
        let r = roles(&s);
        let names: Vec<&str> = r.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["admin", "everyone", "known", "mod"]);
        assert!(r[0].builtin && !r[3].builtin);
        assert_eq!(r[1].holders, vec!["Ada"]);
        assert!(r[0].holders.is_empty());
        assert_eq!(r[3].holders, vec!["Ada"]);
        assert_eq!(r[3].description, "keeps order");
        assert_eq!(permission_names().len(), 15);
        assert_eq!(permission_names()[0], "traverse");
    }

    #[test]
    fn effective_permissions_name_the_deciding_rule() {
        let mut s = state();
        apply(
            &mut s,
            Kind::AddSession(Session {
                id: 10,
                public_key: vec![8; 32],
                name: "Bob".into(),
                room: 2,
                ..Session::default()
            }),
        );
        let users = effective(&s, 2).unwrap();
        let names: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, vec!["Ada", "Bob"]);
        let get = |u: &Effective, p: &str| {
            u.permissions
                .iter()
                .find(|d| d.permission == p)
                .unwrap()
                .clone()
        };
        // Ada's own user rule in Quiet gives her speech back.
        let speak = get(&users[0], "speak");
        assert!(speak.granted);
        assert_eq!(speak.rule, Some((2, "/Lobby/Quiet".into(), 0)));
        // Bob: taken away by Quiet's second rule... which applies only below.
        assert!(!get(&users[1], "speak").granted);
        assert_eq!(get(&users[1], "speak").rule, None);
        let enter = get(&users[1], "enter");
        assert!(enter.granted);
        assert_eq!(enter.rule, Some((ROOT, "/".into(), 0)));
        assert_eq!(
            get(&users[0], "mute_deafen").rule,
            Some((1, "/Lobby".into(), 1))
        );
        assert!(!get(&users[1], "mute_deafen").granted);
        assert_eq!(users[0].permissions.len(), 15);
        assert!(effective(&s, 42).is_none());
    }

    #[test]
    fn permissions_and_subjects_parse_from_what_people_type() {
        assert_eq!(
            parse_permissions("speak, Enter").unwrap(),
            bit(Permission::Speak) | bit(Permission::Enter)
        );
        assert_eq!(parse_permissions("all").unwrap(), Permissions::ALL.bits());
        let e = parse_permissions("speak,shout").unwrap_err();
        assert!(e.contains("\"shout\"") && e.contains("mute_deafen"), "{e}");
        assert!(parse_permissions(" , ").is_err());

        let s = state();
        use acl_rule::Subject::{Role as R, UserKey as U};
        assert_eq!(parse_subject(&s, "mod").unwrap(), R("mod".into()));
        assert_eq!(parse_subject(&s, "everyone").unwrap(), R("everyone".into()));
        assert_eq!(parse_subject(&s, "ada").unwrap(), U(vec![7; 32]));
        assert_eq!(parse_subject(&s, "user:Ada").unwrap(), U(vec![7; 32]));
        assert_eq!(parse_subject(&s, &"07".repeat(32)).unwrap(), U(vec![7; 32]));
        assert!(parse_subject(&s, "role:nobody").is_err());
        let e = parse_subject(&s, "Bob").unwrap_err();
        assert!(e.contains("neither a role nor a user"), "{e}");
    }

    #[test]
    fn a_preview_shows_the_rules_before_they_are_sent() {
        let s = state();
        let (inherit, mut rules) = own_rules(&s, 2).unwrap();
        assert!(inherit);
        assert_eq!(rules.len(), 2);
        let speaks = |users: &[Effective]| {
            users[0]
                .permissions
                .iter()
                .find(|d| d.permission == "speak")
                .map(|d| d.granted)
                .unwrap()
        };
        assert!(speaks(&effective(&s, 2).unwrap()), "Ada's own rule");
        // Without Ada's rule nothing grants speak in Quiet (Lobby's allow
        // is for Lobby only; Quiet's deny applies below it only).
        rules.remove(0);
        let after = preview(&s, 2, true, &rules).unwrap();
        assert!(!speaks(&after));
        // Stopping inheritance drops traverse from the root: nothing left.
        let closed = preview(&s, 2, false, &rules).unwrap();
        assert_eq!(
            closed[0].traverse_denied_at.as_deref(),
            Some("/Lobby/Quiet")
        );
        // The state itself is unchanged.
        assert_eq!(own_rules(&s, 2).unwrap().1.len(), 2);
        assert!(preview(&s, 99, true, &[]).is_none());
    }
}
