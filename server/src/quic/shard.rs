//! More than one loop on one port: one socket per loop in a
//! `SO_REUSEPORT` group, and a classic BPF program that tells the kernel
//! which socket a datagram goes to by the connection ID it carries.
//!
//! Each loop owns its connections, so every packet of a connection must
//! reach that loop's socket. The kernel's own choice (a hash of the
//! addresses) would send a client's packets elsewhere as soon as its
//! address changes (NAT rebinding, migration). Instead the server's
//! connection IDs carry their loop ([`crate::cid::Generator::for_shard`]:
//! the first byte modulo the number of loops), and the program reads it:
//! byte 1 of a short-header packet, byte 6 of a long-header one (the
//! destination ID follows the version and its length). A client's first
//! Initial carries an ID it chose itself: it lands on the loop its first
//! byte names, which then issues IDs naming itself.
//!
//! The program is attached with `SO_ATTACH_REUSEPORT_CBPF`, which no safe
//! wrapper offers: the one `setsockopt` call is this module's unsafe code.
#![allow(unsafe_code)]

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, Socket, Type};

/// Loops at most on one port (a byte of the connection ID names one).
pub const MAX_SHARDS: usize = 64;

/// Binds `n` UDP sockets to `addr` (the first one's port when `addr`'s is
/// 0) in one `SO_REUSEPORT` group, steered by connection ID when `n > 1`;
/// in the order of their shard numbers.
pub fn bind_group(addr: SocketAddr, n: usize) -> io::Result<Vec<std::net::UdpSocket>> {
    let n = n.clamp(1, MAX_SHARDS);
    let mut sockets = Vec::with_capacity(n);
    let mut at = addr;
    for _ in 0..n {
        let socket = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))?;
        if n > 1 {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&at.into())?;
        let socket: std::net::UdpSocket = socket.into();
        at = socket.local_addr()?;
        sockets.push(socket);
    }
    if n > 1 {
        steer_by_connection_id(&sockets[0], n)?;
    }
    Ok(sockets)
}

/// The steering program for `n` sockets (classic BPF; the packet starts
/// at the UDP payload, and a load past its end returns 0).
fn program(n: usize) -> [libc::sock_filter; 7] {
    const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const JA: u16 = 0x05; // BPF_JMP | BPF_JA
    const MOD_K: u16 = 0x94; // BPF_ALU | BPF_MOD | BPF_K
    const RET_A: u16 = 0x16; // BPF_RET | BPF_A
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    [
        op(LD_B_ABS, 0, 0, 0),     // 0: A = first byte
        op(JSET_K, 0, 2, 0x80),    // 1: long header? 2 : 4
        op(LD_B_ABS, 0, 0, 6),     // 2: A = first byte of the destination ID
        op(JA, 0, 0, 1),           // 3: goto 5
        op(LD_B_ABS, 0, 0, 1),     // 4: A = first byte of the destination ID
        op(MOD_K, 0, 0, n as u32), // 5: A %= n
        op(RET_A, 0, 0, 0),        // 6: the socket's index
    ]
}

fn steer_by_connection_id(socket: &std::net::UdpSocket, n: usize) -> io::Result<()> {
    let mut filter = program(n);
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filter`, which outlives the call; the
    // kernel copies the program and reads `len` instructions of it.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
