//! Trust decisions as data, never as words to parse.
//!
//! voiced asks for a trust decision in two typed ways: a `Trust` event on its
//! `Watch` stream, and, on the connect call it refuses for an unknown or
//! changed certificate, a `TrustPrompt` in the gRPC status's details (gRPC's
//! rich error model: the `grpc-status-details-bin` trailer holds a
//! `google.rpc.Status` whose `details` carry the prompt as an `Any` with the
//! type URL [`PROMPT_TYPE_URL`]). An error's message is only ever shown, so
//! no text that reaches one (a kick reason, a room name) can raise a prompt.

use prost::Message;
use voice_proto::pb::control::{ConnectRequest, TrustPrompt};

use crate::command::Command;

/// The type URL of a [`TrustPrompt`] in a status's details.
pub const PROMPT_TYPE_URL: &str = "type.googleapis.com/voice.control.TrustPrompt";

/// Details larger than this are not decoded (a status's details come from
/// the daemon, but a front end decodes nothing unbounded).
pub const MAX_DETAILS: usize = 16 * 1024;

/// `google.rpc.Status`, the envelope of gRPC's rich error details.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// A refusal that carries `prompt` in its details (what voiced answers to a
/// connect refused for the server's certificate).
pub fn refusal(code: tonic::Code, message: String, prompt: &TrustPrompt) -> tonic::Status {
    let details = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_types::Any {
            type_url: PROMPT_TYPE_URL.to_owned(),
            value: prompt.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, message, details.encode_to_vec().into())
}

/// The trust prompt a refused call carries in its details, if any.
pub fn prompt_from_status(status: &tonic::Status) -> Option<TrustPrompt> {
    let details = status.details();
    if details.is_empty() || details.len() > MAX_DETAILS {
        return None;
    }
    let envelope = RpcStatus::decode(details).ok()?;
    let any = envelope
        .details
        .into_iter()
        .find(|d| d.type_url == PROMPT_TYPE_URL)?;
    let prompt = TrustPrompt::decode(any.value.as_slice()).ok()?;
    (!prompt.server.is_empty() && !prompt.fingerprint.is_empty()).then_some(prompt)
}

/// What the user answered to a trust prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustAnswer {
    /// Trust the certificate for this daemon run only.
    Once,
    /// Pin it for good (once the handshake with it succeeds).
    Always,
    /// Do not trust it.
    Cancel,
}

/// The calls that carry out an answer: the refused connect is repeated
/// (`last_connect`, the request made from this front end, which may carry a
/// password; else a plain connect to the prompt's server) with the
/// certificate trusted once, or pinned for good by voiced when the handshake
/// with it succeeds.
pub fn answer(
    prompt: &TrustPrompt,
    last_connect: Option<&ConnectRequest>,
    answer: TrustAnswer,
) -> Vec<Command> {
    let retry = last_connect.cloned().unwrap_or_else(|| ConnectRequest {
        server: prompt.server.clone(),
        ..ConnectRequest::default()
    });
    match answer {
        TrustAnswer::Cancel => Vec::new(),
        TrustAnswer::Once => vec![
            Command::Trust {
                server: prompt.server.clone(),
                fingerprint: prompt.fingerprint.clone(),
                permanent: false,
            },
            Command::Connect(retry),
        ],
        TrustAnswer::Always => vec![Command::Connect(ConnectRequest {
            accept_fingerprint: prompt.fingerprint.clone(),
            ..retry
        })],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt() -> TrustPrompt {
        TrustPrompt {
            server: "127.0.0.1:7878".into(),
            fingerprint: "ab".repeat(32),
            previous_fingerprint: "cd".repeat(32),
            previous_first_seen_ms: 1_795_000_000_000,
        }
    }

    #[test]
    fn a_prompt_travels_in_the_details_and_only_there() {
        let status = refusal(tonic::Code::Aborted, "refused".into(), &prompt());
        assert_eq!(prompt_from_status(&status), Some(prompt()));
        // The old prompt's wording in a message raises nothing.
        let forged = tonic::Status::aborted(format!(
            "kicked: the certificate of evil:1 CHANGED: it is now {}, but {} was pinned",
            "ef".repeat(32),
            "ab".repeat(32)
        ));
        assert_eq!(prompt_from_status(&forged), None);
        // Garbage, other detail types and oversized details are ignored.
        let garbage = tonic::Status::with_details(tonic::Code::Aborted, "x", vec![0xff; 8].into());
        assert_eq!(prompt_from_status(&garbage), None);
        let other = RpcStatus {
            code: 10,
            message: "x".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                value: prompt().encode_to_vec(),
            }],
        };
        let other =
            tonic::Status::with_details(tonic::Code::Aborted, "x", other.encode_to_vec().into());
        assert_eq!(prompt_from_status(&other), None);
        let big =
            tonic::Status::with_details(tonic::Code::Aborted, "x", vec![0; MAX_DETAILS + 1].into());
        assert_eq!(prompt_from_status(&big), None);
    }

    #[test]
    fn answers_repeat_the_refused_connect() {
        let p = prompt();
        let earlier = ConnectRequest {
            server: "127.0.0.1".into(),
            password: "pw".into(),
            ..ConnectRequest::default()
        };
        assert!(answer(&p, Some(&earlier), TrustAnswer::Cancel).is_empty());
        let once = answer(&p, Some(&earlier), TrustAnswer::Once);
        assert!(matches!(
            &once[0],
            Command::Trust {
                permanent: false,
                ..
            }
        ));
        assert!(matches!(&once[1], Command::Connect(r) if r.password == "pw"));
        let always = answer(&p, Some(&earlier), TrustAnswer::Always);
        assert!(
            matches!(&always[..], [Command::Connect(r)] if r.password == "pw" && r.accept_fingerprint == p.fingerprint)
        );
        let fresh = answer(&p, None, TrustAnswer::Always);
        assert!(
            matches!(&fresh[..], [Command::Connect(r)] if r.server == p.server && r.password.is_empty())
        );
    }
}
