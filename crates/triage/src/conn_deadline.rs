//! Deadlines for one HTTP/1 connection: how long it may sit idle (before
//! its first request and between keep-alive requests) and how long a
//! request head may take once its first byte has arrived.
//!
//! [`ConnPhase`] follows the connection: [`DeadlineIo`] (the socket) reports
//! the first bytes of a request, the request service reports when it has a
//! request ([`ConnPhase::begin`]) and when it is done (the [`RequestMark`]
//! is dropped). The connection task races hyper against
//! [`ConnPhase::expired`] and drops the connection, closing the socket, when
//! a deadline passes. Phase changes wake nobody (they happen three times a
//! request): the watcher re-reads the phase at its deadline and at least
//! once per the shorter of the two timeouts, which is enough to see every
//! deadline on time. No response can be parsed yet at that point, so none
//! is sent. While the service has a request there is no deadline here: the
//! body timeout ([`crate::body_deadline`]) bounds the body.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// No request started within the idle timeout.
    Idle,
    /// A request head did not arrive whole within the header timeout.
    Head,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Idle,
    Head,
    Busy,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    deadline: Option<Instant>,
}

/// The phase of one connection and its current deadline.
#[derive(Debug)]
pub struct ConnPhase {
    state: Mutex<State>,
    idle: Duration,
    header: Duration,
}

impl ConnPhase {
    /// A new connection: idle, with the idle deadline running.
    pub fn new(idle: Duration, header: Duration) -> Arc<ConnPhase> {
        Arc::new(ConnPhase {
            state: Mutex::new(State {
                mode: Mode::Idle,
                deadline: Some(Instant::now() + idle),
            }),
            idle,
            header,
        })
    }

    fn set(&self, mode: Mode, deadline: Option<Instant>) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.mode = mode;
        s.deadline = deadline;
    }

    /// Bytes arrived: on an idle connection they start a request head.
    fn bytes_read(&self) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.mode == Mode::Idle {
            s.mode = Mode::Head;
            s.deadline = Some(Instant::now() + self.header);
        }
    }

    /// The service has a request (its head is read): no deadline until the
    /// returned mark is dropped, which makes the connection idle again
    /// (also when hyper drops the request future).
    pub fn begin(self: &Arc<Self>) -> RequestMark {
        self.set(Mode::Busy, None);
        RequestMark(self.clone())
    }

    /// Resolves when the current deadline passes (deadlines moved or
    /// removed in the meantime are followed).
    ///
    /// Wakes at the deadline it read, and at most one `look` (the shorter
    /// timeout) after its last look. Every deadline is set at least `look`
    /// after the moment it is set (a head: one header timeout; idle: one
    /// idle timeout), so a look before it falls due sees it.
    pub async fn expired(&self) -> Expired {
        let look = self.idle.min(self.header);
        loop {
            let (mode, deadline) = {
                let s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                (s.mode, s.deadline)
            };
            let now = Instant::now();
            match deadline {
                Some(d) if d <= now => {
                    return if mode == Mode::Idle {
                        Expired::Idle
                    } else {
                        Expired::Head
                    };
                }
                Some(d) => tokio::time::sleep_until(d.min(now + look)).await,
                None => tokio::time::sleep(look).await,
            }
        }
    }
}

/// One request in progress on a connection (see [`ConnPhase::begin`]).
#[derive(Debug)]
pub struct RequestMark(Arc<ConnPhase>);

impl Drop for RequestMark {
    fn drop(&mut self) {
        let idle = self.0.idle;
        self.0.set(Mode::Idle, Some(Instant::now() + idle));
    }
}

/// A socket that tells its [`ConnPhase`] when bytes arrive.
pub struct DeadlineIo<T> {
    inner: T,
    phase: Arc<ConnPhase>,
}

impl<T> DeadlineIo<T> {
    pub fn new(inner: T, phase: Arc<ConnPhase>) -> Self {
        DeadlineIo { inner, phase }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for DeadlineIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.phase.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for DeadlineIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_millis(200);
    const HEAD: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn idle_then_head_then_busy_then_idle() {
        // Idle: expires after the idle timeout.
        let phase = ConnPhase::new(IDLE, HEAD);
        let started = Instant::now();
        assert_eq!(phase.expired().await, Expired::Idle);
        assert!(started.elapsed() >= IDLE);

        // Bytes start a head: the header timeout from then.
        let phase = ConnPhase::new(IDLE, HEAD);
        phase.bytes_read();
        assert_eq!(phase.expired().await, Expired::Head);

        // Busy: no deadline until the request is done, then idle again.
        let phase = ConnPhase::new(IDLE, HEAD);
        let mark = phase.begin();
        let waited = tokio::time::timeout(IDLE * 3, phase.expired()).await;
        assert!(waited.is_err(), "a busy connection expired");
        let done = Instant::now();
        drop(mark);
        assert_eq!(phase.expired().await, Expired::Idle);
        assert!(done.elapsed() >= IDLE);
    }

    /// A head that starts while the watcher sleeps towards a far idle
    /// deadline is still cut at its own, much nearer, deadline.
    #[tokio::test]
    async fn a_head_starting_mid_idle_is_cut_at_its_own_deadline() {
        let long_idle = Duration::from_secs(30);
        let phase = ConnPhase::new(long_idle, HEAD);
        let watcher = tokio::spawn({
            let phase = phase.clone();
            async move { phase.expired().await }
        });
        tokio::time::sleep(HEAD / 2).await;
        let started = Instant::now();
        phase.bytes_read();
        let expired = tokio::time::timeout(long_idle / 2, watcher)
            .await
            .expect("the head deadline was missed")
            .expect("watcher task");
        assert_eq!(expired, Expired::Head);
        assert!(started.elapsed() >= HEAD);
    }

    /// A request that ends while the watcher sleeps (long header timeout,
    /// short idle timeout) still closes at the idle deadline.
    #[tokio::test]
    async fn idle_after_a_request_is_seen_with_a_long_header_timeout() {
        let long_header = Duration::from_secs(30);
        let phase = ConnPhase::new(IDLE, long_header);
        let mark = phase.begin();
        let watcher = tokio::spawn({
            let phase = phase.clone();
            async move { phase.expired().await }
        });
        tokio::time::sleep(IDLE / 4).await;
        drop(mark);
        let expired = tokio::time::timeout(long_header / 2, watcher)
            .await
            .expect("the idle deadline was missed")
            .expect("watcher task");
        assert_eq!(expired, Expired::Idle);
    }
}
