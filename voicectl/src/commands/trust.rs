//! Pinned server certificates: `trust`, `known-servers`.

use serde_json::json;
use voice_proto::pb::control as c;
use voiced_client::names::format_time_ms;

use super::{Client, Failure, Output, done, out};

/// `voicectl trust SERVER FINGERPRINT`: pins a server's certificate
/// fingerprint in known_servers, or only until voiced restarts.
pub async fn trust(
    client: &mut Client,
    server: &str,
    fingerprint: &str,
    session_only: bool,
) -> Result<Output, Failure> {
    client
        .trust(c::TrustRequest {
            server: server.to_owned(),
            fingerprint: fingerprint.to_owned(),
            permanent: !session_only,
        })
        .await?;
    Ok(done(&format!("trusted {server}")))
}

/// `voicectl known-servers`: the pinned certificates, one a line.
pub async fn known_servers(client: &mut Client) -> Result<Output, Failure> {
    let k = client.known_servers(c::Empty {}).await?.into_inner();
    let text: String = k
        .servers
        .iter()
        .map(|s| {
            format!(
                "{}\t{}\t{}\n",
                s.server,
                s.fingerprint,
                format_time_ms(s.first_seen_ms)
            )
        })
        .collect();
    Ok(out(
        text,
        json!(k.servers.iter().map(|s| json!({
            "server": s.server, "fingerprint": s.fingerprint, "first_seen_ms": s.first_seen_ms,
        })).collect::<Vec<_>>()),
    ))
}
