//! [`FaultProxy`]: a TCP proxy on loopback in front of a real server (moto),
//! switched at run time between passing traffic, refusing it and holding it
//! unanswered: an outage of the service behind it, as the client sees one.

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward to the upstream server.
    Pass,
    /// Close at once (new connections and those already open): like a
    /// refused or reset connection.
    Refuse,
    /// Accept and never answer (new connections; open ones are cut): a
    /// black hole, the client's timeout decides.
    Hold,
}

/// See the module docs. Dropping it stops the proxy.
pub struct FaultProxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listen on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port for the fault proxy");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, watcher) = watch::channel(Mode::Pass);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, upstream, watcher.clone()));
            }
        });
        FaultProxy { addr, mode, task }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`-style configuration.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Refuse => {}
        Mode::Hold => {
            // Keep the socket open, unanswered, until the mode changes.
            let _ = mode.changed().await;
        }
        Mode::Pass => {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            tokio::select! {
                _ = copy_bidirectional(&mut client, &mut server) => {}
                // Any change of mode cuts open connections.
                _ = mode.changed() => {}
            }
        }
    }
}

/// The socket address of an `http://host:port` endpoint.
pub fn endpoint_addr(url: &str) -> SocketAddr {
    let hostport = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .replace("localhost", "127.0.0.1");
    hostport
        .parse()
        .unwrap_or_else(|e| panic!("endpoint {url} is not host:port: {e}"))
}
