//! The daemon link on a background runtime: the window never waits for
//! voiced. The front-end core's commands go out through a channel; reports
//! come back through another, each followed by `request_repaint()` so the
//! window wakes up to show it.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use tokio::sync::mpsc;
use voice_proto::pb::control::WatchRequest;
use voiced_client::link::Report;

pub use voiced_client::command::{Answer, Command, SAVE_ACCESS};

/// What the window receives from the link.
pub type Inbound = Report<Answer>;

/// The window's end of the link: a runtime of its own on a background
/// thread, a queue of calls out and a queue of reports in.
pub struct Link {
    runtime: Option<tokio::runtime::Runtime>,
    calls: Option<mpsc::UnboundedSender<Command>>,
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
        let (calls, outbox) = mpsc::unbounded_channel::<Command>();
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
    pub fn send(&self, call: Command) {
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
