//! Connections of the plugin listener: at most so many in all and per
//! address (an IPv4 address or an IPv6 /64), each holding its slot until
//! it closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::address::AddressKey;

/// The connection slots.
#[derive(Debug)]
pub struct ConnectionSlots {
    total: usize,
    per_address: usize,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<AddressKey, usize>,
}

/// One open connection's slot; given back on drop.
#[derive(Debug)]
pub struct ConnectionSlot {
    slots: Arc<ConnectionSlots>,
    key: AddressKey,
}

impl ConnectionSlots {
    /// At most `total` connections, `per_address` from one address.
    pub fn new(total: usize, per_address: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            per_address,
            open: Mutex::default(),
        })
    }

    /// A slot for a connection from `ip`, or why not.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, &'static str> {
        let key = AddressKey::of(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if open.total >= self.total {
            return Err("the plugin listener is full");
        }
        let from = open.by_address.entry(key).or_insert(0);
        if *from >= self.per_address {
            return Err("too many plugin connections from this address");
        }
        *from += 1;
        open.total += 1;
        Ok(ConnectionSlot {
            slots: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self
            .slots
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slots_are_bounded_in_all_and_per_address_and_given_back() {
        let slots = ConnectionSlots::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert!(slots.take(a).is_err());
        let _b1 = slots.take(b).unwrap();
        assert!(slots.take(b).is_err(), "full");
        drop(a1);
        assert_eq!(slots.open(), 2);
        assert!(slots.take(a).is_ok());
    }
}
