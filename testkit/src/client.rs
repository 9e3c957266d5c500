//! A client of voiced, and a daemon joining a server through it.

use voice_proto::pb::control as c;

use crate::TestServer;

/// A gRPC client of voiced's control API.
pub type Client = c::voiced_client::VoicedClient<tonic::transport::Channel>;

/// Asks the daemon behind `client` to connect to `server` as `name`,
/// accepting the server's certificate; returns the daemon's status.
pub async fn connect(client: &mut Client, server: &TestServer, name: &str) -> c::StatusReply {
    connect_with(client, server.connect_request(name)).await
}

/// Like [`connect`], presenting the server's one-time admin token.
pub async fn connect_as_admin(
    client: &mut Client,
    server: &TestServer,
    name: &str,
) -> c::StatusReply {
    let admin_token = server
        .admin_token
        .clone()
        .expect("the server has an admin token");
    let request = c::ConnectRequest {
        admin_token,
        ..server.connect_request(name)
    };
    connect_with(client, request).await
}

async fn connect_with(client: &mut Client, request: c::ConnectRequest) -> c::StatusReply {
    client
        .connect(request)
        .await
        .expect("the daemon connects to the test server")
        .into_inner()
}
