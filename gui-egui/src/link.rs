//! The daemon link on a background runtime: the window never waits for
//! voiced. The front-end core's commands (and the window's few calls the
//! core does not carry, [`Outgoing`]) go out through a channel; reports
//! come back through another, each followed by `request_repaint()` so the
//! window wakes up to show it.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_proto::pb::control::{SetAclRequest, WatchRequest};
use voiced_client::link::{Call, Client, Report};

pub use voiced_client::command::{Answer, Command};

/// What the window receives from the link.
pub type Inbound = Report<Reply>;

/// [`Outgoing::SetAcl`] in words: "save access failed: …".
pub const SAVE_ACCESS: &str = "save access";

/// A call the window makes: one of the front-end core's, or a room's
/// access rules (which the core's [`Command`] does not carry yet).
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// A call of the front-end core.
    Core(Command),
    /// Replace a room's own rules (the server checks `edit_room` there).
    SetAcl(SetAclRequest),
}

impl From<Command> for Outgoing {
    fn from(command: Command) -> Self {
        Self::Core(command)
    }
}

/// What an answered [`Outgoing`] call gives back.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// The front-end core's answer.
    Core(Answer),
    /// The server took a room's new rules (the room as it was named).
    AclSaved(String),
}

impl Call for Outgoing {
    type Answer = Reply;

    fn what(&self) -> &'static str {
        match self {
            Self::Core(command) => command.what(),
            Self::SetAcl(_) => SAVE_ACCESS,
        }
    }

    async fn call(self, mut client: Client) -> Result<Option<Reply>, tonic::Status> {
        match self {
            Self::Core(command) => Ok(voiced_client::command::execute(client, command)
                .await?
                .map(Reply::Core)),
            Self::SetAcl(request) => {
                let room = request.room.clone();
                client.set_acl(request).await?;
                Ok(Some(Reply::AclSaved(room)))
            }
        }
    }

    fn runs_beside(&self) -> bool {
        matches!(self, Self::Core(command) if command.runs_beside())
    }
}

/// A report for the front-end core's mirror, or (`Err`) the room whose new
/// rules the server took, which is the window's own news.
pub fn for_mirror(report: Inbound) -> Result<Report<Answer>, String> {
    Ok(match report {
        Report::Up => Report::Up,
        Report::Down { error } => Report::Down { error },
        Report::Event(event) => Report::Event(event),
        Report::Answer(Reply::Core(answer)) => Report::Answer(answer),
        Report::Answer(Reply::AclSaved(room)) => return Err(room),
        Report::Failed {
            what,
            message,
            trust,
        } => Report::Failed {
            what,
            message,
            trust,
        },
    })
}

/// The window's end of the link: a runtime of its own on a background
/// thread, a queue of calls out and a queue of reports in.
pub struct Link {
    runtime: Option<tokio::runtime::Runtime>,
    calls: Option<mpsc::UnboundedSender<Outgoing>>,
    reports: std_mpsc::Receiver<Inbound>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Link {
    /// Starts the link to voiced at `socket`; `wake` runs after every report
    /// (the window passes `ctx.request_repaint()`).
    pub fn start(
        socket: PathBuf,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("voice-gui-link")
            .enable_all()
            .build()?;
        let (calls, outbox) = mpsc::unbounded_channel::<Outgoing>();
        let (sender, reports) = std_mpsc::channel::<Inbound>();
        let wake = std::sync::Arc::new(wake);
        let report = move |report: Inbound| {
            let delivered = sender.send(report).is_ok();
            wake();
            delivered
        };
        let task = runtime.spawn(voiced_client::link::run_link(
            socket,
            WatchRequest { levels: true },
            report,
            outbox,
        ));
        Ok(Self {
            runtime: Some(runtime),
            calls: Some(calls),
            reports,
            task: Some(task),
        })
    }

    /// Queues a call (never blocks).
    pub fn send(&self, call: Outgoing) {
        if let Some(calls) = &self.calls {
            // The link only stops when this end drops the sender.
            let _ = calls.send(call);
        }
    }

    /// The next report already waiting, if any (never blocks).
    pub fn try_recv(&self) -> Option<Inbound> {
        self.reports.try_recv().ok()
    }
}

impl Drop for Link {
    /// Lets queued calls (a push-to-talk release) reach voiced, briefly.
    fn drop(&mut self) {
        drop(self.calls.take());
        if let (Some(runtime), Some(task)) = (self.runtime.take(), self.task.take()) {
            // On a thread of its own: the window may be dropped inside a runtime (tests).
            let stop = std::thread::spawn(move || {
                let patience = voiced_client::link::DRAIN + Duration::from_secs(1);
                let _ = runtime.block_on(async { tokio::time::timeout(patience, task).await });
                runtime.shutdown_timeout(Duration::from_millis(200));
            });
            let _ = stop.join();
        }
    }
}
