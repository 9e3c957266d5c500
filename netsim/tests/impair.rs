//! The impairer's patterns and the UDP proxy over real sockets.

use std::net::UdpSocket;
use std::time::Duration;

use voice_netsim::{GilbertElliott, Impairer, Impairment, UdpProxy};

fn pattern(cfg: &Impairment, n: u32) -> Vec<Vec<Duration>> {
    let mut imp = Impairer::new(cfg.clone());
    (0..n)
        .map(|i| imp.decide(Duration::from_millis(20) * i))
        .collect()
}

#[test]
fn same_seed_same_pattern_other_seed_other_pattern() {
    let cfg = Impairment {
        jitter: Duration::from_millis(30),
        ..Impairment::random_loss(5, 0.1)
    };
    assert_eq!(pattern(&cfg, 1000), pattern(&cfg, 1000));
    let other = Impairment {
        seed: 6,
        ..cfg.clone()
    };
    assert_ne!(pattern(&cfg, 1000), pattern(&other, 1000));
}

#[test]
fn random_loss_rate_is_near_the_setting() {
    let lost = pattern(&Impairment::random_loss(1, 0.05), 20_000)
        .iter()
        .filter(|d| d.is_empty())
        .count();
    assert!((800..1200).contains(&lost), "lost {lost} of 20000 at 5 %");
}

#[test]
fn burst_loss_clusters() {
    let cfg = Impairment {
        burst: Some(GilbertElliott {
            p_enter_bad: 0.02,
            p_leave_bad: 0.3,
            loss_in_bad: 1.0,
        }),
        ..Impairment::clean(3)
    };
    let p = pattern(&cfg, 20_000);
    let lost: Vec<bool> = p.iter().map(|d| d.is_empty()).collect();
    let losses = lost.iter().filter(|&&l| l).count();
    let runs = lost.windows(2).filter(|w| !w[0] && w[1]).count();
    // Mean burst length 1/0.3 ≈ 3.3 packets.
    let mean = losses as f64 / runs.max(1) as f64;
    assert!(mean > 2.0, "mean burst {mean:.2}");
}

#[test]
fn blackout_drops_everything_for_its_length() {
    let cfg = Impairment {
        blackout: Some((Duration::from_secs(2), Duration::from_millis(500))),
        ..Impairment::clean(4)
    };
    let p = pattern(&cfg, 200); // 4 s at 20 ms
    let lost = p.iter().filter(|d| d.is_empty()).count();
    assert_eq!(lost, 50, "two blackouts of 25 packets");
}

#[test]
fn duplication_and_reordering_add_copies_and_delay() {
    let cfg = Impairment {
        duplicate: 0.5,
        reorder: 0.5,
        reorder_by: Duration::from_millis(40),
        ..Impairment::clean(8)
    };
    let p = pattern(&cfg, 1000);
    assert!(p.iter().any(|d| d.len() == 2));
    assert!(p.iter().any(|d| d[0] == Duration::from_millis(40)));
}

#[test]
fn proxy_forwards_both_ways_over_udp_with_loss() {
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let proxy = UdpProxy::start(
        "127.0.0.1:0".parse().expect("addr"),
        server.local_addr().expect("addr"),
        Impairment::random_loss(9, 0.2),
        Impairment::clean(10),
    )
    .expect("proxy");
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    server
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .expect("timeout");
    let n = 200u32;
    for i in 0..n {
        client
            .send_to(&i.to_be_bytes(), proxy.local_addr())
            .expect("send");
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    while let Ok((len, from)) = server.recv_from(&mut buf) {
        got.push(u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")));
        assert_eq!(len, 4);
        server.send_to(b"pong", from).expect("reply");
    }
    let lost = n as usize - got.len();
    assert!((20..70).contains(&lost), "lost {lost} of {n} at 20 %");
    let (len, _) = client.recv_from(&mut buf).expect("a reply comes back");
    assert_eq!(&buf[..len], b"pong");
}
