//! A response stream that ends with UNAUTHENTICATED as soon as the plugin
//! token it was opened with is revoked (what is still queued is dropped).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_stream::Stream;
use tokio_util::sync::WaitForCancellationFutureOwned;
use tonic::Status;

use crate::plugin::auth::{Caller, revoked_status};

/// A stream of `inner`'s items until the caller's token is revoked.
pub struct Revocable<S> {
    inner: S,
    /// The token's name and its revocation; `None` on the admin socket.
    revoked: Option<(String, Pin<Box<WaitForCancellationFutureOwned>>)>,
    done: bool,
}

impl<S> std::fmt::Debug for Revocable<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocable")
            .field("token", &self.revoked.as_ref().map(|(name, _)| name))
            .field("done", &self.done)
            .finish()
    }
}

impl<S> Revocable<S> {
    /// `inner`, ended when `caller`'s token is revoked (never without one).
    pub fn new(inner: S, caller: Option<&Caller>) -> Self {
        Self {
            inner,
            revoked: caller.map(|c| {
                (
                    c.token.to_string(),
                    Box::pin(c.revoked.clone().cancelled_owned()),
                )
            }),
            done: false,
        }
    }
}

impl<T, S> Stream for Revocable<S>
where
    S: Stream<Item = Result<T, Status>> + Unpin,
{
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some((name, revoked)) = &mut self.revoked
            && revoked.as_mut().poll(cx).is_ready()
        {
            let status = revoked_status(name);
            self.done = true;
            return Poll::Ready(Some(Err(status)));
        }
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if matches!(next, Poll::Ready(None)) {
            self.done = true;
        }
        next
    }
}
