//! What a talker sends: 20 ms Opus-sized packets in talk spurts separated by
//! DTX gaps, each carrying its send time so receivers can time the relay.

use std::time::Instant;

use rand::Rng;

/// Packets per second of a talker in a spurt (20 ms frames).
pub const PACKETS_PER_SECOND: u32 = 50;
/// Smallest and largest payload: 24–48 kb/s speech at 20 ms.
pub const PAYLOAD_RANGE: std::ops::RangeInclusive<usize> = 60..=120;
/// Bytes of the payload the bench uses: send time (8), measured flag (1).
pub const STAMP_LEN: usize = 9;

/// Talk spurts of 1–4 s, then 100–600 ms of DTX silence (nothing sent).
#[derive(Debug)]
pub struct Schedule {
    left_in_spurt: u32,
    left_in_gap: u32,
}

/// What to do in one 20 ms slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Send a packet of this size; `last` ends the spurt.
    Packet {
        /// Payload length.
        len: usize,
        /// Last packet of the spurt (end-of-burst flag).
        last: bool,
    },
    /// DTX: nothing is sent.
    Silent,
}

impl Schedule {
    /// A schedule starting at a random point of a spurt (talkers desynchronise).
    pub fn new(rng: &mut impl Rng) -> Self {
        Self {
            left_in_spurt: rng.gen_range(1..=200),
            left_in_gap: 0,
        }
    }

    /// The next slot.
    pub fn next(&mut self, rng: &mut impl Rng) -> Slot {
        if self.left_in_gap > 0 {
            self.left_in_gap -= 1;
            if self.left_in_gap == 0 {
                self.left_in_spurt = rng.gen_range(50..=200);
            }
            return Slot::Silent;
        }
        self.left_in_spurt = self.left_in_spurt.saturating_sub(1);
        let last = self.left_in_spurt == 0;
        if last {
            self.left_in_gap = rng.gen_range(5..=30);
        }
        Slot::Packet {
            len: rng.gen_range(PAYLOAD_RANGE),
            last,
        }
    }
}

/// Fills `payload` (at least [`STAMP_LEN`] long): send time in µs since
/// `epoch`, whether the packet counts, then filler. Returns the send time.
pub fn stamp(payload: &mut [u8], epoch: Instant, counted: bool) -> u64 {
    let micros = epoch.elapsed().as_micros() as u64;
    payload[..8].copy_from_slice(&micros.to_le_bytes());
    payload[8] = u8::from(counted);
    micros
}

/// Reads a stamp: send time in µs since the epoch and whether it counts.
pub fn read_stamp(payload: &[u8]) -> Option<(u64, bool)> {
    let time = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    Some((time, *payload.get(8)? == 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spurts_end_with_a_flag_and_sizes_stay_in_range() {
        let mut rng = rand::thread_rng();
        let mut s = Schedule::new(&mut rng);
        let (mut packets, mut silent, mut ends) = (0, 0, 0);
        for _ in 0..50_000 {
            match s.next(&mut rng) {
                Slot::Packet { len, last } => {
                    assert!(PAYLOAD_RANGE.contains(&len));
                    packets += 1;
                    ends += u32::from(last);
                }
                Slot::Silent => silent += 1,
            }
        }
        assert!(ends > 100, "spurts end: {ends}");
        assert!(silent > 0 && packets > silent * 3, "{packets} / {silent}");
    }

    #[test]
    fn stamps_round_trip() {
        let epoch = Instant::now();
        let mut p = [0u8; 60];
        stamp(&mut p, epoch, true);
        let (t, counted) = read_stamp(&p).unwrap();
        assert!(counted && t < 10_000_000);
        assert_eq!(read_stamp(&p[..5]), None);
    }
}
