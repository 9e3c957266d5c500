//! The connection IDs the server's QUIC endpoint issues: 8 bytes, 6 of
//! them random, 2 a keyed BLAKE3 tag of those 6.
//!
//! quinn's default generator also makes 8-byte IDs, but only 3 of their
//! bytes are random (the other 5 are a hash of them): 16.7 million values.
//! quinn-proto draws the connection ID of a QUIC retry from the generator
//! without checking the IDs in use, and routes the client's next Initial
//! by that ID, to an established connection if one holds it. Under a login
//! storm the server sends hundreds of retries (every login past
//! `login_retry_threshold`) while thousands of IDs are in use, so now and
//! then a retry ID was one a connection held already: that client's
//! Initials went to the other connection, which discarded them, and the
//! client's handshake timed out (about one storm of 1,000 logins in 11
//! lost a client this way; found with a packet capture, docs/perf.md). Six
//! random bytes make that chance about 2^24 times smaller.
//!
//! The tag keeps what the default generator's hash is for: a packet for an
//! ID this endpoint never issued is told apart cheaply (all but 1 in 65,536)
//! and dropped instead of answered with a stateless reset.

use quinn::{ConnectionId, ConnectionIdGenerator};
use rand::RngCore;

/// Random bytes per ID.
const NONCE_LEN: usize = 6;
/// Tag bytes per ID.
const TAG_LEN: usize = 2;
/// Bytes per ID: the same 8 as quinn's default, so voice packets do not
/// grow.
pub const CID_LEN: usize = NONCE_LEN + TAG_LEN;

/// Makes and recognises the server endpoint's connection IDs (one key per
/// endpoint, never stored). With several QUIC loops on one port, an ID's
/// first byte modulo their number names the loop that issued it (the
/// kernel steers packets by it: `crate::quic`'s shard module).
pub struct Generator {
    key: [u8; 32],
    shard: u8,
    shards: u8,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator").finish_non_exhaustive()
    }
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    /// A generator with a fresh random key, for a lone loop.
    pub fn new() -> Self {
        Self::for_shard(0, 1)
    }

    /// A generator with a fresh random key for loop `shard` of `shards`
    /// (at most 64): its IDs' first byte is `shard` modulo `shards`.
    pub fn for_shard(shard: u8, shards: u8) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let shards = shards.clamp(1, 64);
        Self {
            key,
            shard: shard % shards,
            shards,
        }
    }

    fn tag(&self, nonce: &[u8]) -> [u8; TAG_LEN] {
        let hash = blake3::keyed_hash(&self.key, nonce);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&hash.as_bytes()[..TAG_LEN]);
        tag
    }
}

impl ConnectionIdGenerator for Generator {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut id = [0u8; CID_LEN];
        rand::thread_rng().fill_bytes(&mut id[..NONCE_LEN]);
        // The first byte names the loop; the rest of it stays random.
        let shards = usize::from(self.shards);
        let r = usize::from(id[0]) % (256 / shards);
        id[0] = u8::try_from(r * shards + usize::from(self.shard)).unwrap_or(self.shard);
        let tag = self.tag(&id[..NONCE_LEN]);
        id[NONCE_LEN..].copy_from_slice(&tag);
        ConnectionId::new(&id)
    }

    fn validate(&self, cid: &ConnectionId) -> Result<(), quinn_proto::InvalidCid> {
        if cid.len() != CID_LEN {
            return Err(quinn_proto::InvalidCid);
        }
        let (nonce, tag) = cid.split_at(NONCE_LEN);
        if self.tag(nonce)[..] == tag[..] {
            Ok(())
        } else {
            Err(quinn_proto::InvalidCid)
        }
    }

    fn cid_len(&self) -> usize {
        CID_LEN
    }

    fn cid_lifetime(&self) -> Option<std::time::Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashSet;

    use super::*;

    /// Distinct IDs among `n` drawn from `g`.
    fn distinct(g: &mut dyn ConnectionIdGenerator, n: usize) -> usize {
        (0..n)
            .map(|_| g.generate_cid())
            .collect::<HashSet<_>>()
            .len()
    }

    #[test]
    fn ids_are_eight_bytes_and_recognised() {
        let mut g = Generator::new();
        for _ in 0..1000 {
            let id = g.generate_cid();
            assert_eq!(id.len(), 8, "voice packets must not grow");
            assert!(g.validate(&id).is_ok());
        }
    }

    #[test]
    fn ids_of_another_endpoint_or_random_bytes_are_not_recognised() {
        let g = Generator::new();
        let mut other = Generator::new();
        let mut accepted = 0;
        for _ in 0..10_000 {
            if g.validate(&other.generate_cid()).is_ok() {
                accepted += 1;
            }
        }
        // 1 in 65,536 passes by chance: 0.15 expected, more than 5 has a
        // chance of about 1e-7.
        assert!(accepted <= 5, "{accepted} of 10,000 foreign IDs passed");
        assert!(g.validate(&ConnectionId::new(&[1, 2, 3, 4])).is_err());
        assert!(g.validate(&ConnectionId::new(&[0; 20])).is_err());
    }

    #[test]
    fn a_loops_ids_name_it_and_stay_random_otherwise() {
        for shards in [2u8, 3, 7, 64] {
            for shard in 0..shards {
                let mut g = Generator::for_shard(shard, shards);
                let mut firsts = HashSet::new();
                for _ in 0..2000 {
                    let id = g.generate_cid();
                    assert_eq!(id[0] % shards, shard, "loop {shard} of {shards}");
                    assert!(g.validate(&id).is_ok());
                    firsts.insert(id[0]);
                }
                // Every first byte that names the loop is drawn.
                assert_eq!(firsts.len(), 256 / usize::from(shards), "{shard}/{shards}");
            }
        }
        assert_eq!(distinct(&mut Generator::for_shard(1, 2), 100_000), 100_000);
    }

    #[test]
    fn a_hundred_thousand_ids_do_not_repeat() {
        // 48 random bits: a repeat among 100,000 has a chance of 2e-5.
        assert_eq!(distinct(&mut Generator::new(), 100_000), 100_000);
    }

    #[test]
    fn quinns_default_ids_repeat_within_a_hundred_thousand() {
        // Why this module exists: quinn's default generator draws from 2^24
        // values, so 100,000 IDs hold about 300 repeats. If this starts to
        // fail, quinn widened its IDs and this module may go.
        let mut g = quinn_proto::HashedConnectionIdGenerator::new();
        assert!(distinct(&mut g, 100_000) < 100_000 - 100);
    }
}
