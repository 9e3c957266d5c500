//! Applying one validated change, and computing its inverse.

use std::collections::BTreeSet;

use super::tree::same_name;
use super::{BUILTIN_ROLES, ROLE_EVERYONE, ROOT, RoomId, State, StateError};
use crate::pb::wire::change::Kind;
use crate::pb::wire::{
    AclRule, Change, FileRemove, Role, RoleRemove, Room, RoomAcl, RoomEdit, RoomMove, RoomRemove,
    Session, SessionFlags, SessionMove, SessionRemove, SessionRename, SessionRoles, SharedFile,
    acl_rule::Subject,
};
use crate::text::{CodePoint, refusal, unsafe_in_name};

/// The suffix user names may not end with (any case): front ends write
/// it after the name of the server's and bots' chat (`sender` 0).
const SERVER_SUFFIX: &str = "(server)";

impl State {
    /// Applies a change after checking it completely, and returns its
    /// inverse: the changes that, applied in order right after (with
    /// [`State::apply_all`]), restore the previous state and hash. Most
    /// changes have one; removing a room with sub-rooms, users or files in
    /// it has one per room restored, file restored and user moved back.
    /// On error nothing changed.
    pub fn apply(&mut self, change: &Change) -> Result<Vec<Change>, StateError> {
        let kind = change.kind.as_ref().ok_or(StateError::EmptyChange)?;
        let inverse = self.apply_unhashed(kind)?;
        self.rehash();
        Ok(inverse
            .into_iter()
            .map(|k| Change { kind: Some(k) })
            .collect())
    }

    /// Applies several changes as one (one hash): all of them or, on the
    /// first error, none. Returns the inverses in the order they must be
    /// applied to undo.
    pub fn apply_all(&mut self, changes: &[Change]) -> Result<Vec<Change>, StateError> {
        let mut undo: Vec<Vec<Kind>> = Vec::with_capacity(changes.len());
        for change in changes {
            let applied = change
                .kind
                .as_ref()
                .ok_or(StateError::EmptyChange)
                .and_then(|kind| self.apply_unhashed(kind));
            match applied {
                Ok(inverse) => undo.push(inverse),
                Err(err) => {
                    for inverse in undo.iter().rev().flatten() {
                        // Inverses of changes just applied always apply.
                        let _ = self.apply_unhashed(inverse);
                    }
                    self.rehash();
                    return Err(err);
                }
            }
        }
        self.rehash();
        Ok(undo
            .into_iter()
            .rev()
            .flatten()
            .map(|k| Change { kind: Some(k) })
            .collect())
    }

    /// Checks and applies one change without updating the hash; returns
    /// its inverse steps in the order they undo it.
    pub(super) fn apply_unhashed(&mut self, kind: &Kind) -> Result<Vec<Kind>, StateError> {
        let inverse = match kind {
            Kind::AddRoom(room) => self.add_room(room),
            Kind::EditRoom(edit) => self.edit_room(edit),
            Kind::MoveRoom(mv) => self.move_room(mv),
            Kind::RemoveRoom(rm) => return self.remove_room(rm.id),
            Kind::SetRoomAcl(acl) => self.set_room_acl(acl),
            Kind::AddSession(session) => self.add_session(session),
            Kind::RemoveSession(rm) => self.remove_session(rm.id),
            Kind::MoveSession(mv) => self.move_session(mv),
            Kind::SetSessionFlags(flags) => self.set_session_flags(flags),
            Kind::RenameSession(rename) => self.rename_session(rename),
            Kind::SetSessionRoles(roles) => self.set_session_roles(roles),
            Kind::AddRole(role) => self.add_role(role),
            Kind::RemoveRole(rm) => self.remove_role(&rm.name),
            Kind::AddFile(file) => self.add_file(file),
            Kind::RemoveFile(rm) => self.remove_file(rm.id),
        }?;
        Ok(vec![inverse])
    }

    fn add_room(&mut self, room: &Room) -> Result<Kind, StateError> {
        if room.id == ROOT || self.rooms.contains_key(&room.id) {
            return Err(StateError::DuplicateId("room", room.id));
        }
        self.check_limit("rooms", self.rooms.len(), self.limits.max_rooms)?;
        let parent_depth = self
            .depth(room.parent)
            .ok_or(StateError::UnknownRoom(room.parent))?;
        self.check_depth(parent_depth + 1)?;
        self.check_text("room name", &room.name, self.limits.max_name_len)?;
        self.check_text(
            "room description",
            &room.description,
            self.limits.max_description_len,
        )?;
        self.check_sibling_name(room.parent, &room.name, None)?;
        self.check_acl(&room.acl)?;
        self.children
            .entry(room.parent)
            .or_default()
            .insert(room.id);
        self.rooms.insert(room.id, room.clone());
        Ok(Kind::RemoveRoom(RoomRemove { id: room.id }))
    }

    fn edit_room(&mut self, edit: &RoomEdit) -> Result<Kind, StateError> {
        let room = self
            .rooms
            .get(&edit.id)
            .ok_or(StateError::UnknownRoom(edit.id))?;
        if let Some(name) = &edit.name {
            self.check_text("room name", name, self.limits.max_name_len)?;
            if edit.id != ROOT {
                self.check_sibling_name(room.parent, name, Some(edit.id))?;
            }
        }
        if let Some(description) = &edit.description {
            self.check_text(
                "room description",
                description,
                self.limits.max_description_len,
            )?;
        }
        let inverse = RoomEdit {
            id: edit.id,
            name: edit.name.as_ref().map(|_| room.name.clone()),
            description: edit.description.as_ref().map(|_| room.description.clone()),
            position: edit.position.map(|_| room.position),
        };
        let room = self
            .rooms
            .get_mut(&edit.id)
            .ok_or(StateError::UnknownRoom(edit.id))?;
        if let Some(name) = &edit.name {
            room.name.clone_from(name);
        }
        if let Some(description) = &edit.description {
            room.description.clone_from(description);
        }
        if let Some(position) = edit.position {
            room.position = position;
        }
        Ok(Kind::EditRoom(inverse))
    }

    fn move_room(&mut self, mv: &RoomMove) -> Result<Kind, StateError> {
        if mv.id == ROOT {
            return Err(StateError::RootImmutable);
        }
        let room = self
            .rooms
            .get(&mv.id)
            .ok_or(StateError::UnknownRoom(mv.id))?;
        let old_parent = room.parent;
        let parent_depth = self
            .depth(mv.parent)
            .ok_or(StateError::UnknownRoom(mv.parent))?;
        if self.is_within(mv.parent, mv.id) {
            return Err(StateError::Cycle {
                room: mv.id,
                parent: mv.parent,
            });
        }
        self.check_depth(parent_depth + 1 + self.height(mv.id))?;
        if mv.parent != old_parent {
            self.check_sibling_name(mv.parent, &room.name, Some(mv.id))?;
        }
        if let Some(siblings) = self.children.get_mut(&old_parent) {
            siblings.remove(&mv.id);
            if siblings.is_empty() {
                self.children.remove(&old_parent);
            }
        }
        self.children.entry(mv.parent).or_default().insert(mv.id);
        if let Some(room) = self.rooms.get_mut(&mv.id) {
            room.parent = mv.parent;
        }
        Ok(Kind::MoveRoom(RoomMove {
            id: mv.id,
            parent: old_parent,
        }))
    }

    /// Removes a room and everything below it as one change: its sub-rooms
    /// go, its shared files go, its users move to its parent. The inverse
    /// restores the rooms (parents first), the files, then moves the users
    /// back.
    fn remove_room(&mut self, id: RoomId) -> Result<Vec<Kind>, StateError> {
        if id == ROOT {
            return Err(StateError::RootImmutable);
        }
        let parent = self
            .rooms
            .get(&id)
            .ok_or(StateError::UnknownRoom(id))?
            .parent;
        let subtree = self.subtree(id);
        let inside: BTreeSet<RoomId> = subtree.iter().copied().collect();
        let mut undo = Vec::with_capacity(subtree.len());
        for room in &subtree {
            if let Some(room) = self.rooms.remove(room) {
                undo.push(Kind::AddRoom(room));
            }
            self.children.remove(room);
        }
        if let Some(siblings) = self.children.get_mut(&parent) {
            siblings.remove(&id);
            if siblings.is_empty() {
                self.children.remove(&parent);
            }
        }
        let files: Vec<u32> = self
            .files
            .values()
            .filter(|f| inside.contains(&f.room))
            .map(|f| f.id)
            .collect();
        for file in files {
            if let Some(file) = self.files.remove(&file) {
                undo.push(Kind::AddFile(file));
            }
        }
        for session in self.sessions.values_mut() {
            if inside.contains(&session.room) {
                undo.push(Kind::MoveSession(SessionMove {
                    session: session.id,
                    room: session.room,
                }));
                session.room = parent;
            }
        }
        Ok(undo)
    }

    fn set_room_acl(&mut self, acl: &RoomAcl) -> Result<Kind, StateError> {
        if !self.rooms.contains_key(&acl.room) {
            return Err(StateError::UnknownRoom(acl.room));
        }
        self.check_acl(&acl.rules)?;
        let room = self
            .rooms
            .get_mut(&acl.room)
            .ok_or(StateError::UnknownRoom(acl.room))?;
        let inverse = RoomAcl {
            room: acl.room,
            inherit_acl: room.inherit_acl,
            rules: std::mem::replace(&mut room.acl, acl.rules.clone()),
        };
        room.inherit_acl = acl.inherit_acl;
        Ok(Kind::SetRoomAcl(inverse))
    }

    fn add_session(&mut self, session: &Session) -> Result<Kind, StateError> {
        if session.id == 0 || self.sessions.contains_key(&session.id) {
            return Err(StateError::DuplicateId("session", session.id));
        }
        self.check_limit("sessions", self.sessions.len(), self.limits.max_sessions)?;
        check_key(&session.public_key)?;
        self.check_text("user name", &session.name, self.limits.max_name_len)?;
        if !self.rooms.contains_key(&session.room) {
            return Err(StateError::UnknownRoom(session.room));
        }
        let roles = self.canonical_roles(&session.roles)?;
        let mut session = session.clone();
        session.roles = roles;
        self.sessions.insert(session.id, session.clone());
        Ok(Kind::RemoveSession(SessionRemove { id: session.id }))
    }

    fn remove_session(&mut self, id: u32) -> Result<Kind, StateError> {
        let session = self
            .sessions
            .remove(&id)
            .ok_or(StateError::UnknownSession(id))?;
        Ok(Kind::AddSession(session))
    }

    fn move_session(&mut self, mv: &SessionMove) -> Result<Kind, StateError> {
        if !self.rooms.contains_key(&mv.room) {
            return Err(StateError::UnknownRoom(mv.room));
        }
        let session = self
            .sessions
            .get_mut(&mv.session)
            .ok_or(StateError::UnknownSession(mv.session))?;
        let old = std::mem::replace(&mut session.room, mv.room);
        Ok(Kind::MoveSession(SessionMove {
            session: mv.session,
            room: old,
        }))
    }

    fn set_session_flags(&mut self, flags: &SessionFlags) -> Result<Kind, StateError> {
        let s = self
            .sessions
            .get_mut(&flags.session)
            .ok_or(StateError::UnknownSession(flags.session))?;
        let inverse = SessionFlags {
            session: flags.session,
            self_mute: flags.self_mute.map(|_| s.self_mute),
            self_deaf: flags.self_deaf.map(|_| s.self_deaf),
            server_mute: flags.server_mute.map(|_| s.server_mute),
            server_deaf: flags.server_deaf.map(|_| s.server_deaf),
            recording: flags.recording.map(|_| s.recording),
        };
        let set = |field: &mut bool, value: Option<bool>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut s.self_mute, flags.self_mute);
        set(&mut s.self_deaf, flags.self_deaf);
        set(&mut s.server_mute, flags.server_mute);
        set(&mut s.server_deaf, flags.server_deaf);
        set(&mut s.recording, flags.recording);
        Ok(Kind::SetSessionFlags(inverse))
    }

    fn rename_session(&mut self, rename: &SessionRename) -> Result<Kind, StateError> {
        self.check_text("user name", &rename.name, self.limits.max_name_len)?;
        let s = self
            .sessions
            .get_mut(&rename.session)
            .ok_or(StateError::UnknownSession(rename.session))?;
        let old = std::mem::replace(&mut s.name, rename.name.clone());
        Ok(Kind::RenameSession(SessionRename {
            session: rename.session,
            name: old,
        }))
    }

    fn set_session_roles(&mut self, roles: &SessionRoles) -> Result<Kind, StateError> {
        if !self.sessions.contains_key(&roles.session) {
            return Err(StateError::UnknownSession(roles.session));
        }
        let canonical = self.canonical_roles(&roles.roles)?;
        let s = self
            .sessions
            .get_mut(&roles.session)
            .ok_or(StateError::UnknownSession(roles.session))?;
        let old = std::mem::replace(&mut s.roles, canonical);
        Ok(Kind::SetSessionRoles(SessionRoles {
            session: roles.session,
            roles: old,
        }))
    }

    fn add_role(&mut self, role: &Role) -> Result<Kind, StateError> {
        if self.roles.contains_key(&role.name) {
            return Err(StateError::DuplicateRole(role.name.clone()));
        }
        self.check_limit("roles", self.roles.len(), self.limits.max_roles)?;
        self.check_text("role name", &role.name, self.limits.max_name_len)?;
        self.check_text(
            "role description",
            &role.description,
            self.limits.max_description_len,
        )?;
        if role.name.chars().any(char::is_whitespace) {
            return Err(StateError::InvalidText {
                what: "role name",
                reason: "role names have no spaces".into(),
            });
        }
        self.roles.insert(role.name.clone(), role.clone());
        Ok(Kind::RemoveRole(RoleRemove {
            name: role.name.clone(),
        }))
    }

    fn remove_role(&mut self, name: &str) -> Result<Kind, StateError> {
        if BUILTIN_ROLES.contains(&name) {
            return Err(StateError::BuiltinRole(name.to_owned()));
        }
        if !self.roles.contains_key(name) {
            return Err(StateError::UnknownRole(name.to_owned()));
        }
        let granted = self
            .sessions
            .values()
            .any(|s| s.roles.iter().any(|r| r == name));
        let in_acl = self.rooms.values().any(|room| {
            room.acl
                .iter()
                .any(|rule| matches!(&rule.subject, Some(Subject::Role(r)) if r == name))
        });
        if granted || in_acl {
            return Err(StateError::RoleInUse(name.to_owned()));
        }
        let role = self
            .roles
            .remove(name)
            .ok_or_else(|| StateError::UnknownRole(name.to_owned()))?;
        Ok(Kind::AddRole(role))
    }

    fn add_file(&mut self, file: &SharedFile) -> Result<Kind, StateError> {
        if file.id == 0 || self.files.contains_key(&file.id) {
            return Err(StateError::DuplicateId("file", file.id));
        }
        self.check_limit("shared files", self.files.len(), self.limits.max_files)?;
        if !matches!(file.info_hash.len(), 20 | 32) {
            return Err(StateError::InvalidInfoHash(file.info_hash.len()));
        }
        check_key(&file.owner_key)?;
        self.check_text("file name", &file.name, self.limits.max_description_len)?;
        if !self.rooms.contains_key(&file.room) {
            return Err(StateError::UnknownRoom(file.room));
        }
        self.files.insert(file.id, file.clone());
        Ok(Kind::RemoveFile(FileRemove { id: file.id }))
    }

    fn remove_file(&mut self, id: u32) -> Result<Kind, StateError> {
        let file = self.files.remove(&id).ok_or(StateError::UnknownFile(id))?;
        Ok(Kind::AddFile(file))
    }

    // ---- checks -----------------------------------------------------------

    fn check_limit(&self, what: &'static str, len: usize, max: usize) -> Result<(), StateError> {
        if len >= max {
            Err(StateError::LimitReached { what, max })
        } else {
            Ok(())
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), StateError> {
        if depth > self.limits.max_depth {
            Err(StateError::TooDeep {
                depth,
                max: self.limits.max_depth,
            })
        } else {
            Ok(())
        }
    }

    /// Names: not empty, no surrounding spaces, bounded, and none of the
    /// characters [`crate::text::classify`] finds unsafe (control, bidi,
    /// invisible), so that no name can pass for another or drive a terminal.
    /// Descriptions may be empty and may hold newlines, no other control
    /// characters.
    pub(super) fn check_text(
        &self,
        what: &'static str,
        text: &str,
        max: usize,
    ) -> Result<(), StateError> {
        let invalid = |reason: String| Err(StateError::InvalidText { what, reason });
        let count = text.chars().count();
        if count > max {
            return invalid(format!("{count} characters, at most {max} allowed"));
        }
        let is_description = what.ends_with("description");
        if !is_description {
            if text.trim().is_empty() {
                return invalid("must not be empty".into());
            }
            if text.trim() != text {
                return invalid("must not start or end with spaces".into());
            }
            // Front ends mark the server's and bots' chat with it.
            if what == "user name" && text.to_lowercase().ends_with(SERVER_SUFFIX) {
                return invalid(format!(
                    "must not end with \"{SERVER_SUFFIX}\": front ends mark messages from the server and its bots that way"
                ));
            }
        }
        if is_description {
            // Free text: newlines may stay; bidi and invisible characters
            // are escaped by front ends on output.
            if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
                return invalid(format!(
                    "{} is a control character; remove it (descriptions may hold newlines, no other control characters)",
                    CodePoint(c)
                ));
            }
        } else if let Some((c, kind)) = unsafe_in_name(text) {
            return invalid(refusal(c, kind));
        }
        Ok(())
    }

    fn check_sibling_name(
        &self,
        parent: RoomId,
        name: &str,
        except: Option<RoomId>,
    ) -> Result<(), StateError> {
        let clash = self
            .children(parent)
            .any(|c| Some(c) != except && same_name(&self.rooms[&c].name, name));
        if clash {
            Err(StateError::DuplicateName {
                parent,
                name: name.to_owned(),
            })
        } else {
            Ok(())
        }
    }

    pub(super) fn check_acl(&self, rules: &[AclRule]) -> Result<(), StateError> {
        if rules.len() > self.limits.max_acl_rules {
            return Err(StateError::LimitReached {
                what: "ACL rules in a room",
                max: self.limits.max_acl_rules,
            });
        }
        for rule in rules {
            match &rule.subject {
                None => return Err(StateError::RuleWithoutSubject),
                Some(Subject::Role(name)) if !self.roles.contains_key(name) => {
                    return Err(StateError::UnknownRole(name.clone()));
                }
                Some(Subject::UserKey(key)) => check_key(key)?,
                Some(Subject::Role(_)) => {}
            }
        }
        Ok(())
    }

    /// Sorted, deduplicated, known roles without the implicit `everyone`.
    fn canonical_roles(&self, roles: &[String]) -> Result<Vec<String>, StateError> {
        let mut out: Vec<String> = Vec::with_capacity(roles.len());
        for role in roles {
            if role == ROLE_EVERYONE {
                return Err(StateError::BuiltinRole(role.clone()));
            }
            if !self.roles.contains_key(role) {
                return Err(StateError::UnknownRole(role.clone()));
            }
            out.push(role.clone());
        }
        out.sort();
        out.dedup();
        if out.len() > self.limits.max_session_roles {
            return Err(StateError::LimitReached {
                what: "roles of one user",
                max: self.limits.max_session_roles,
            });
        }
        Ok(out)
    }
}

fn check_key(key: &[u8]) -> Result<(), StateError> {
    if key.len() == 32 {
        Ok(())
    } else {
        Err(StateError::InvalidKey(key.len()))
    }
}
