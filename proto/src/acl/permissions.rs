//! A set of permissions as a bit mask.

use std::fmt;
use std::ops::{BitAnd, BitOr, Not};

use crate::pb::wire::Permission;

/// A set of [`Permission`]s; bit `value - 1` stands for a permission.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u32);

impl Permissions {
    /// No permission.
    pub const NONE: Self = Self(0);
    /// Every defined permission.
    pub const ALL: Self = Self((1 << Self::EVERY.len()) - 1);

    /// Every permission, in declaration order.
    pub const EVERY: [Permission; 15] = [
        Permission::Traverse,
        Permission::Enter,
        Permission::Speak,
        Permission::Whisper,
        Permission::TextMessage,
        Permission::ShareFiles,
        Permission::MakeRoom,
        Permission::EditRoom,
        Permission::MuteDeafen,
        Permission::MoveUsers,
        Permission::Kick,
        Permission::Ban,
        Permission::Register,
        Permission::ManageRoles,
        Permission::ReadHistory,
    ];

    /// From a mask received from a peer; undefined bits are dropped.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits & Self::ALL.0)
    }

    /// The mask.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The bit of one permission (0 for `Unspecified`).
    pub const fn bit(p: Permission) -> u32 {
        let v = p as i32;
        if v <= 0 { 0 } else { 1 << (v - 1) }
    }

    /// Whether `p` is in the set.
    pub const fn contains(self, p: Permission) -> bool {
        let bit = Self::bit(p);
        bit != 0 && self.0 & bit == bit
    }

    /// The permissions in the set.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Self::EVERY.into_iter().filter(move |p| self.contains(*p))
    }

    /// The one name a permission is shown as everywhere (server refusals,
    /// the admin CLI, `voicectl explain`, the daemon's messages): lower case,
    /// `_` between words (`traverse`, `text_message`, `move_users`).
    pub const fn name(p: Permission) -> &'static str {
        match p {
            Permission::Unspecified => "unspecified",
            Permission::Traverse => "traverse",
            Permission::Enter => "enter",
            Permission::Speak => "speak",
            Permission::Whisper => "whisper",
            Permission::TextMessage => "text_message",
            Permission::ShareFiles => "share_files",
            Permission::MakeRoom => "make_room",
            Permission::EditRoom => "edit_room",
            Permission::MuteDeafen => "mute_deafen",
            Permission::MoveUsers => "move_users",
            Permission::Kick => "kick",
            Permission::Ban => "ban",
            Permission::Register => "register",
            Permission::ManageRoles => "manage_roles",
            Permission::ReadHistory => "read_history",
        }
    }

    /// The name of a permission as it travels on the wire (an `i32`);
    /// `None` for a value this build does not know.
    pub fn name_of(value: i32) -> Option<&'static str> {
        Permission::try_from(value).ok().map(Self::name)
    }

    /// Parses a permission name as typed by a user: case-insensitive, and
    /// `-` is accepted for `_` (`move-users` is `move_users`).
    pub fn parse_one(name: &str) -> Option<Permission> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        Self::EVERY.into_iter().find(|p| Self::name(*p) == wanted)
    }
}

impl From<Permission> for Permissions {
    fn from(p: Permission) -> Self {
        Self(Self::bit(p))
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |m, p| m | Self::bit(p)))
    }
}

impl BitOr for Permissions {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitAnd for Permissions {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for Permissions {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0 & Self::ALL.0)
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Self::name)).finish()
    }
}

impl fmt::Display for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Self::name).collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_one_name_that_parses_back() {
        for p in Permissions::EVERY {
            let name = Permissions::name(p);
            assert_eq!(name, p.as_str_name().to_ascii_lowercase(), "{p:?}");
            assert_eq!(Permissions::parse_one(name), Some(p));
            assert_eq!(Permissions::parse_one(&name.replace('_', "-")), Some(p));
            assert_eq!(Permissions::parse_one(&name.to_ascii_uppercase()), Some(p));
            assert_eq!(Permissions::name_of(p as i32), Some(name));
        }
    }

    #[test]
    fn names_are_spelled_with_underscores() {
        assert_eq!(Permissions::name(Permission::MoveUsers), "move_users");
        assert_eq!(
            Permissions::parse_one(" Move-Users "),
            Some(Permission::MoveUsers)
        );
        assert_eq!(Permissions::parse_one("unspecified"), None);
        assert_eq!(Permissions::parse_one("fly"), None);
        assert_eq!(Permissions::name_of(999), None);
        let set: Permissions = [Permission::Enter, Permission::TextMessage]
            .into_iter()
            .collect();
        assert_eq!(set.to_string(), "enter,text_message");
    }
}
