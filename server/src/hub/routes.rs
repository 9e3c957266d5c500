//! The voice routing table: who may speak and who hears them, rebuilt after
//! every change so the relay reads it without taking the state lock.
//!
//! The rebuild is linear in the sessions: each room's listeners are listed
//! once and shared (`Arc`) by every speaker of that room, who skips itself
//! when sending. A session hears its room only while it holds Enter there
//! (an ACL change can take it away from a session already inside), and
//! speaks only while it holds Speak.

use std::collections::HashMap;
use std::sync::Arc;

use voice_proto::acl::{Permissions, Subject, evaluate};
use voice_proto::pb::wire::Permission;
use voice_proto::state::{RoomId, SessionId};

use super::{Hub, Inner};

/// A session that hears its room.
#[derive(Debug, Clone)]
pub struct Listener {
    /// Its session.
    pub id: SessionId,
    /// Its connection.
    pub conn: crate::quic::Connection,
}

/// Where one session's voice goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The session may speak in its room and is not muted.
    pub speak: bool,
    /// The sessions of its room that are not deafened, itself possibly
    /// included (the relay skips it); empty when it may not speak.
    pub listeners: Arc<[Listener]>,
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
        // One evaluation per session: Enter to hear its room, Speak to talk.
        let permissions: HashMap<SessionId, Permissions> = inner
            .links
            .keys()
            .filter_map(|id| state.session(*id))
            .map(|s| (s.id, evaluate(state, Subject::from(s), s.room)))
            .collect();
        let mut rooms: HashMap<RoomId, Vec<Listener>> = HashMap::new();
        for (id, link) in inner.links.iter() {
            let Some(session) = state.session(*id) else {
                continue;
            };
            let hears = permissions
                .get(id)
                .is_some_and(|p| p.contains(Permission::Enter));
            if hears && !session.self_deaf && !session.server_deaf {
                rooms.entry(session.room).or_default().push(Listener {
                    id: *id,
                    conn: link.conn.clone(),
                });
            }
        }
        let rooms: HashMap<RoomId, Arc<[Listener]>> =
            rooms.into_iter().map(|(r, l)| (r, l.into())).collect();
        let none: Arc<[Listener]> = Arc::new([]);
        let mut by_session = HashMap::with_capacity(inner.links.len());
        for id in inner.links.keys() {
            let Some(session) = state.session(*id) else {
                continue;
            };
            let speak = !session.self_mute
                && !session.server_mute
                && permissions
                    .get(id)
                    .is_some_and(|p| p.contains(Permission::Speak));
            let listeners = match rooms.get(&session.room) {
                Some(l) if speak => l.clone(),
                _ => none.clone(),
            };
            by_session.insert(*id, Route { speak, listeners });
        }
        self.routes.store(Arc::new(Routes { by_session }));
    }
}
