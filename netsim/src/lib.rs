//! Seeded network impairments for voice tests: random and burst loss
//! (Gilbert–Elliott), delay, jitter, reordering, duplication and blackouts,
//! as a pure [`Impairer`] (decide per packet) and a real [`UdpProxy`].

mod impairer;
mod proxy;

pub use impairer::{GilbertElliott, Impairer, Impairment};
pub use proxy::{ProxyStats, UdpProxy};
