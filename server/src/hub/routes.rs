//! The voice routing table: who may speak and who hears them, rebuilt after
//! every change so the relay reads it without taking the state lock.

use std::collections::HashMap;

use voice_proto::acl::{Subject, evaluate};
use voice_proto::pb::wire::Permission;
use voice_proto::state::SessionId;

use super::{Hub, Inner};

/// Where one session's voice goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The session may speak in its room and is not muted.
    pub speak: bool,
    /// The other sessions of its room that are not deafened.
    pub targets: Vec<quinn::Connection>,
}

/// Every session's route.
#[derive(Debug, Default)]
pub struct Routes {
    /// By sender.
    pub by_session: HashMap<SessionId, Route>,
}

impl Hub {
    /// Recomputes the routes from the state (cached Speak permissions).
    pub(super) fn rebuild_routes(&self, inner: &Inner) {
        let state = &inner.state;
        let mut by_session = HashMap::with_capacity(inner.links.len());
        for (id, _) in inner.links.iter() {
            let Some(session) = state.session(*id) else {
                continue;
            };
            let speak = !session.self_mute
                && !session.server_mute
                && evaluate(state, Subject::from(session), session.room)
                    .contains(Permission::Speak);
            let targets = if speak {
                state
                    .sessions_in(session.room)
                    .filter(|s| s.id != *id && !s.self_deaf && !s.server_deaf)
                    .filter_map(|s| inner.links.get(&s.id).map(|l| l.conn.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            by_session.insert(*id, Route { speak, targets });
        }
        self.routes
            .store(std::sync::Arc::new(Routes { by_session }));
    }
}
