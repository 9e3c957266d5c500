//! The `PluginTokens` gRPC service, on the local admin socket only.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use voice_proto::pb::admin::plugin_tokens_server::PluginTokens as TokensApi;
use voice_proto::pb::admin::{
    CreateTokenRequest, CreatedToken, Empty, Scope, TokenName, TokensReply,
};

use crate::plugin::tokens::{PluginTokens, TokenError};

/// Token management for `voice-server admin plugin-token`.
#[derive(Debug, Clone)]
pub struct PluginTokensService {
    tokens: Arc<PluginTokens>,
}

impl PluginTokensService {
    /// A service over the server's tokens.
    pub fn new(tokens: Arc<PluginTokens>) -> Self {
        Self { tokens }
    }
}

fn status(e: TokenError) -> Status {
    match e {
        TokenError::Invalid(_) => Status::invalid_argument(e.to_string()),
        TokenError::Exists(_) => Status::already_exists(e.to_string()),
        TokenError::NotFound(_) => Status::not_found(e.to_string()),
        TokenError::Full => Status::resource_exhausted(e.to_string()),
        TokenError::Store(_) => Status::internal(e.to_string()),
    }
}

#[tonic::async_trait]
impl TokensApi for PluginTokensService {
    async fn create_token(
        &self,
        req: Request<CreateTokenRequest>,
    ) -> Result<Response<CreatedToken>, Status> {
        let req = req.into_inner();
        let scopes = req
            .scopes
            .iter()
            .map(|s| {
                Scope::try_from(*s)
                    .map_err(|_| Status::invalid_argument(format!("unknown scope number {s}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (token, secret) = self
            .tokens
            .create(&req.name, &scopes)
            .await
            .map_err(status)?;
        Ok(Response::new(CreatedToken {
            token: Some(token),
            secret,
        }))
    }

    async fn list_tokens(&self, _: Request<Empty>) -> Result<Response<TokensReply>, Status> {
        Ok(Response::new(TokensReply {
            tokens: self.tokens.list(),
        }))
    }

    async fn revoke_token(&self, req: Request<TokenName>) -> Result<Response<Empty>, Status> {
        self.tokens
            .revoke(&req.into_inner().name)
            .await
            .map_err(status)?;
        Ok(Response::new(Empty {}))
    }
}
