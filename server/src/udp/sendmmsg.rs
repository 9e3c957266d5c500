//! `sendmmsg(2)`: many datagrams, each with its own destination, source
//! address and ECN mark, in one system call.
//!
//! One of the server's two unsafe modules (with `quic/shard.rs`), kept to
//! building the C structures of one call. Neither quinn-udp (one `sendmsg` per transmit) nor a safe wrapper
//! offers this: rustix's `sendmmsg` cannot attach `IP_PKTINFO` or `IP_TOS`,
//! and nix's cannot say how many datagrams left without reading memory it
//! never initialised. The control messages are the ones quinn-udp attaches
//! to a single send (its `prepare_msg`), so a datagram leaves exactly as it
//! would have one at a time.
#![allow(unsafe_code)]

use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Datagrams handed to the kernel in one call at most.
pub const MAX_BATCH: usize = 64;

/// Control bytes per datagram: an ECN mark (`int`) and a source address
/// (`in6_pktinfo`), each padded to `CMSG_SPACE` (24 + 40 on Linux).
const CONTROL: usize = 64;

/// One datagram's control messages, aligned as `cmsghdr` requires.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct Control([u8; CONTROL]);

/// One datagram to send.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// Where it goes.
    pub destination: SocketAddr,
    /// The local address it must leave from (the one the peer wrote to),
    /// for a socket bound to a wildcard address.
    pub src_ip: Option<IpAddr>,
    /// The ECN codepoint (0 = not ECN-capable).
    pub ecn: u8,
    /// The UDP payload.
    pub contents: &'a [u8],
}

/// Sends the first [`MAX_BATCH`] datagrams at most and returns how many the
/// kernel took (always a prefix, at least one). An error is the first
/// datagram's: `WouldBlock` when the socket buffer is full, anything else
/// is that datagram's own failure and the rest may still go.
///
/// `v6_socket` says the socket is IPv6 (dual-stack): IPv4 destinations are
/// then written as IPv4-mapped addresses.
pub fn send(fd: BorrowedFd<'_>, v6_socket: bool, datagrams: &[Datagram<'_>]) -> io::Result<usize> {
    let n = datagrams.len().min(MAX_BATCH);
    if n == 0 {
        return Ok(0);
    }
    // SAFETY: these are plain C structures for which all-zero bytes are a
    // valid value (null pointers, zero lengths, AF_UNSPEC).
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { mem::zeroed() };
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { mem::zeroed() };
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { mem::zeroed() };
    let mut controls = [Control([0; CONTROL]); MAX_BATCH];
    for (i, d) in datagrams[..n].iter().enumerate() {
        let name_len = write_name(&mut names[i], d.destination, v6_socket);
        let hdr = &mut hdrs[i].msg_hdr;
        hdr.msg_namelen = name_len;
        hdr.msg_iovlen = 1;
        iovs[i].iov_len = d.contents.len();
        iovs[i].iov_base = d.contents.as_ptr().cast_mut().cast();
    }
    // The pointers, taken once every buffer is written, each into its own
    // element of arrays that outlive the call.
    let names_ptr = names.as_mut_ptr();
    let iovs_ptr = iovs.as_mut_ptr();
    let controls_ptr = controls.as_mut_ptr();
    for (i, d) in datagrams[..n].iter().enumerate() {
        let hdr = &mut hdrs[i].msg_hdr;
        // SAFETY: i < n <= MAX_BATCH, the length of each array.
        unsafe {
            hdr.msg_name = names_ptr.add(i).cast();
            hdr.msg_iov = iovs_ptr.add(i);
            hdr.msg_control = controls_ptr.add(i).cast();
        }
        hdr.msg_controllen = CONTROL as _;
        // SAFETY: msg_control points at CONTROL bytes aligned for cmsghdr,
        // and msg_controllen says so.
        let used = unsafe { encode_control(hdr, d) };
        hdr.msg_controllen = used as _;
        if used == 0 {
            hdr.msg_control = std::ptr::null_mut();
        }
    }
    // SAFETY: the n headers point into buffers alive until the call
    // returns (names, iovs, controls here, contents borrowed by the
    // caller); the kernel only reads them, and writes each msg_len.
    let sent = unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

/// Writes `addr` as a `sockaddr_in` or `sockaddr_in6` and returns its length.
fn write_name(
    storage: &mut libc::sockaddr_storage,
    addr: SocketAddr,
    v6_socket: bool,
) -> libc::socklen_t {
    let addr = match addr {
        SocketAddr::V4(v4) if v6_socket => SocketAddr::from((v4.ip().to_ipv6_mapped(), v4.port())),
        other => other,
    };
    match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for every
            // sockaddr type.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
            mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
            mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// Writes the datagram's ECN mark and source address as control messages,
/// as quinn-udp does, and returns the bytes used.
///
/// # Safety
/// `hdr.msg_control` must point at `hdr.msg_controllen` writable bytes
/// aligned for `cmsghdr`, at least [`CONTROL`] of them.
unsafe fn encode_control(hdr: &mut libc::msghdr, d: &Datagram<'_>) -> usize {
    let ipv4 = match d.destination {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
    };
    let ecn = libc::c_int::from(d.ecn);
    // SAFETY: the caller's buffer holds both messages (CONTROL bytes).
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(hdr);
        let mut used = 0;
        if ipv4 {
            used += push(&mut cmsg, hdr, libc::IPPROTO_IP, libc::IP_TOS, ecn);
        } else {
            used += push(&mut cmsg, hdr, libc::IPPROTO_IPV6, libc::IPV6_TCLASS, ecn);
        }
        match d.src_ip {
            Some(IpAddr::V4(v4)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                used += push(&mut cmsg, hdr, libc::IPPROTO_IP, libc::IP_PKTINFO, info);
            }
            Some(IpAddr::V6(v6)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: v6.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                used += push(&mut cmsg, hdr, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info);
            }
            None => {}
        }
        used
    }
}

/// Writes one control message at `*cmsg`, moves `*cmsg` to the next slot
/// and returns the space it took.
///
/// # Safety
/// `*cmsg` must be null or a header inside `hdr`'s control buffer with room
/// for `CMSG_SPACE(size_of::<T>())` bytes.
unsafe fn push<T: Copy>(
    cmsg: &mut *mut libc::cmsghdr,
    hdr: &libc::msghdr,
    level: libc::c_int,
    kind: libc::c_int,
    value: T,
) -> usize {
    assert!(!cmsg.is_null(), "control buffer too small");
    let size = mem::size_of::<T>() as libc::c_uint;
    // SAFETY: the caller guarantees the room; CMSG_DATA is aligned for any
    // of the C structures written here.
    unsafe {
        (**cmsg).cmsg_level = level;
        (**cmsg).cmsg_type = kind;
        (**cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(*cmsg).cast::<T>(), value);
        *cmsg = libc::CMSG_NXTHDR(hdr, *cmsg);
        libc::CMSG_SPACE(size) as usize
    }
}
