//! The loop's state apart from the socket: the endpoint, the connections,
//! the rooms, the deadlines and the outbox, and what one round does with
//! them (see the module above for the order).

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use quinn_proto::{
    Connection, ConnectionHandle, DatagramEvent, Endpoint, Event, StreamEvent, VarInt,
};
use voice_proto::voice;
use voice_server::udp::{MAX_BATCH, QUEUE_LIMIT};

use super::MAX_CONNECTIONS;
use super::join::{Join, Step};
use voice_server::quic::{Outbox, Received, Timers};

/// One connection and what the relay knows of it.
#[derive(Debug)]
struct Peer {
    conn: Connection,
    /// The id its voice is relayed with.
    speaker: u32,
    join: Join,
    room: Option<u32>,
    /// The deadline in the timer heap that is current for it.
    deadline: Option<Instant>,
    /// In this round's list of connections to drive.
    touched: bool,
}

/// The loop's state apart from the socket.
#[derive(Debug)]
pub struct Relay {
    endpoint: Endpoint,
    /// Connections by `ConnectionHandle.0` (small integers: the endpoint
    /// hands them out of its own slab).
    peers: Vec<Option<Peer>>,
    live: usize,
    /// Members of each room.
    rooms: HashMap<u32, Vec<ConnectionHandle>>,
    /// Every connection's next deadline.
    pub timers: Timers,
    /// The round's datagrams, waiting for the socket.
    pub outbox: Outbox,
    /// Connections to drive this round, each once (`Peer::touched`).
    pub round: Vec<ConnectionHandle>,
    next_speaker: u32,
    /// What quinn-proto writes a datagram into before the outbox copies it.
    scratch: Vec<u8>,
    /// One speaker's voice datagrams of this round.
    voice_in: Vec<Bytes>,
    /// `voice::relay`'s output.
    voice_out: Vec<u8>,
}

impl Relay {
    pub fn new(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            peers: Vec::new(),
            live: 0,
            rooms: HashMap::new(),
            timers: Timers::default(),
            outbox: Outbox::default(),
            round: Vec::new(),
            next_speaker: 1,
            scratch: Vec::new(),
            voice_in: Vec::new(),
            voice_out: Vec::new(),
        }
    }

    /// Hands one received datagram to the endpoint.
    pub fn datagram(&mut self, now: Instant, r: Received) {
        self.scratch.clear();
        match self
            .endpoint
            .handle(now, r.remote, r.local_ip, r.ecn, r.data, &mut self.scratch)
        {
            Some(DatagramEvent::ConnectionEvent(ch, event)) => {
                if let Some(peer) = peer_mut(&mut self.peers, ch) {
                    peer.conn.handle_event(event);
                    touch(&mut self.round, ch, peer);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if self.live >= MAX_CONNECTIONS {
                    let t = self.endpoint.refuse(incoming, &mut self.scratch);
                    self.outbox.push(&t, &self.scratch);
                    return;
                }
                match self.endpoint.accept(incoming, now, &mut self.scratch, None) {
                    Ok((ch, conn)) => self.insert(ch, conn),
                    Err(e) => {
                        if let Some(t) = e.response {
                            self.outbox.push(&t, &self.scratch);
                        }
                    }
                }
            }
            Some(DatagramEvent::Response(t)) => self.outbox.push(&t, &self.scratch),
            None => {}
        }
    }

    fn insert(&mut self, ch: ConnectionHandle, conn: Connection) {
        if self.peers.len() <= ch.0 {
            self.peers.resize_with(ch.0 + 1, || None);
        }
        let speaker = self.next_speaker;
        self.next_speaker = self.next_speaker.wrapping_add(1).max(1);
        let mut peer = Peer {
            conn,
            speaker,
            join: Join::new(),
            room: None,
            deadline: None,
            touched: false,
        };
        touch(&mut self.round, ch, &mut peer);
        self.peers[ch.0] = Some(peer);
        self.live += 1;
    }

    /// Fires the deadlines due at `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some((at, ch)) = self.timers.pop_due(now) {
            if let Some(peer) = peer_mut(&mut self.peers, ch)
                && peer.deadline == Some(at)
            {
                peer.deadline = None;
                peer.conn.handle_timeout(now);
                touch(&mut self.round, ch, peer);
            }
        }
        let peers = &self.peers;
        self.timers.compact(self.live, |at, ch| {
            peers
                .get(ch.0)
                .and_then(Option::as_ref)
                .is_some_and(|p| p.deadline == Some(at))
        });
    }

    /// Drives every connection touched this round: application events
    /// first (which may touch more connections, by forwarding to them), then
    /// each one's endpoint events, transmits and deadline, handing the outbox
    /// to `send` whenever it holds a full batch (`true`) and at the end
    /// (`false`: everything). Stops early when the outbox is full (the
    /// socket buffer is); the rest wait for the next round.
    pub fn drive(&mut self, now: Instant, send: &mut dyn FnMut(&mut Outbox, bool)) {
        let mut i = 0;
        while i < self.round.len() {
            let ch = self.round[i];
            i += 1;
            self.events(ch, now);
        }
        let mut done = 0;
        while done < self.round.len() && self.outbox.len() < QUEUE_LIMIT {
            let ch = self.round[done];
            done += 1;
            self.transmit(ch, now);
            if self.outbox.len() >= MAX_BATCH {
                send(&mut self.outbox, true);
            }
        }
        self.round.drain(..done);
        if !self.outbox.is_empty() {
            send(&mut self.outbox, false);
        }
    }

    /// A connection's application events: its join, its voice.
    fn events(&mut self, ch: ConnectionHandle, now: Instant) {
        let Some(peer) = peer_mut(&mut self.peers, ch) else {
            return;
        };
        let mut lost = false;
        while let Some(event) = peer.conn.poll() {
            match event {
                Event::Stream(StreamEvent::Opened { .. } | StreamEvent::Readable { .. }) => {
                    if let Step::Joined(room) = peer.join.advance(&mut peer.conn, peer.speaker, now)
                    {
                        peer.room = Some(room);
                        self.rooms.entry(room).or_default().push(ch);
                    }
                }
                Event::ConnectionLost { .. } => lost = true,
                _ => {}
            }
        }
        self.voice_in.clear();
        while let Some(datagram) = peer.conn.datagrams().recv() {
            self.voice_in.push(datagram);
        }
        let (room, speaker) = (peer.room, peer.speaker);
        if lost {
            self.leave(ch);
            return;
        }
        let Some(members) = room.and_then(|room| self.rooms.get(&room)) else {
            return;
        };
        for datagram in self.voice_in.drain(..) {
            let Ok(packet) = voice::decode_client(&datagram, voice::DEFAULT_MAX_PAYLOAD) else {
                continue;
            };
            voice::relay(&mut self.voice_out, speaker, &packet);
            let forwarded = Bytes::copy_from_slice(&self.voice_out);
            for &other in members {
                if other == ch {
                    continue;
                }
                if let Some(listener) = peer_mut(&mut self.peers, other) {
                    // Dropping the oldest when the peer's buffer is full, as
                    // quinn's send_datagram does.
                    let _ = listener.conn.datagrams().send(forwarded.clone(), true);
                    touch(&mut self.round, other, listener);
                }
            }
        }
    }

    /// A connection's endpoint events, transmits and next deadline; forgets
    /// it once drained.
    fn transmit(&mut self, ch: ConnectionHandle, now: Instant) {
        let Some(peer) = peer_mut(&mut self.peers, ch) else {
            return;
        };
        peer.touched = false;
        while let Some(event) = peer.conn.poll_endpoint_events() {
            if let Some(event) = self.endpoint.handle_event(ch, event) {
                peer.conn.handle_event(event);
            }
        }
        loop {
            self.scratch.clear();
            match peer.conn.poll_transmit(now, 1, &mut self.scratch) {
                Some(t) => self.outbox.push(&t, &self.scratch),
                None => break,
            }
        }
        let next = peer.conn.poll_timeout();
        if next != peer.deadline {
            peer.deadline = next;
            if let Some(at) = next {
                self.timers.schedule(at, ch);
            }
        }
        if peer.conn.is_drained() {
            self.leave(ch);
            self.peers[ch.0] = None;
            self.live -= 1;
        }
    }

    /// Takes a connection out of its room (it stays known until drained).
    fn leave(&mut self, ch: ConnectionHandle) {
        let Some(peer) = peer_mut(&mut self.peers, ch) else {
            return;
        };
        let Some(room) = peer.room.take() else {
            return;
        };
        if let Some(members) = self.rooms.get_mut(&room) {
            members.retain(|&m| m != ch);
            if members.is_empty() {
                self.rooms.remove(&room);
            }
        }
    }

    /// Closes every connection and queues the close packets.
    pub fn close_all(&mut self, now: Instant, send: &mut dyn FnMut(&mut Outbox, bool)) {
        for (i, slot) in self.peers.iter_mut().enumerate() {
            if let Some(peer) = slot {
                peer.conn.close(
                    now,
                    VarInt::from_u32(0),
                    Bytes::from_static(b"relay stopped"),
                );
                touch(&mut self.round, ConnectionHandle(i), peer);
            }
        }
        self.drive(now, send);
    }
}

fn peer_mut(peers: &mut [Option<Peer>], ch: ConnectionHandle) -> Option<&mut Peer> {
    peers.get_mut(ch.0).and_then(Option::as_mut)
}

/// Puts a connection on this round's list, once.
fn touch(round: &mut Vec<ConnectionHandle>, ch: ConnectionHandle, peer: &mut Peer) {
    if !peer.touched {
        peer.touched = true;
        round.push(ch);
    }
}
