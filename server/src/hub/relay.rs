//! Who may relay to whom: both ends peers of one swarm, the dialer in the
//! swarm's room and the target still allowed in it, under the relay's
//! stream allowance. The bytes themselves go through `conn::relay`.

use voice_proto::pb::wire::RelayOpen;
use voice_proto::state::SessionId;

use super::Hub;
use super::tracker::swarm_key;
use crate::relay::Ticket;

impl Hub {
    /// Admits a relay from `from` as `open` asks: the target's connection
    /// and the relay's place in the book, or why not.
    pub async fn relay_admit(
        &self,
        from: SessionId,
        open: &RelayOpen,
    ) -> Result<(crate::quic::Connection, Ticket), String> {
        if !self.relays.enabled() {
            return Err(
                "this server does not relay file transfers (file_relay is off); only peers \
                 that can reach each other directly can exchange files"
                    .to_owned(),
            );
        }
        let key = swarm_key(open.room, &open.info_hash)?;
        let target = open.target;
        if target == from {
            return Err("a relay to your own session makes no sense".to_owned());
        }
        let conn = {
            let inner = self.inner.lock().await;
            Self::in_room(&inner, from, open.room)?;
            let swarm = inner.tracker.swarm(&key).ok_or_else(|| {
                format!(
                    "no file with this info hash is shared in room {}",
                    open.room
                )
            })?;
            if !swarm.peers.contains_key(&from) {
                return Err("announce the torrent first: you are not in its swarm".to_owned());
            }
            if !swarm.peers.contains_key(&target) || !Self::may_enter(&inner, target, open.room) {
                return Err(format!(
                    "session {target} is not a peer of this file in room {}",
                    open.room
                ));
            }
            inner
                .links
                .get(&target)
                .map(|l| l.conn.clone())
                .ok_or_else(|| format!("session {target} is not connected"))?
        };
        let ticket = self.relays.reserve(key, from, target)?;
        Ok((conn, ticket))
    }

    /// Ends relays whose ends are no longer peers of their swarm allowed in
    /// its room (moved away, lost the permission, left the swarm).
    pub async fn sweep_relays(&self) {
        if !self.relays.any_open() {
            return;
        }
        let inner = self.inner.lock().await;
        let allowed = |swarm: &crate::tracker::SwarmKey, a: SessionId, b: SessionId| {
            inner.tracker.swarm(swarm).is_some_and(|s| {
                [a, b]
                    .iter()
                    .all(|end| s.peers.contains_key(end) && Self::may_enter(&inner, *end, swarm.0))
            })
        };
        self.relays.end_unless(allowed);
    }
}
