//! A link to voiced that outlives it: opens the control socket, forwards the
//! `Watch` stream, makes a front end's calls in order, and while voiced is
//! away retries every second (failing calls politely meanwhile). Every front
//! end (`voice-tui`, `voice-gui`) runs one on a background task; what it
//! learns goes out as [`Report`]s through a sink the front end provides.

use std::error::Error as StdError;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tonic::Streaming;
use tonic::transport::Channel;
use voice_proto::pb::control::voiced_client::VoicedClient;
use voice_proto::pb::control::{Event, TrustPrompt, WatchRequest};

/// Wait between attempts to reach voiced.
pub const RETRY: Duration = Duration::from_secs(1);

/// How long queued calls may still run once the front end has gone (a
/// push-to-talk release should still reach voiced).
pub const DRAIN: Duration = Duration::from_secs(2);

/// A client of voiced's control API.
pub type Client = VoicedClient<Channel>;

/// What the link tells its front end.
#[derive(Clone, Debug)]
pub enum Report<A> {
    /// The control socket answered and the event stream is open.
    Up,
    /// voiced could not be reached, or its event stream ended; the link retries.
    Down {
        /// Why, in words.
        error: String,
    },
    /// An event from voiced's `Watch` stream.
    Event(Event),
    /// What a call answered, when the front end wants it.
    Answer(A),
    /// A call failed.
    Failed {
        /// The call, in words ("join", "send chat").
        what: &'static str,
        /// voiced's answer, or why it could not be asked.
        message: String,
        /// The trust decision voiced asks for, when it refused a connection
        /// for an unknown or changed certificate (structured, never read
        /// from the message: see [`crate::trust`]).
        trust: Option<TrustPrompt>,
    },
}

/// A call a front end asks the link to make.
pub trait Call: Send + 'static {
    /// What an answered call gives back to the front end.
    type Answer: Send + 'static;

    /// The call in words, for error messages ("join", "mute").
    fn what(&self) -> &'static str;

    /// Makes the call; `Ok(None)` when the front end needs no answer.
    fn call(
        self,
        client: Client,
    ) -> impl Future<Output = Result<Option<Self::Answer>, tonic::Status>> + Send;

    /// Whether the call runs beside the queue rather than in it: a call that
    /// may take long (a room's history, up to a minute) must not hold up the
    /// calls after it (a push-to-talk release). No order is kept for it.
    fn runs_beside(&self) -> bool {
        false
    }
}

/// The message of a call made while voiced is away.
pub const NOT_RUNNING: &str = "voiced is not running";

/// Runs until `calls` closes or `report` returns `false` (the front end has
/// gone): keeps a link to voiced at `socket`, reporting [`Report::Up`] and
/// [`Report::Down`] as it comes and goes, every event of a `watch` stream,
/// and the outcome of every call. Calls run one after another, in order (a
/// trust decision before the connect it allows, a press before its release),
/// but for those that [run beside](Call::runs_beside) the queue.
pub async fn run_link<C, S>(
    socket: PathBuf,
    watch: WatchRequest,
    report: S,
    mut calls: mpsc::UnboundedReceiver<C>,
) where
    C: Call,
    S: Fn(Report<C::Answer>) -> bool + Clone + Send + Sync + 'static,
{
    loop {
        let down = match open(&socket, watch).await {
            Ok((client, stream)) => {
                if !report(Report::Up) {
                    return;
                }
                match serve(client, stream, &report, &mut calls).await {
                    Some(error) => error,
                    None => return,
                }
            }
            Err(error) => error,
        };
        if !report(Report::Down { error: down }) {
            return;
        }
        let retry = tokio::time::sleep(RETRY);
        tokio::pin!(retry);
        loop {
            tokio::select! {
                () = &mut retry => break,
                call = calls.recv() => {
                    let Some(call) = call else { return };
                    let failed = Report::Failed {
                        what: call.what(),
                        message: NOT_RUNNING.to_owned(),
                        trust: None,
                    };
                    if !report(failed) {
                        return;
                    }
                }
            }
        }
    }
}

async fn open(socket: &Path, watch: WatchRequest) -> Result<(Client, Streaming<Event>), String> {
    let mut client = crate::connect(socket).await.map_err(|e| innermost(&e))?;
    let stream = client
        .watch(watch)
        .await
        .map_err(|s| format!("voiced refused the event stream: {}", s.message()))?
        .into_inner();
    Ok((client, stream))
}

/// Forwards events and runs calls until the stream ends (returns why) or the
/// front end goes (returns `None`).
async fn serve<C, S>(
    client: Client,
    mut stream: Streaming<Event>,
    report: &S,
    calls: &mut mpsc::UnboundedReceiver<C>,
) -> Option<String>
where
    C: Call,
    S: Fn(Report<C::Answer>) -> bool + Clone + Send + Sync + 'static,
{
    // Calls run in their own task, in order, without holding up the events.
    let (queue, queued) = mpsc::unbounded_channel::<C>();
    let worker = tokio::spawn(work(client, queued, report.clone()));
    let outcome = loop {
        tokio::select! {
            event = stream.message() => match event {
                Ok(Some(event)) => {
                    if !report(Report::Event(event)) {
                        break None;
                    }
                }
                Ok(None) => break Some("voiced closed the event stream".to_owned()),
                Err(status) => break Some(format!("lost voiced: {}", status.message())),
            },
            call = calls.recv() => match call {
                Some(call) => {
                    if queue.send(call).is_err() {
                        break Some("the call worker stopped".to_owned());
                    }
                }
                None => break None,
            },
        }
    };
    drop(queue);
    if outcome.is_some() {
        worker.abort();
    } else {
        // The front end is leaving: let queued calls (a push-to-talk release) go out.
        let _ = tokio::time::timeout(DRAIN, worker).await;
    }
    outcome
}

/// Makes the calls of `queued` one after another, reporting each outcome,
/// until the queue closes or `report` returns `false`; a call that
/// [runs beside](Call::runs_beside) the queue goes in a task of its own,
/// which ends with this future (dropping the set aborts it).
async fn work<C, S>(client: Client, mut queued: mpsc::UnboundedReceiver<C>, report: S)
where
    C: Call,
    S: Fn(Report<C::Answer>) -> bool + Clone + Send + Sync + 'static,
{
    let mut beside = JoinSet::new();
    while let Some(call) = queued.recv().await {
        while beside.try_join_next().is_some() {}
        if call.runs_beside() {
            let (client, report) = (client.clone(), report.clone());
            beside.spawn(async move {
                if let Some(outcome) = make_call(call, client).await {
                    report(outcome);
                }
            });
            continue;
        }
        if let Some(outcome) = make_call(call, client.clone()).await
            && !report(outcome)
        {
            return;
        }
    }
}

/// Makes one call: its report, or `None` when the front end needs no answer.
async fn make_call<C: Call>(call: C, client: Client) -> Option<Report<C::Answer>> {
    let what = call.what();
    match call.call(client).await {
        Ok(Some(answer)) => Some(Report::Answer(answer)),
        Ok(None) => None,
        Err(status) => Some(Report::Failed {
            what,
            message: status.message().to_owned(),
            trust: crate::trust::prompt_from_status(&status),
        }),
    }
}

/// The innermost cause of an error: tonic's transport error alone says only
/// "transport error", and its own text repeats its source.
pub fn innermost(error: &dyn StdError) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A call that answers its number after `wait`.
    struct Wait {
        number: u32,
        wait: Duration,
        beside: bool,
    }

    impl Call for Wait {
        type Answer = u32;

        fn what(&self) -> &'static str {
            "wait"
        }

        async fn call(self, _client: Client) -> Result<Option<u32>, tonic::Status> {
            tokio::time::sleep(self.wait).await;
            Ok(Some(self.number))
        }

        fn runs_beside(&self) -> bool {
            self.beside
        }
    }

    #[tokio::test]
    async fn a_slow_call_beside_the_queue_holds_up_no_other() {
        // A client that never connects: these calls do not use it.
        let channel = tonic::transport::Endpoint::from_static("http://[::1]:9").connect_lazy();
        let client = VoicedClient::new(channel);
        let answers = Arc::new(Mutex::new(Vec::new()));
        let seen = answers.clone();
        let report = move |r: Report<u32>| {
            if let Report::Answer(n) = r
                && let Ok(mut seen) = seen.lock()
            {
                seen.push(n);
            }
            true
        };
        let (calls, queued) = mpsc::unbounded_channel();
        let call = |number, wait, beside| Wait {
            number,
            wait: Duration::from_millis(wait),
            beside,
        };
        for c in [call(1, 2_000, true), call(2, 0, false), call(3, 0, false)] {
            calls.send(c).ok();
        }
        drop(calls);
        tokio::time::timeout(Duration::from_secs(10), work(client, queued, report))
            .await
            .ok();
        // 2 and 3 did not wait for 1, which ended with the queue.
        let answers = answers.lock().map(|a| a.clone()).unwrap_or_default();
        assert_eq!(answers, [2, 3]);
    }
}
