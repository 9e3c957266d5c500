//! Login slots: connections between their first QUIC packet and the end of
//! the voice/1 login, bounded in total and per address so that one peer
//! cannot hold them all (docs/security.md).
//!
//! While fewer than [`Config::login_retry_threshold`] logins are pending
//! every connection gets a slot while one is free. From that many on the
//! server is under pressure: a peer must first prove it receives packets at
//! its source address (a QUIC retry), and an address (IPv4, or IPv6 /64)
//! that already holds [`Config::max_pending_logins_per_address`] slots is
//! refused. So one address holds at most `login_retry_threshold` slots, and
//! spoofed source addresses hold none once the server is under pressure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Config;
use crate::address::AddressKey;

/// What to do with a new connection.
#[derive(Debug)]
pub enum Admission {
    /// Serve it; the slot is held until dropped.
    Admit(LoginSlot),
    /// Ask the peer to prove its address first (a QUIC retry).
    Retry,
    /// Refuse it at the QUIC level, for this reason (for the log).
    Refuse(&'static str),
}

/// The login slots of one server.
#[derive(Debug, Clone)]
pub struct LoginSlots {
    limits: Limits,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max: usize,
    per_address: usize,
    pressure: usize,
}

#[derive(Debug, Default)]
struct Inner {
    total: usize,
    /// Slots held per address; holds only addresses with at least one, so
    /// it never has more than `max` entries.
    per_key: HashMap<AddressKey, usize>,
}

impl LoginSlots {
    /// Slots as `config` sets them.
    pub fn new(config: &Config) -> Self {
        Self {
            limits: Limits {
                max: config.max_pending_logins.max(1),
                per_address: config.max_pending_logins_per_address.max(1),
                pressure: config.login_retry_threshold,
            },
            inner: Arc::default(),
        }
    }

    /// Decides on a connection from `ip`; `validated` tells whether the peer
    /// has already proven its address (or may not be asked to again).
    pub fn admit(&self, ip: IpAddr, validated: bool) -> Admission {
        let key = AddressKey::of(ip);
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.total >= self.limits.max {
            return Admission::Refuse("every login slot is taken");
        }
        let under_pressure = inner.total >= self.limits.pressure;
        if under_pressure && !validated {
            return Admission::Retry;
        }
        let held = inner.per_key.get(&key).copied().unwrap_or(0);
        if under_pressure && held >= self.limits.per_address {
            return Admission::Refuse("too many logins in progress from this address");
        }
        inner.total += 1;
        *inner.per_key.entry(key).or_insert(0) += 1;
        Admission::Admit(LoginSlot {
            slots: self.inner.clone(),
            key,
        })
    }

    /// Slots held now.
    pub fn pending(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One held login slot, given back when dropped.
#[derive(Debug)]
pub struct LoginSlot {
    slots: Arc<Mutex<Inner>>,
    key: AddressKey,
}

impl Drop for LoginSlot {
    fn drop(&mut self) {
        let mut inner = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        inner.total = inner.total.saturating_sub(1);
        if let Some(held) = inner.per_key.get_mut(&self.key) {
            *held -= 1;
            if *held == 0 {
                inner.per_key.remove(&self.key);
            }
        }
    }
}

/// The QUIC loop asks the slots about each new connection, before any TLS
/// work.
impl crate::quic::Policy for LoginSlots {
    type Slot = LoginSlot;

    fn admit(
        &mut self,
        remote: std::net::SocketAddr,
        validated: bool,
    ) -> crate::quic::Admission<LoginSlot> {
        match LoginSlots::admit(self, remote.ip(), validated) {
            Admission::Admit(slot) => crate::quic::Admission::Accept(slot),
            Admission::Retry => {
                tracing::debug!(%remote, "under login pressure: asking for a QUIC retry");
                crate::quic::Admission::Retry
            }
            Admission::Refuse(why) => {
                tracing::debug!(%remote, why, "connection refused");
                crate::quic::Admission::Refuse
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn slots(max: usize, per_address: usize, pressure: usize) -> LoginSlots {
        LoginSlots::new(&Config {
            max_pending_logins: max,
            max_pending_logins_per_address: per_address,
            login_retry_threshold: pressure,
            ..Config::default()
        })
    }

    fn admitted(a: Admission) -> LoginSlot {
        match a {
            Admission::Admit(s) => s,
            other => panic!("not admitted: {other:?}"),
        }
    }

    #[test]
    fn one_address_cannot_take_the_slots_of_others() {
        let s = slots(10, 2, 4);
        let attacker: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::ffff".parse().unwrap();
        let held: Vec<_> = (0..4).map(|_| admitted(s.admit(attacker, false))).collect();
        // Under pressure: unvalidated peers are asked to retry, validated
        // ones from a full /64 are refused, others get in.
        assert!(matches!(s.admit(same_64, false), Admission::Retry));
        assert!(matches!(s.admit(same_64, true), Admission::Refuse(_)));
        let other = admitted(s.admit("192.0.2.7".parse().unwrap(), true));
        assert_eq!(s.pending(), 5);
        drop(held);
        drop(other);
        assert_eq!(s.pending(), 0);
        assert!(s.inner.lock().unwrap().per_key.is_empty());
    }

    #[test]
    fn the_total_is_a_hard_cap() {
        let s = slots(3, 3, 100);
        let held: Vec<_> = (1..=3u8)
            .map(|i| admitted(s.admit(IpAddr::from([192, 0, 2, i]), true)))
            .collect();
        assert!(matches!(
            s.admit("192.0.2.9".parse().unwrap(), true),
            Admission::Refuse(_)
        ));
        drop(held);
        admitted(s.admit("192.0.2.9".parse().unwrap(), true));
    }
}
