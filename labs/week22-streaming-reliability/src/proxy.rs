//! A fault-injecting TCP proxy on loopback, between a client and a server, deciding for each
//! connection what goes wrong: nothing, added latency, a reset (RST) before any answer, a 503
//! in the server's place, or the server's answer cut off after some bytes (a truncated stream).
//! Decisions come from a seeded generator (the same seed, the same faults) or from a script.
//!
//! Faults are per connection: a client that keeps connections alive sends several requests
//! through one decision, so the gateway's upstream client opens one connection per request.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Passed through untouched.
    Pass,
    /// Passed through after a wait.
    Delay(Duration),
    /// Reset (RST) before anything is forwarded.
    Reset,
    /// Answered by the proxy with this status (a 5xx), the server never asked.
    Status(u16),
    /// The server's answer forwarded up to this many bytes, then the connection closed.
    Truncate(usize),
    /// Nothing answers: the connection is refused-like (reset at once), as when the server is down.
    Down,
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::Delay(_) => "delay",
            Fault::Reset => "reset",
            Fault::Status(_) => "status",
            Fault::Truncate(_) => "truncate",
            Fault::Down => "down",
        }
    }
}

/// How often each fault happens (the rest pass).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaultMix {
    pub delay: f64,
    pub delay_by: Duration,
    pub reset: f64,
    pub status: f64,
    pub truncate: f64,
    /// Truncations cut after a number of bytes drawn from this range.
    pub truncate_bytes: (usize, usize),
}

impl FaultMix {
    /// `rate` of the connections fail, split evenly between reset, 503 and truncation; as many
    /// again (at most all the rest) are delayed by `delay_by`.
    pub fn even(rate: f64, delay_by: Duration) -> Self {
        Self {
            delay: rate.min(1.0 - rate),
            delay_by,
            reset: rate / 3.0,
            status: rate / 3.0,
            truncate: rate / 3.0,
            truncate_bytes: (300, 900),
        }
    }

    fn draw(&self, rng: &mut SmallRng) -> Fault {
        let u: f64 = rng.r#gen();
        let mut edge = self.reset;
        if u < edge {
            return Fault::Reset;
        }
        edge += self.status;
        if u < edge {
            return Fault::Status(503);
        }
        edge += self.truncate;
        if u < edge {
            let (lo, hi) = self.truncate_bytes;
            return Fault::Truncate(rng.gen_range(lo..=hi.max(lo)));
        }
        edge += self.delay;
        if u < edge {
            return Fault::Delay(self.delay_by);
        }
        Fault::Pass
    }
}

/// Where the proxy's decisions come from.
#[derive(Debug, Clone)]
pub enum Plan {
    /// Every connection passes.
    Clean,
    /// Drawn from the mix by a generator seeded with `seed`.
    Random { mix: FaultMix, seed: u64 },
    /// These, in order, then `Pass`.
    Script(Vec<Fault>),
    /// Every connection is reset: the server is down.
    Down,
}

#[derive(Debug)]
struct Decider {
    plan: Plan,
    rng: SmallRng,
    script: VecDeque<Fault>,
    counts: BTreeMap<&'static str, u64>,
    /// Every decision, with its time.
    log: Vec<(Instant, Fault)>,
}

impl Decider {
    fn new(plan: Plan) -> Self {
        let seed = match &plan {
            Plan::Random { seed, .. } => *seed,
            _ => 0,
        };
        let script = match &plan {
            Plan::Script(s) => s.iter().copied().collect(),
            _ => VecDeque::new(),
        };
        Self {
            plan,
            rng: SmallRng::seed_from_u64(seed),
            script,
            counts: BTreeMap::new(),
            log: Vec::new(),
        }
    }

    fn next(&mut self) -> Fault {
        let fault = match &self.plan {
            Plan::Clean => Fault::Pass,
            Plan::Down => Fault::Down,
            Plan::Random { mix, .. } => mix.draw(&mut self.rng),
            Plan::Script(_) => self.script.pop_front().unwrap_or(Fault::Pass),
        };
        *self.counts.entry(fault.kind()).or_default() += 1;
        self.log.push((Instant::now(), fault));
        fault
    }
}

/// A running proxy: it listens until dropped.
pub struct Proxy {
    addr: SocketAddr,
    decider: Arc<Mutex<Decider>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`, faults as `plan` says.
    pub async fn start(upstream: SocketAddr, plan: Plan) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let decider = Arc::new(Mutex::new(Decider::new(plan)));
        let shared = decider.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let fault = shared.lock().map(|mut d| d.next()).unwrap_or(Fault::Pass);
                tokio::spawn(handle(client, upstream, fault));
            }
        });
        Ok(Self {
            addr,
            decider,
            task,
        })
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the plan (counts and log go on).
    pub fn set_plan(&self, plan: Plan) {
        if let Ok(mut d) = self.decider.lock() {
            let fresh = Decider::new(plan);
            d.plan = fresh.plan;
            d.rng = fresh.rng;
            d.script = fresh.script;
        }
    }

    /// Every connection's fault so far, with its time.
    pub fn log(&self) -> Vec<(Instant, Fault)> {
        self.decider
            .lock()
            .map(|d| d.log.clone())
            .unwrap_or_default()
    }

    /// The faults decided so far, by kind.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.decider
            .lock()
            .map(|d| d.counts.clone())
            .unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a request's head (up to the blank line), so that an answer in the server's place comes
/// after the request, as a server's would.
async fn read_head(client: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 1 << 20 {
            match client.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
}

async fn handle(mut client: TcpStream, upstream: SocketAddr, fault: Fault) {
    let _ = client.set_nodelay(true);
    match fault {
        Fault::Reset | Fault::Down => {
            if fault == Fault::Reset {
                read_head(&mut client).await;
            }
            // SO_LINGER 0: close sends RST instead of FIN.
            let _ = client.set_zero_linger();
            drop(client);
        }
        Fault::Status(code) => {
            read_head(&mut client).await;
            let body = format!("{{\"error\":\"injected {code} from the fault proxy\"}}");
            let reply = format!(
                "HTTP/1.1 {code} Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 0\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(reply.as_bytes()).await;
            let _ = client.shutdown().await;
            // Read what is left of the request until the client closes: a socket closed with
            // unread data sends a reset, and the client would see that instead of the status.
            let mut buf = [0u8; 4096];
            let drain = async { while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        }
        Fault::Delay(by) => {
            tokio::time::sleep(by).await;
            pass(client, upstream, None).await;
        }
        Fault::Pass => pass(client, upstream, None).await,
        Fault::Truncate(after) => pass(client, upstream, Some(after)).await,
    }
}

/// Forwards both ways; the server's side only up to `limit` bytes when given.
async fn pass(mut client: TcpStream, upstream: SocketAddr, limit: Option<usize>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let _ = server.set_nodelay(true);
    match limit {
        None => {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
        Some(limit) => {
            let (mut client_read, mut client_write) = client.split();
            let (mut server_read, mut server_write) = server.split();
            let up = tokio::io::copy(&mut client_read, &mut server_write);
            let down = async {
                let mut sent = 0;
                let mut buf = [0u8; 1024];
                while sent < limit {
                    let n = match server_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n.min(limit - sent),
                    };
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                }
            };
            // The answer cut: stop forwarding either way and close both connections.
            tokio::select! {
                _ = up => {}
                _ = down => {}
            }
        }
    }
}
