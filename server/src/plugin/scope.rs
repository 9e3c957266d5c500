//! Which scope each RPC needs on the plugin TCP listener, and the scopes'
//! names as operators type them (`events`, `chat`, `moderate`, `admin`).

use voice_proto::pb::admin::Scope;

/// The gRPC path prefix of the admin service.
const ADMIN: &str = "/voice.admin.Admin/";
/// The gRPC path prefix of the token service (local socket only).
const TOKENS: &str = "/voice.admin.PluginTokens/";

/// Every scope a token may have, in the order they are listed.
pub const ALL: [Scope; 4] = [Scope::Events, Scope::Chat, Scope::Moderate, Scope::Admin];

/// A scope's name as typed after `--scope`.
pub fn name(scope: Scope) -> &'static str {
    match scope {
        Scope::Unspecified => "unspecified",
        Scope::Events => "events",
        Scope::Chat => "chat",
        Scope::Moderate => "moderate",
        Scope::Admin => "admin",
    }
}

/// Parses a scope's name.
pub fn parse(text: &str) -> Option<Scope> {
    ALL.into_iter().find(|s| name(*s) == text.trim())
}

/// Names of scopes, comma-separated (`-` for none).
pub fn names(scopes: &[Scope]) -> String {
    if scopes.is_empty() {
        return "-".to_owned();
    }
    scopes
        .iter()
        .map(|s| name(*s))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a path cannot be called on the plugin listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// Token management: only on the local admin socket.
    LocalOnly,
    /// No such RPC.
    Unknown,
}

/// The scope an RPC (its gRPC path) needs on the plugin listener.
pub fn of_path(path: &str) -> Result<(Scope, &str), Unreachable> {
    if path.starts_with(TOKENS) {
        return Err(Unreachable::LocalOnly);
    }
    let method = path.strip_prefix(ADMIN).ok_or(Unreachable::Unknown)?;
    of_method(method)
        .map(|scope| (scope, method))
        .ok_or(Unreachable::Unknown)
}

/// The scope of one `Admin` RPC by its name.
pub fn of_method(method: &str) -> Option<Scope> {
    Some(match method {
        "Watch" | "Sessions" | "Rooms" | "Users" | "Explain" | "RelayStats" => Scope::Events,
        "SendChat" => Scope::Chat,
        "Kick" | "Ban" | "Unban" | "Bans" | "MoveUser" | "SetServerFlags" | "Intercept" => {
            Scope::Moderate
        }
        "GrantRole" | "RevokeRole" | "CreateRole" | "DeleteRole" | "SetAcl" | "Register"
        | "Unregister" | "CreateRoom" => Scope::Admin,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RPC names of `service NAME { … }` in admin.proto.
    fn rpcs(service: &str) -> Vec<String> {
        let proto = include_str!("../../../proto/proto/admin.proto");
        let start = format!("service {service} {{");
        let body = proto
            .split_once(&start)
            .and_then(|(_, rest)| rest.split_once("\n}"))
            .map(|(body, _)| body)
            .unwrap_or_default();
        body.lines()
            .filter_map(|l| l.trim().strip_prefix("rpc "))
            .filter_map(|l| l.split('(').next())
            .map(|n| n.trim().to_owned())
            .collect()
    }

    #[test]
    fn every_admin_rpc_has_a_scope_and_no_token_rpc_is_reachable() {
        let admin = rpcs("Admin");
        assert!(admin.len() >= 22, "{admin:?}");
        for rpc in &admin {
            let path = format!("/voice.admin.Admin/{rpc}");
            assert!(of_path(&path).is_ok(), "{rpc} has no scope");
        }
        let tokens = rpcs("PluginTokens");
        assert_eq!(tokens.len(), 3, "{tokens:?}");
        for rpc in tokens {
            let path = format!("/voice.admin.PluginTokens/{rpc}");
            assert_eq!(of_path(&path), Err(Unreachable::LocalOnly));
        }
        assert_eq!(
            of_path("/voice.admin.Admin/Nothing"),
            Err(Unreachable::Unknown)
        );
        assert_eq!(of_path("/other.Service/Watch"), Err(Unreachable::Unknown));
    }

    #[test]
    fn names_parse_back() {
        for s in ALL {
            assert_eq!(parse(name(s)), Some(s));
        }
        assert_eq!(parse("root"), None);
    }
}
