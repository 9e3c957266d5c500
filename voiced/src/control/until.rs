//! A stream that ends when a token is cancelled.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_stream::Stream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Yields the items of `S` until the token is cancelled, then ends.
pub struct UntilCancelled<S> {
    inner: Pin<Box<S>>,
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<S> UntilCancelled<S> {
    /// Wraps `inner`; it ends once `token` is cancelled.
    pub fn new(inner: S, token: CancellationToken) -> Self {
        Self {
            inner: Box::pin(inner),
            cancelled: Box::pin(token.cancelled_owned()),
        }
    }
}

impl<S: Stream> Stream for UntilCancelled<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        self.inner.as_mut().poll_next(cx)
    }
}
