//! The QUIC side: one connection attempt ([`dial`]), stream framing
//! ([`frames`]), the state mirror ([`mirror`]) and reconnect delays
//! ([`backoff`]).

pub mod backoff;
pub mod dial;
pub mod frames;
pub mod mirror;
