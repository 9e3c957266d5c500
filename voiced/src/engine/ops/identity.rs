//! This user's identity: public key and display name.

use voice_proto::pb::control::IdentityReply;
use voice_proto::pb::wire::{SessionRename, change::Kind};

use crate::engine::Engine;
use crate::error::Error;

impl Engine {
    /// My public key and display name.
    pub fn identity_reply(&self) -> IdentityReply {
        let st = self.lock();
        IdentityReply {
            public_key: self.inner.identity.public_hex(),
            display_name: crate::engine::settings::default_name(&st.config, &self.inner.identity),
        }
    }

    /// Changes my display name (saved; applied on the server if connected).
    pub async fn set_display_name(&self, name: &str) -> Result<IdentityReply, Error> {
        let name = name.trim().to_owned();
        let limits = voice_proto::Limits::default();
        if name.is_empty()
            || name.chars().count() > limits.max_name_len
            || name.chars().any(char::is_control)
        {
            return Err(Error::Invalid(format!(
                "a name has 1 to {} characters and no control characters",
                limits.max_name_len
            )));
        }
        {
            // The config in memory is set and written under one hold, so
            // the file always ends as the last change left it.
            let _writing = self.writing();
            let config = {
                let mut st = self.lock();
                st.config.display_name = name.clone();
                st.config.clone()
            };
            config
                .save(&self.inner.paths.config_file())
                .map_err(|e| Error::Failed(e.to_string()))?;
        }
        if self.lock().link.is_some() {
            self.propose(move |_, me| {
                Ok(Kind::RenameSession(SessionRename {
                    session: me,
                    name: name.clone(),
                }))
            })
            .await?;
        }
        Ok(self.identity_reply())
    }
}
