//! Routine news (joins, leaves) and errors, shown in a small corner area that
//! never blocks the window: each fades after a while or is dismissed.

use std::collections::VecDeque;

use super::refusal::Refusal;

/// How long a notification stays, in milliseconds.
pub const SHOWN_MS: u64 = 8_000;
/// How long an error stays, in milliseconds (longer: it may say what to do).
pub const ERROR_SHOWN_MS: u64 = 20_000;
/// Notifications kept at most.
pub const MAX: usize = 6;

/// How much a notification matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Routine news.
    Info,
    /// Something failed.
    Error,
}

/// One line of news.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// Unique within this window (for dismissing).
    pub id: u64,
    /// Routine or error.
    pub level: Level,
    /// The text.
    pub text: String,
    /// Unix time in ms when it arrived.
    pub at_ms: u64,
    /// Why an action was refused ("Why can't I …?", shown folded).
    pub why: Option<Refusal>,
}

/// The notifications in view, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Notifications {
    items: VecDeque<Notification>,
    next_id: u64,
}

impl Notifications {
    /// Adds one (the oldest goes beyond [`MAX`]); a repeat of the newest only
    /// refreshes it.
    pub fn push(&mut self, level: Level, text: impl Into<String>, now_ms: u64) {
        self.push_refusal(level, text, None, now_ms);
    }

    /// Like [`Notifications::push`], with why an action was refused.
    pub fn push_refusal(
        &mut self,
        level: Level,
        text: impl Into<String>,
        why: Option<Refusal>,
        now_ms: u64,
    ) {
        let text = text.into();
        if let Some(last) = self.items.back_mut()
            && last.text == text
            && last.level == level
        {
            last.at_ms = now_ms;
            last.why = why;
            return;
        }
        self.next_id += 1;
        self.items.push_back(Notification {
            id: self.next_id,
            level,
            text,
            at_ms: now_ms,
            why,
        });
        while self.items.len() > MAX {
            self.items.pop_front();
        }
    }

    /// Drops those shown long enough.
    pub fn expire(&mut self, now_ms: u64) {
        self.items.retain(|n| {
            let shown = match n.level {
                Level::Info => SHOWN_MS,
                Level::Error => ERROR_SHOWN_MS,
            };
            now_ms.saturating_sub(n.at_ms) < shown
        });
    }

    /// Removes one by id.
    pub fn dismiss(&mut self, id: u64) {
        self.items.retain(|n| n.id != id);
    }

    /// Those in view, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Notification> {
        self.items.iter()
    }

    /// Whether none is in view.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_repeats_refresh_and_errors_stay_longer() {
        let mut n = Notifications::default();
        for i in 0..10 {
            n.push(Level::Info, format!("n{i}"), 0);
        }
        assert_eq!(n.iter().count(), MAX);
        assert_eq!(n.iter().next().map(|x| x.text.as_str()), Some("n4"));
        n.push(Level::Error, "boom", 0);
        n.push(Level::Error, "boom", 5_000);
        assert_eq!(n.iter().filter(|x| x.text == "boom").count(), 1);
        n.expire(SHOWN_MS + 1);
        let left: Vec<_> = n.iter().map(|x| x.text.clone()).collect();
        assert_eq!(left, ["boom"]);
        let id = n.iter().next().map(|x| x.id).unwrap_or_default();
        n.dismiss(id);
        assert!(n.is_empty());
    }
}
