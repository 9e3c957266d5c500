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
    pub const EVERY: [Permission; 14] = [
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

    /// The lower-case name used in the CLI (`traverse`, `text_message`, …).
    pub fn name(p: Permission) -> String {
        p.as_str_name().to_ascii_lowercase()
    }

    /// Parses a permission name, case-insensitive, `-` or `_` between words.
    pub fn parse_one(name: &str) -> Option<Permission> {
        let wanted = name.trim().to_ascii_uppercase().replace('-', "_");
        Self::EVERY.into_iter().find(|p| p.as_str_name() == wanted)
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
        let names: Vec<String> = self.iter().map(Self::name).collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}
