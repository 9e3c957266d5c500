//! Who should have heard what while clients move between rooms.
//!
//! Each listener keeps the windows of time it sat in one room. A talker's
//! packet is expected by a listener when its send stamp falls in one of the
//! listener's windows for the talker's room. A window opens a margin after
//! the server acknowledged a move and closes a margin before the next move
//! is proposed, so packets whose room the server could decide either way
//! (sent while the move was in flight) are neither expected nor counted.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

/// Margin around a move within which a packet's room is uncertain, µs.
pub const MARGIN_US: u64 = 50_000;

/// Windows a listener looks back through when a packet arrives (packets
/// arrive within milliseconds; windows last seconds).
const RECENT: usize = 4;

/// A time in one room, µs since the bench's epoch, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The room.
    pub room: u32,
    /// First send time that counts.
    pub from: u64,
    /// Last send time that counts (`u64::MAX` while open).
    pub to: u64,
}

impl Window {
    fn holds(&self, room: u32, stamp: u64) -> bool {
        self.room == room && self.from <= stamp && stamp <= self.to
    }
}

/// One listener's windows and what it heard within them.
#[derive(Debug, Default)]
pub struct Residency {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    windows: Vec<Window>,
    /// Packets heard in a window, as it stands now.
    heard: u64,
    /// Send times of the packets heard in the open window lately: closing
    /// the window takes back those sent after its end.
    recent: VecDeque<u64>,
}

/// How far back [`Inner::recent`] reaches, µs: far more than any margin.
const RECENT_US: u64 = 2_000_000;

impl Inner {
    fn close(&mut self, to: u64) {
        if let Some(last) = self.windows.last_mut()
            && last.to == u64::MAX
        {
            last.to = to;
            let late = self.recent.iter().filter(|&&s| s > to).count() as u64;
            self.heard -= late;
        }
        self.recent.clear();
    }
}

impl Residency {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a window in `room` for packets sent from `from` on; an open
    /// window is closed first, at `from`.
    pub fn open(&self, room: u32, from: u64) {
        let mut inner = self.lock();
        inner.close(from);
        inner.windows.push(Window {
            room,
            from,
            to: u64::MAX,
        });
    }

    /// Closes the open window for packets sent after `to` (an empty window
    /// when `to` falls before its start); packets already heard that were
    /// sent after `to` no longer count.
    pub fn close(&self, to: u64) {
        self.lock().close(to);
    }

    /// A packet a talker in `room` sent at `stamp` arrived: counts it when
    /// it falls in a window; returns whether it did.
    pub fn arrived(&self, room: u32, stamp: u64) -> bool {
        let mut inner = self.lock();
        let n = inner.windows.len();
        let Some(at) = (n.saturating_sub(RECENT)..n)
            .rev()
            .find(|&i| inner.windows[i].holds(room, stamp))
        else {
            return false;
        };
        inner.heard += 1;
        if at + 1 == n && inner.windows[at].to == u64::MAX {
            while inner.recent.front().is_some_and(|&s| s + RECENT_US < stamp) {
                inner.recent.pop_front();
            }
            inner.recent.push_back(stamp);
        }
        true
    }

    /// Packets heard within the windows as they stand now.
    pub fn heard(&self) -> u64 {
        self.lock().heard
    }

    /// The windows so far (closed ones and the open one).
    pub fn windows(&self) -> Vec<Window> {
        self.lock().windows.clone()
    }
}

/// Packets a listener with `windows` should have heard from a talker in
/// `room` whose counted packets went out at `stamps` (sorted).
pub fn expected(windows: &[Window], room: u32, stamps: &[u64]) -> u64 {
    windows
        .iter()
        .filter(|w| w.room == room && w.from <= w.to)
        .map(|w| {
            let start = stamps.partition_point(|&s| s < w.from);
            let end = stamps.partition_point(|&s| s <= w.to);
            (end - start) as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_count_only_inside_a_window_of_their_room() {
        let r = Residency::default();
        r.open(1, 100);
        assert!(r.arrived(1, 100));
        assert!(!r.arrived(2, 150), "another room");
        assert!(!r.arrived(1, 99), "before the window");
        r.close(200);
        assert!(r.arrived(1, 200), "a late arrival sent inside the window");
        assert!(!r.arrived(1, 201));
        r.open(2, 300);
        assert!(r.arrived(2, 301));
        assert!(!r.arrived(1, 301));
        assert_eq!(r.heard(), 3);
        // Heard while the window was open, sent after the end it gets.
        assert!(r.arrived(2, 400));
        assert!(r.arrived(2, 350));
        r.close(360);
        assert_eq!(r.heard(), 4);
        assert!(!r.arrived(2, 400));
        r.open(2, 500);
        assert_eq!(
            r.windows(),
            vec![
                Window {
                    room: 1,
                    from: 100,
                    to: 200
                },
                Window {
                    room: 2,
                    from: 300,
                    to: 360
                },
                Window {
                    room: 2,
                    from: 500,
                    to: u64::MAX
                }
            ]
        );
    }

    #[test]
    fn expected_counts_stamps_in_the_windows_of_the_room() {
        let windows = [
            Window {
                room: 1,
                from: 10,
                to: 20,
            },
            Window {
                room: 2,
                from: 21,
                to: 30,
            },
            Window {
                room: 1,
                from: 40,
                to: 35,
            },
            Window {
                room: 1,
                from: 50,
                to: 60,
            },
        ];
        let stamps = [5, 10, 15, 20, 25, 37, 50, 61];
        assert_eq!(expected(&windows, 1, &stamps), 4);
        assert_eq!(expected(&windows, 2, &stamps), 1);
        assert_eq!(expected(&windows, 3, &stamps), 0);
    }
}
