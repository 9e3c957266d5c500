//! Roles: create, delete, grant, revoke. The server checks `manage_roles`
//! and that nobody grants what they do not hold.

use voice_proto::pb::wire::{Role, RoleRemove, SessionRoles, change::Kind};

use crate::engine::{Engine, resolve};
use crate::error::Error;

impl Engine {
    /// Creates a role.
    pub async fn create_role(&self, name: &str, description: &str) -> Result<(), Error> {
        let (name, description) = (name.to_owned(), description.to_owned());
        self.propose(move |s, _| {
            if s.roles().contains_key(&name) {
                return Err(Error::Invalid(format!("a role named {name:?} exists")));
            }
            Ok(Kind::AddRole(Role {
                name: name.clone(),
                description: description.clone(),
            }))
        })
        .await
        .map(|_| ())
    }

    /// Deletes a role (the server takes it from sessions and rules first).
    pub async fn delete_role(&self, name: &str) -> Result<(), Error> {
        let name = name.to_owned();
        self.propose(move |_, _| Ok(Kind::RemoveRole(RoleRemove { name: name.clone() })))
            .await
            .map(|_| ())
    }

    /// Gives `user` the role `role` (`grant`) or takes it away.
    pub async fn set_role(&self, user: &str, role: &str, grant: bool) -> Result<(), Error> {
        let (user, role) = (user.to_owned(), role.to_owned());
        self.propose(move |s, _| {
            let session = resolve::user(s, &user)?;
            let mut roles = s
                .session(session)
                .map(|x| x.roles.clone())
                .unwrap_or_default();
            let held = roles.contains(&role);
            match (grant, held) {
                (true, true) => {
                    return Err(Error::Invalid(format!("{user} already holds {role}")));
                }
                (false, false) => {
                    return Err(Error::Invalid(format!("{user} does not hold {role}")));
                }
                (true, false) => roles.push(role.clone()),
                (false, true) => roles.retain(|r| r != &role),
            }
            roles.sort();
            Ok(Kind::SetSessionRoles(SessionRoles { session, roles }))
        })
        .await
        .map(|_| ())
    }
}
