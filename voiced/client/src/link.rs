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
}

/// The message of a call made while voiced is away.
pub const NOT_RUNNING: &str = "voiced is not running";

/// Runs until `calls` closes or `report` returns `false` (the front end has
/// gone): keeps a link to voiced at `socket`, reporting [`Report::Up`] and
/// [`Report::Down`] as it comes and goes, every event of a `watch` stream,
/// and the outcome of every call. Calls run one after another, in order (a
/// trust decision before the connect it allows, a press before its release).
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
    let (queue, mut queued) = mpsc::unbounded_channel::<C>();
    let worker_report = report.clone();
    let worker = tokio::spawn(async move {
        while let Some(call) = queued.recv().await {
            let what = call.what();
            let outcome = match call.call(client.clone()).await {
                Ok(Some(answer)) => Report::Answer(answer),
                Ok(None) => continue,
                Err(status) => Report::Failed {
                    what,
                    message: status.message().to_owned(),
                    trust: crate::trust::prompt_from_status(&status),
                },
            };
            if !worker_report(outcome) {
                return;
            }
        }
    });
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

/// The innermost cause of an error: tonic's transport error alone says only
/// "transport error", and its own text repeats its source.
pub fn innermost(error: &dyn StdError) -> String {
    let mut deepest = error;
    while let Some(source) = deepest.source() {
        deepest = source;
    }
    deepest.to_string()
}
