//! A room's access rules being edited: a draft of the room's own rules
//! (order matters: a later rule overrides an earlier one) and whether it
//! inherits, kept apart from how the editor draws it. Nothing reaches the
//! server until [`AccessDraft::request`] is sent.

use voice_proto::State;
use voice_proto::acl::Permissions;
use voice_proto::pb::wire::{AclRule, Permission, acl_rule};
use voice_proto::state::ROOT;
use voiced_client::acl::own_rules;
use voiced_client::text::printable;

use crate::link::Command;
use crate::model::refusal::Refusal;

/// The editor's draft of one room's rules.
#[derive(Clone, Debug, PartialEq)]
pub struct AccessDraft {
    /// The room.
    pub room: u32,
    /// Inherit the ancestors' rules (always on for the root).
    pub inherit: bool,
    /// The room's own rules, in order.
    pub rules: Vec<AclRule>,
    /// The rule whose permissions are shown for editing.
    pub selected: Option<usize>,
    /// Sent; waiting for the server's answer.
    pub saving: bool,
    /// The server refused the last save.
    pub refusal: Option<Refusal>,
}

impl AccessDraft {
    /// A draft of `room`'s rules as they stand; `None` for a room the
    /// state does not hold.
    pub fn open(state: &State, room: u32) -> Option<Self> {
        let (inherit, rules) = own_rules(state, room)?;
        Some(Self {
            room,
            inherit,
            selected: (!rules.is_empty()).then_some(0),
            rules,
            saving: false,
            refusal: None,
        })
    }

    /// Whether the room is the root (which has nothing to inherit from).
    pub fn is_root(&self) -> bool {
        self.room == ROOT
    }

    /// Adds a rule for `subject` at the end (granting and taking nothing
    /// yet, applying here and below) and selects it.
    pub fn add(&mut self, subject: acl_rule::Subject) {
        self.rules.push(AclRule {
            subject: Some(subject),
            allow: 0,
            deny: 0,
            apply_here: true,
            apply_subs: true,
        });
        self.selected = Some(self.rules.len() - 1);
    }

    /// Removes rule `index` (nothing when there is none).
    pub fn remove(&mut self, index: usize) {
        if index >= self.rules.len() {
            return;
        }
        self.rules.remove(index);
        self.selected = match self.selected {
            Some(s) if s == index => None,
            Some(s) if s > index => Some(s - 1),
            other => other,
        };
    }

    /// Moves rule `index` one place earlier (it then overrides less).
    pub fn move_up(&mut self, index: usize) {
        if index > 0 && index < self.rules.len() {
            self.swap(index - 1, index);
        }
    }

    /// Moves rule `index` one place later (it then overrides more).
    pub fn move_down(&mut self, index: usize) {
        if index + 1 < self.rules.len() {
            self.swap(index, index + 1);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.rules.swap(a, b);
        self.selected = match self.selected {
            Some(s) if s == a => Some(b),
            Some(s) if s == b => Some(a),
            other => other,
        };
    }

    /// Sets whether rule `index` allows (or, with `deny`, takes away)
    /// `permission`.
    pub fn set(&mut self, index: usize, permission: Permission, deny: bool, on: bool) {
        let Some(rule) = self.rules.get_mut(index) else {
            return;
        };
        let bits = if deny {
            &mut rule.deny
        } else {
            &mut rule.allow
        };
        let bit = Permissions::bit(permission);
        if on {
            *bits |= bit;
        } else {
            *bits &= !bit;
        }
    }

    /// Whether rule `index` allows (or, with `deny`, takes away) `permission`.
    pub fn has(&self, index: usize, permission: Permission, deny: bool) -> bool {
        self.rules.get(index).is_some_and(|rule| {
            let bits = if deny { rule.deny } else { rule.allow };
            bits & Permissions::bit(permission) != 0
        })
    }

    /// Whether the draft differs from the room's rules in `state`.
    pub fn changed(&self, state: &State) -> bool {
        own_rules(state, self.room).is_none_or(|(inherit, rules)| {
            inherit != (self.inherit || self.is_root()) || rules != self.rules
        })
    }

    /// The command that saves the draft.
    pub fn command(&self) -> Command {
        Command::SetAcl {
            room: self.room,
            inherit: self.inherit || self.is_root(),
            rules: self.rules.clone(),
        }
    }
}

/// Whom a rule is about, in words ("role everyone", "user Bob"; a key
/// nobody present holds by its first digits); names escaped.
pub fn subject_text(state: &State, subject: Option<&acl_rule::Subject>) -> String {
    match subject {
        Some(acl_rule::Subject::Role(role)) => format!("role {}", printable(role)),
        Some(acl_rule::Subject::UserKey(key)) => {
            let name = state
                .sessions()
                .values()
                .find(|s| &s.public_key == key)
                .map(|s| printable(&s.name).into_owned());
            match name {
                Some(name) => format!("user {name}"),
                None => {
                    let hex = voice_proto::hash::hex(key);
                    format!("user {}…", &hex[..16.min(hex.len())])
                }
            }
        }
        None => "nobody".to_owned(),
    }
}

/// The subjects a new rule can be about: every role, then every user
/// present (one per key), each with its words.
pub fn subjects(state: &State) -> Vec<(acl_rule::Subject, String)> {
    let mut out: Vec<(acl_rule::Subject, String)> = voiced_client::acl::roles(state)
        .into_iter()
        .map(|r| {
            let text = format!("role {}", printable(&r.name));
            (acl_rule::Subject::Role(r.name), text)
        })
        .collect();
    let mut users: Vec<(&str, &Vec<u8>)> = state
        .sessions()
        .values()
        .map(|s| (s.name.as_str(), &s.public_key))
        .collect();
    users.sort();
    let mut seen = std::collections::BTreeSet::new();
    for (name, key) in users {
        if seen.insert(key) {
            out.push((
                acl_rule::Subject::UserKey(key.clone()),
                format!("user {}", printable(name)),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use voice_proto::Limits;
    use voice_proto::pb::wire::{Change, Room, Session, change::Kind};

    use super::*;

    fn state() -> State {
        let mut s = State::new("Root", Limits::default());
        for kind in [
            Kind::AddRoom(Room {
                id: 1,
                parent: ROOT,
                name: "Den".into(),
                inherit_acl: true,
                ..Room::default()
            }),
            Kind::AddSession(Session {
                id: 4,
                public_key: vec![2; 32],
                name: "Bob".into(),
                room: 1,
                ..Session::default()
            }),
        ] {
            let applied = s.apply(&Change { kind: Some(kind) });
            assert!(applied.is_ok(), "{applied:?}");
        }
        s
    }

    #[test]
    fn a_draft_adds_orders_toggles_and_removes_rules() {
        let s = state();
        let mut d = AccessDraft::open(&s, 1).unwrap();
        assert!(d.rules.is_empty() && d.inherit && !d.changed(&s));
        d.add(acl_rule::Subject::Role("everyone".into()));
        d.add(acl_rule::Subject::UserKey(vec![2; 32]));
        assert_eq!(d.selected, Some(1));
        d.set(1, Permission::Speak, true, true);
        assert!(d.has(1, Permission::Speak, true) && !d.has(1, Permission::Speak, false));
        d.move_up(1);
        assert_eq!(d.selected, Some(0));
        assert_eq!(d.rules[0].deny, Permissions::bit(Permission::Speak));
        d.move_up(0);
        d.move_down(1);
        assert_eq!(d.rules[0].deny, Permissions::bit(Permission::Speak));
        d.remove(1);
        d.remove(7);
        assert_eq!(d.rules.len(), 1);
        d.inherit = false;
        assert!(d.changed(&s));
        let Command::SetAcl {
            room,
            inherit,
            rules,
        } = d.command()
        else {
            panic!("{:?}", d.command());
        };
        assert_eq!((room, inherit, rules.len()), (1, false, 1));
        assert_eq!(subject_text(&s, rules[0].subject.as_ref()), "user Bob");
        // The root always inherits (from nothing).
        let mut root = AccessDraft::open(&s, ROOT).unwrap();
        root.inherit = false;
        assert!(matches!(
            root.command(),
            Command::SetAcl { inherit: true, .. }
        ));
        assert!(AccessDraft::open(&s, 9).is_none());
    }

    #[test]
    fn subjects_are_roles_then_users_present() {
        let words: Vec<String> = subjects(&state()).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            words,
            ["role admin", "role everyone", "role known", "user Bob"]
        );
    }
}
