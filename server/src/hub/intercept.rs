//! `Admin.Intercept`: one plugin approves or refuses chat messages and
//! logins. The server asks and waits at most `intercept_deadline_ms`;
//! without an answer in time (a slow, stuck or absent plugin) it decides
//! alone and allows, so a dead plugin never blocks the server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use voice_proto::pb::admin::{InterceptQuestion, InterceptVerdict, intercept_question::Kind};

/// Questions queued towards the plugin; past it, questions are not asked
/// (the server decides alone).
const QUESTION_QUEUE: usize = 256;

/// The attached plugin, if any.
#[derive(Debug, Default)]
pub struct Interceptor {
    inner: Mutex<Option<Attached>>,
}

#[derive(Debug)]
struct Attached {
    /// Which attachment this is (a later one replaces it).
    generation: u64,
    questions: mpsc::Sender<InterceptQuestion>,
    pending: HashMap<u64, oneshot::Sender<InterceptVerdict>>,
    next_id: u64,
}

/// A refusal from the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

impl Interceptor {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Attached>> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Attaches a plugin unless one is; returns its questions and its
    /// attachment number.
    pub fn attach(&self) -> Option<(mpsc::Receiver<InterceptQuestion>, u64)> {
        let mut inner = self.lock();
        if inner.as_ref().is_some_and(|a| !a.questions.is_closed()) {
            return None;
        }
        let generation = inner.as_ref().map_or(1, |a| a.generation + 1);
        let (tx, rx) = mpsc::channel(QUESTION_QUEUE);
        *inner = Some(Attached {
            generation,
            questions: tx,
            pending: HashMap::new(),
            next_id: 1,
        });
        Some((rx, generation))
    }

    /// Detaches the plugin of attachment `generation` (its stream ended).
    pub fn detach(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.as_ref().is_some_and(|a| a.generation == generation) {
            *inner = None;
        }
    }

    /// The plugin's answer to one question.
    pub fn answer(&self, verdict: InterceptVerdict) {
        let waiter = self
            .lock()
            .as_mut()
            .and_then(|a| a.pending.remove(&verdict.id));
        if let Some(w) = waiter {
            let _ = w.send(verdict);
        }
    }

    /// Asks the plugin, if one is attached, and waits at most `deadline`.
    /// `Err` only for a refusal; no plugin, a full queue, a plugin gone or
    /// late all allow.
    pub async fn ask(&self, kind: Kind, deadline: Duration) -> Result<(), Refused> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut inner = self.lock();
            let Some(a) = inner.as_mut() else {
                return Ok(());
            };
            let id = a.next_id;
            a.next_id += 1;
            let question = InterceptQuestion {
                id,
                kind: Some(kind),
            };
            if a.questions.try_send(question).is_err() {
                tracing::warn!("the intercepting plugin is behind; deciding without it");
                return Ok(());
            }
            a.pending.insert(id, tx);
            id
        };
        let verdict = tokio::time::timeout(deadline, rx).await;
        match verdict {
            Ok(Ok(v)) if !v.allow => Err(Refused(v.reason)),
            Ok(_) => Ok(()),
            Err(_) => {
                if let Some(a) = self.lock().as_mut() {
                    a.pending.remove(&id);
                }
                tracing::warn!(
                    id,
                    "the intercepting plugin did not answer in time; allowed"
                );
                Ok(())
            }
        }
    }
}
