//! `voice-server admin plugin-token create|list|revoke`: the tokens of the
//! plugin TCP listener, managed over the local admin socket.

use clap::Subcommand;
use voice_proto::pb::admin::plugin_tokens_client::PluginTokensClient;
use voice_proto::pb::admin::{CreateTokenRequest, Empty, TokenName};

use crate::admin::client::ClientError;
use crate::plugin::scope;

/// A plugin token action.
#[derive(Debug, Clone, Subcommand)]
pub enum PluginTokenCommand {
    /// Create a token; prints its secret once (first line), the server keeps
    /// only its hash.
    Create {
        /// Its name (letters, digits, '-', '_', '.'), shown in logs and `list`.
        name: String,
        /// What it may do, comma-separated: events (Watch and reading
        /// state), chat (SendChat), moderate (kick, ban, move, mute,
        /// Intercept), admin (roles, ACLs, registration, rooms).
        #[arg(long, value_delimiter = ',', required = true)]
        scope: Vec<String>,
    },
    /// Every token: name, scopes, created, last used (never a secret).
    List,
    /// Revoke a token: its calls are refused and its open streams end at once.
    Revoke {
        /// Its name.
        name: String,
    },
}

/// A UTC time from milliseconds since the Unix epoch:
/// `2026-12-04 16:30:05 UTC`.
pub fn utc(ms: u64) -> String {
    let rest = (ms / 1000) % 86_400;
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        voice_proto::time::utc_date(ms),
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Runs one token command over the admin socket's channel; returns the
/// lines to print.
pub async fn run(
    channel: tonic::transport::Channel,
    command: PluginTokenCommand,
) -> Result<Vec<String>, ClientError> {
    let mut client = PluginTokensClient::new(channel);
    let mut out = Vec::new();
    match command {
        PluginTokenCommand::Create { name, scope: names } => {
            let scopes = names
                .iter()
                .filter(|n| !n.trim().is_empty())
                .map(|n| {
                    scope::parse(n).map(|s| s as i32).ok_or_else(|| {
                        ClientError::Usage(format!(
                            "unknown scope {n:?}; the scopes are {}",
                            scope::names(&scope::ALL)
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let created = client
                .create_token(CreateTokenRequest { name, scopes })
                .await?
                .into_inner();
            let token = created.token.unwrap_or_default();
            out.push(created.secret);
            out.push(format!(
                "# plugin token {:?} ({}): shown once, keep it now (the server keeps only its hash); \
                 plugins send it as `authorization: Bearer TOKEN`",
                token.name,
                scope::names(&scopes_of(&token.scopes)),
            ));
        }
        PluginTokenCommand::List => {
            for t in client.list_tokens(Empty {}).await?.into_inner().tokens {
                let used = if t.last_used_ms == 0 {
                    "never used".to_owned()
                } else {
                    format!(
                        "last used {} from {}",
                        utc(t.last_used_ms),
                        t.last_used_from
                    )
                };
                out.push(format!(
                    "{}\t{}\tcreated {}\t{used}",
                    t.name,
                    scope::names(&scopes_of(&t.scopes)),
                    utc(t.created_ms),
                ));
            }
        }
        PluginTokenCommand::Revoke { name } => {
            client
                .revoke_token(TokenName { name: name.clone() })
                .await?;
            out.push(format!("revoked {name}"));
        }
    }
    Ok(out)
}

fn scopes_of(numbers: &[i32]) -> Vec<voice_proto::pb::admin::Scope> {
    numbers
        .iter()
        .filter_map(|n| voice_proto::pb::admin::Scope::try_from(*n).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_709_210_096_000), "2024-02-29 12:34:56 UTC");
        assert_eq!(utc(1_798_761_599_000), "2026-12-31 23:59:59 UTC");
    }
}
