//! Network namespaces made by a test: a server's namespace with a veth
//! pair to each of two clients' namespaces. Needs root and iproute2; when
//! namespaces cannot be made the test fails and says so, it never skips.
//! Integration tests only (it starts the `voiced` binary of this build):
//! `#[path = "support/netns.rs"] mod netns;`.
#![allow(dead_code)]

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Command;

use voice_testkit::VoicedChild;

/// Runs `ip` with `args`, failing the test with its error.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's `ip` runs (apt-get install iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Three namespaces: the server's (`s`) with a veth to each client's
/// (`a`, `b`): 10.77.1.0/24 and 10.77.2.0/24, the clients' default route
/// through the server's namespace, which forwards only when `routed`.
/// Deleted on drop.
pub struct Topology {
    /// The server's namespace.
    pub s: String,
    /// Client A's (10.77.1.2).
    pub a: String,
    /// Client B's (10.77.2.2).
    pub b: String,
}

impl Topology {
    /// Makes the namespaces, named `TAG<pid>s`, `…a` and `…b`.
    pub fn new(tag: &str, routed: bool) -> Self {
        let id = std::process::id();
        let (s, a, b) = (
            format!("{tag}{id}s"),
            format!("{tag}{id}a"),
            format!("{tag}{id}b"),
        );
        let made = Command::new("ip").args(["netns", "add", &s]).output();
        match made {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "network namespaces cannot be created here (ip netns add: {}); this test \
                 needs root and iproute2, and it does not pass by skipping",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!("cannot run `ip` ({e}); install iproute2"),
        }
        let net = Self { s, a, b };
        let (s, a, b) = (net.s.as_str(), net.a.as_str(), net.b.as_str());
        ip(&["netns", "add", a]);
        ip(&["netns", "add", b]);
        for (ns, subnet) in [(a, 1), (b, 2)] {
            let inner = format!("x{subnet}");
            let outer = format!("s{subnet}");
            ip(&[
                "link", "add", &inner, "netns", ns, "type", "veth", "peer", "name", &outer,
                "netns", s,
            ]);
            ip(&[
                "-n",
                s,
                "addr",
                "add",
                &format!("10.77.{subnet}.1/24"),
                "dev",
                &outer,
            ]);
            ip(&["-n", s, "link", "set", &outer, "up"]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.77.{subnet}.2/24"),
                "dev",
                &inner,
            ]);
            ip(&["-n", ns, "link", "set", &inner, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                ns,
                "route",
                "add",
                "default",
                "via",
                &format!("10.77.{subnet}.1"),
            ]);
        }
        ip(&["-n", s, "link", "set", "lo", "up"]);
        let forward = if routed { "1" } else { "0" };
        let out = Command::new("ip")
            .args(["netns", "exec", s, "sysctl", "-qw"])
            .arg(format!("net.ipv4.ip_forward={forward}"))
            .output()
            .expect("sysctl runs");
        assert!(out.status.success(), "{out:?}");
        net
    }

    /// Moves this thread (and the threads it starts after) into the
    /// server's namespace.
    pub fn enter_server(&self) {
        let file = std::fs::File::open(format!("/run/netns/{}", self.s))
            .expect("the namespace file exists");
        rustix::thread::move_into_link_name_space(
            file.as_fd(),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .expect("setns into the server's namespace");
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b, &self.s] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A voiced process in namespace `ns`, with its own XDG dirs under `dir`.
pub fn voiced_in(ns: &str, dir: &Path) -> VoicedChild {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_voiced"))
        .env(
            "RUST_LOG",
            "info,voiced::files=debug,voiced::engine::ops::relays=debug,\
             librqbit::torrent_state=debug,librqbit::peer_connection=debug",
        )
        .args(["--audio-backend", "null"]);
    VoicedChild::start(command, dir)
}

impl Topology {
    /// Gives client `ns` (on `10.77.SUBNET.0/24`) the address `.to`
    /// instead of `.from`, as a DHCP renewal or a move between networks
    /// does: the old address goes (the default route with it), the new one
    /// comes, the default route again.
    pub fn readdress(&self, ns: &str, subnet: u8, from: u8, to: u8) {
        let dev = format!("x{subnet}");
        ip(&[
            "-n",
            ns,
            "addr",
            "del",
            &format!("10.77.{subnet}.{from}/24"),
            "dev",
            &dev,
        ]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("10.77.{subnet}.{to}/24"),
            "dev",
            &dev,
        ]);
        ip(&[
            "-n",
            ns,
            "route",
            "replace",
            "default",
            "via",
            &format!("10.77.{subnet}.1"),
        ]);
    }
}

/// Daemons "alice" in namespace `a` and "bob" in `b` (XDG dirs under
/// `dir`), each connected to `server` through its own veth.
pub async fn alice_and_bob(
    net: &Topology,
    server: &voice_testkit::TestServer,
    dir: &Path,
) -> (
    VoicedChild,
    VoicedChild,
    voice_testkit::Client,
    voice_testkit::Client,
) {
    let port = server.addr.port();
    let a = voiced_in(&net.a, &dir.join("a"));
    let b = voiced_in(&net.b, &dir.join("b"));
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    for (client, name, subnet) in [(&mut ca, "alice", 1), (&mut cb, "bob", 2)] {
        let request = voice_proto::pb::control::ConnectRequest {
            server: format!("10.77.{subnet}.1:{port}"),
            ..server.connect_request(name)
        };
        client
            .connect(request)
            .await
            .expect("connects from its namespace");
    }
    (a, b, ca, cb)
}
