//! The plugin listener's gate: every call carries `authorization: Bearer
//! SECRET`; the token must exist and have the scope of the RPC. Failed
//! authentication counts against the caller's address ([`Throttle`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http;

use crate::plugin::scope::{self, Unreachable};
use crate::plugin::tokens::PluginTokens;
use crate::throttle::Throttle;

/// How to get a token, said with every refusal for lack of one.
const HOW_TO_GET_ONE: &str = "send `authorization: Bearer TOKEN` metadata with a plugin token; \
    the server's operator creates one with `voice-server admin plugin-token create NAME \
    --scope events,chat,moderate,admin` (docs/plugins.md)";

/// The connection a call came on (set by the listener).
#[derive(Debug, Clone)]
pub struct PluginPeer {
    /// The remote address.
    pub addr: SocketAddr,
    /// The token this connection used last, to log each token once per
    /// connection.
    seen: Arc<Mutex<Option<Arc<str>>>>,
}

impl PluginPeer {
    /// A new connection from `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            seen: Arc::default(),
        }
    }

    /// Whether a call on this connection has passed the gate.
    pub fn authenticated(&self) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}

/// Who made a call (a request extension the admin service reads).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name.
    pub token: Arc<str>,
    /// Cancelled when the token is revoked: its streams end.
    pub revoked: CancellationToken,
}

/// The status that ends a revoked token's stream.
pub fn revoked_status(token: &str) -> Status {
    Status::unauthenticated(format!(
        "plugin token {token:?} was revoked; {HOW_TO_GET_ONE}"
    ))
}

/// Adds the gate to the listener's service.
#[derive(Debug, Clone)]
pub struct PluginAuthLayer {
    tokens: Arc<PluginTokens>,
    throttle: Arc<Throttle>,
}

impl PluginAuthLayer {
    /// A gate checking against `tokens`, counting failures in `throttle`.
    pub fn new(tokens: Arc<PluginTokens>, throttle: Arc<Throttle>) -> Self {
        Self { tokens, throttle }
    }

    /// Lets a call through (with its [`Caller`] attached) or says why not.
    fn admit(&self, req: &mut http::Request<Body>) -> Result<(), Status> {
        let Some(peer) = req.extensions().get::<PluginPeer>().cloned() else {
            return Err(Status::internal("a call without its connection"));
        };
        if self.throttle.is_refused(peer.addr.ip()) {
            return Err(Status::resource_exhausted(
                "too many failed authentications from this address; try again in a few minutes",
            ));
        }
        let secret = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (kind, secret) = v.trim().split_once(' ')?;
                kind.eq_ignore_ascii_case("bearer").then(|| secret.trim())
            });
        let failed = |why: &str| {
            if self.throttle.record_failure(peer.addr.ip()) {
                tracing::warn!(peer = %peer.addr, "plugin listener: too many failed authentications; address refused for a while");
            }
            tracing::info!(peer = %peer.addr, "plugin call refused: {why}");
            Status::unauthenticated(format!("{why}; {HOW_TO_GET_ONE}"))
        };
        let Some(secret) = secret else {
            return Err(failed("no plugin token"));
        };
        let Some(token) = self.tokens.check(secret) else {
            return Err(failed("unknown or revoked plugin token"));
        };
        let path = req.uri().path();
        let (needed, method) = match scope::of_path(path) {
            Ok(found) => found,
            Err(Unreachable::LocalOnly) => {
                return Err(Status::permission_denied(
                    "plugin tokens are managed on the server host only (the local admin socket, \
                     `voice-server admin plugin-token`), never over TCP",
                ));
            }
            Err(Unreachable::Unknown) => {
                return Err(Status::unimplemented(format!(
                    "no such RPC on the plugin listener: {}",
                    path.chars().take(100).collect::<String>()
                )));
            }
        };
        if !token.allows(needed) {
            tracing::info!(peer = %peer.addr, token = %token.name, method, "plugin call refused: scope");
            return Err(Status::permission_denied(format!(
                "{method} needs scope `{}`; plugin token {:?} has {} (create a token with it: \
                 `voice-server admin plugin-token create NAME --scope {}`)",
                scope::name(needed),
                token.name,
                scope::names(token.scopes()),
                scope::name(needed),
            )));
        }
        self.tokens.used(&token, peer.addr);
        {
            let mut seen = peer.seen.lock().unwrap_or_else(PoisonError::into_inner);
            if seen.as_deref() != Some(&*token.name) {
                tracing::info!(peer = %peer.addr, token = %token.name, "plugin authenticated");
                *seen = Some(token.name.clone());
            }
        }
        tracing::debug!(peer = %peer.addr, token = %token.name, method, "plugin call");
        req.extensions_mut().insert(Caller {
            token: token.name.clone(),
            revoked: token.revoked.clone(),
        });
        Ok(())
    }
}

impl<S> tower::Layer<S> for PluginAuthLayer {
    type Service = PluginAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PluginAuth {
            gate: self.clone(),
            inner,
        }
    }
}

/// The gate around the admin service.
#[derive(Debug, Clone)]
pub struct PluginAuth<S> {
    gate: PluginAuthLayer,
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for PluginAuth<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        match self.gate.admit(&mut req) {
            Ok(()) => {
                // The instance that was polled ready serves the call.
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                Box::pin(inner.call(req))
            }
            Err(status) => Box::pin(std::future::ready(Ok(status.into_http()))),
        }
    }
}
