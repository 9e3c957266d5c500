//! What flows into [`update`](crate::update::update) (actions) and out of it (calls).

use crossterm::event::{KeyEvent, MouseEvent};
use voice_proto::pb::control::RoleGrant;
use voiced_client::command::Answer;
use voiced_client::link::{self, Client, Report};

/// Something that happened: a key, the mouse, the daemon, or the clock.
#[derive(Clone, Debug)]
pub enum Action {
    /// A key event from the terminal.
    Key(KeyEvent),
    /// A mouse event from the terminal.
    Mouse(MouseEvent),
    /// The terminal has a new size (columns, rows).
    Resize(u16, u16),
    /// The clock: Unix time in milliseconds (drives countdowns).
    Tick(u64),
    /// Whether the terminal reports key releases (push-to-talk can be held).
    KeyReleases(bool),
    /// What the link to voiced reported: it came or went, an event, a
    /// call's answer or its failure.
    Link(Report<Answer>),
}

/// A call to voiced that the background task makes: the front-end core's
/// command; its results come back as [`Action::Link`].
pub use voiced_client::command::Command;

/// What `update` asks the background task to call: one of the core's
/// [`Command`]s, or a role change, which the core's command type does not
/// carry (yet); both are made in order by the core's link.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    /// A call of the front-end core.
    Core(Command),
    /// Grant or revoke a role (`GrantRole` / `RevokeRole`).
    Role(RoleChange),
}

/// Grant or revoke one role of one user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChange {
    /// The user's session id.
    pub session: u32,
    /// The role's name.
    pub role: String,
    /// Grant it (else revoke it).
    pub grant: bool,
}

impl RoleChange {
    /// Granting a role, in words (a refusal names the call so).
    pub const GRANT: &'static str = "grant role";
    /// Revoking a role, in words.
    pub const REVOKE: &'static str = "revoke role";

    /// The call in words, for refusals ("grant role").
    pub fn what(&self) -> &'static str {
        if self.grant {
            Self::GRANT
        } else {
            Self::REVOKE
        }
    }
}

impl From<Command> for Call {
    fn from(command: Command) -> Self {
        Self::Core(command)
    }
}

impl PartialEq<Command> for Call {
    fn eq(&self, other: &Command) -> bool {
        matches!(self, Self::Core(c) if c == other)
    }
}

impl link::Call for Call {
    type Answer = Answer;

    fn what(&self) -> &'static str {
        match self {
            Self::Core(c) => c.what(),
            Self::Role(r) => r.what(),
        }
    }

    async fn call(self, mut client: Client) -> Result<Option<Answer>, tonic::Status> {
        match self {
            Self::Core(c) => voiced_client::command::execute(client, c).await,
            Self::Role(r) => {
                let request = RoleGrant {
                    user: r.session.to_string(),
                    role: r.role,
                };
                if r.grant {
                    client.grant_role(request).await?;
                } else {
                    client.revoke_role(request).await?;
                }
                Ok(None)
            }
        }
    }

    fn runs_beside(&self) -> bool {
        matches!(self, Self::Core(c) if link::Call::runs_beside(c))
    }
}
