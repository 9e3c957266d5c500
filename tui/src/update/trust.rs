//! A trust decision asked for by voiced, or by an error message that names
//! the fingerprint (the rule is shared: `voiced_client::trust`).

use voice_proto::pb::control::TrustPrompt;

pub use voiced_client::trust::prompt_from_error;

use crate::model::{App, Modal};

/// Shows a trust prompt, unless that fingerprint was just answered: voiced
/// reports one refusal twice (an error event and the failed call), and the
/// second copy may arrive after the user's answer.
pub fn ask(app: &mut App, prompt: TrustPrompt) {
    if app.answered_fingerprint.as_deref() == Some(prompt.fingerprint.as_str()) {
        return;
    }
    app.modal = Some(Modal::Trust(prompt));
}
