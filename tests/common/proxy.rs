//! A fault-injecting HTTP proxy between the S3 client and the S3-compatible server, for tests.
//! Per request (seeded, reproducible) it answers 500 InternalError or 503 SlowDown, resets the
//! connection, delays the response, or hangs past the client's timeout; otherwise it forwards
//! the request (with `Connection: close`, so every request is decided on its own).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Fault rates (0 to 1) and timings.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    pub seed: u64,
    pub error_500: f64,
    pub slow_down_503: f64,
    pub reset: f64,
    pub slow: f64,
    pub slow_ms: u64,
    pub hang: f64,
    pub hang_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    E500,
    E503,
    Reset,
    Slow,
    Hang,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub e500: AtomicU64,
    pub e503: AtomicU64,
    pub resets: AtomicU64,
    pub slow: AtomicU64,
    pub hangs: AtomicU64,
}

impl Stats {
    pub fn faults(&self) -> u64 {
        [
            &self.e500,
            &self.e503,
            &self.resets,
            &self.slow,
            &self.hangs,
        ]
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .sum()
    }
}

impl FaultPlan {
    fn decide(&self, n: u64) -> Fault {
        let mut z = self
            .seed
            .wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let mut x = ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64;
        for (p, f) in [
            (self.error_500, Fault::E500),
            (self.slow_down_503, Fault::E503),
            (self.reset, Fault::Reset),
            (self.slow, Fault::Slow),
            (self.hang, Fault::Hang),
        ] {
            if x < p {
                return f;
            }
            x -= p;
        }
        Fault::None
    }
}

pub struct Proxy {
    pub endpoint: String,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts the proxy on 127.0.0.1 in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, plan: FaultPlan) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_string();
        let stats = Arc::new(Stats::default());
        let s = stats.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let n = s.requests.fetch_add(1, Ordering::SeqCst);
                let fault = plan.decide(n);
                let (s, upstream) = (s.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = handle(client, &upstream, fault, plan, &s).await;
                });
            }
        });
        Proxy {
            endpoint,
            stats,
            task,
        }
    }
}

/// Reads the request head; returns (head, bytes read past it).
async fn read_head(c: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i + 4]).into_owned();
            return Ok((head, buf[i + 4..].to_vec()));
        }
        let n = c.read(&mut chunk).await?;
        if n == 0 || buf.len() > 1 << 20 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

async fn error(
    c: &mut TcpStream,
    head: &str,
    rest: usize,
    status: &str,
    code: &str,
) -> std::io::Result<()> {
    // Consume the body first (unless the client waits for 100-continue), so the client sees
    // the answer rather than a broken pipe.
    if header(head, "expect").is_none() {
        if let Some(len) = header(head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut left = len.saturating_sub(rest);
            let mut buf = [0u8; 65536];
            while left > 0 {
                let n = c.read(&mut buf[..left.min(65536)]).await?;
                if n == 0 {
                    break;
                }
                left -= n;
            }
        }
    }
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the test proxy</Message><RequestId>fault</RequestId></Error>");
    let resp = format!("HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    c.write_all(resp.as_bytes()).await?;
    c.shutdown().await
}

async fn handle(
    mut c: TcpStream,
    upstream: &str,
    fault: Fault,
    plan: FaultPlan,
    s: &Stats,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut c).await?;
    match fault {
        Fault::E500 => {
            s.e500.fetch_add(1, Ordering::SeqCst);
            return error(
                &mut c,
                &head,
                rest.len(),
                "500 Internal Server Error",
                "InternalError",
            )
            .await;
        }
        Fault::E503 => {
            s.e503.fetch_add(1, Ordering::SeqCst);
            return error(&mut c, &head, rest.len(), "503 Slow Down", "SlowDown").await;
        }
        Fault::Reset => {
            s.resets.fetch_add(1, Ordering::SeqCst);
            // SO_LINGER 0: closing sends RST instead of FIN.
            socket2::SockRef::from(&c).set_linger(Some(Duration::ZERO))?;
            drop(c);
            return Ok(());
        }
        Fault::Hang => {
            s.hangs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(plan.hang_ms)).await;
            return Ok(());
        }
        Fault::Slow => {
            s.slow.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(plan.slow_ms)).await;
        }
        Fault::None => {}
    }
    // Forward with Connection: close, then pipe both ways until the server closes.
    let mut lines: Vec<&str> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    let head = format!("{}\r\n\r\n", lines.join("\r\n"));
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(head.as_bytes()).await?;
    up.write_all(&rest).await?;
    let _ = tokio::io::copy_bidirectional(&mut c, &mut up).await;
    Ok(())
}
