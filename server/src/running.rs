//! A server serving on a task of its own: what a program that embeds the
//! server (or a test) holds to look at it and to stop it.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cert_reload::FileCert;
use crate::hub::Hub;
use crate::server::{Banner, Server, StartError};

/// A [`Server`] running on a tokio task. Dropping it asks the server to
/// stop (without waiting); [`Running::stop`] waits until it has closed every
/// connection and flushed its database.
pub struct Running {
    banner: Banner,
    hub: Arc<Hub>,
    file_cert: Option<Arc<FileCert>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), StartError>>>,
}

impl Server {
    /// Serves on a task of its own (on the current tokio runtime) until the
    /// returned [`Running`] is stopped or dropped.
    pub fn spawn(self) -> Running {
        let banner = self.banner().clone();
        let hub = self.hub();
        let file_cert = self.file_cert();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async move {
            let _ = stopped.await;
        }));
        Running {
            banner,
            hub,
            file_cert,
            stop: Some(stop),
            task: Some(task),
        }
    }
}

impl Running {
    /// What the start-up banner shows (address, fingerprint, password…).
    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    /// The shared core.
    pub fn hub(&self) -> Arc<Hub> {
        self.hub.clone()
    }

    /// The reloadable certificate (`files` and `self-signed` mode).
    pub fn file_cert(&self) -> Option<Arc<FileCert>> {
        self.file_cert.clone()
    }

    /// Stops the server and waits until it has closed every connection and
    /// flushed its database; its error, if it failed while running.
    pub async fn stop(mut self) -> Result<(), StartError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(|e| StartError::Io {
                what: "the server task".to_owned(),
                source: std::io::Error::other(e),
            })?,
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
