//! The access overlays: a room's rules and who may do what there, and a
//! user's roles.

/// The part of the access overlay shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AclTab {
    /// The rules in force in the room: inherited (with the room each comes
    /// from), then the room's own, with their scope.
    #[default]
    Rules,
    /// Every user present × every permission in the room: allowed or
    /// denied, and the rule that decided.
    Effective,
}

impl AclTab {
    /// The other tab.
    pub fn other(self) -> Self {
        match self {
            Self::Rules => Self::Effective,
            Self::Effective => Self::Rules,
        }
    }
}

/// The access overlay of one room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclView {
    /// The room shown.
    pub room: u32,
    /// The tab shown.
    pub tab: AclTab,
    /// Lines scrolled from the top.
    pub scroll: usize,
}

impl AclView {
    /// The rules tab of `room`, at the top.
    pub fn new(room: u32) -> Self {
        Self {
            room,
            tab: AclTab::Rules,
            scroll: 0,
        }
    }
}

/// The roles of one user, to grant or revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolesView {
    /// The user's session id.
    pub session: u32,
    /// The highlighted role (index into `voiced_client::acl::roles`).
    pub selected: usize,
}
