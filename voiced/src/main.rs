//! `voiced`: the voice chat client daemon (see `voiced --help`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    exempt_loopback_from_proxies();
    let args = voiced::cli::Args::parse();
    match voiced::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("voiced: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// librqbit's HTTP client honours `HTTP_PROXY`/`ALL_PROXY`, and loopback is
/// not exempt by default: announces to voiced's own loopback tracker would
/// go to the proxy and fail. Adds 127.0.0.1 and ::1 to `NO_PROXY`.
#[allow(unsafe_code)]
fn exempt_loopback_from_proxies() {
    let current = std::env::var("NO_PROXY")
        .or_else(|_| std::env::var("no_proxy"))
        .unwrap_or_default();
    let mut hosts: Vec<&str> = current
        .split(',')
        .filter(|h| !h.trim().is_empty())
        .collect();
    for host in ["127.0.0.1", "::1", "localhost"] {
        if !hosts.iter().any(|h| h.trim() == host) {
            hosts.push(host);
        }
    }
    let value = hosts.join(",");
    // SAFETY: the first thing main does, before any other thread exists, so
    // nothing reads the environment concurrently.
    unsafe {
        std::env::set_var("NO_PROXY", &value);
        std::env::set_var("no_proxy", &value);
    }
}
