//! One Lambda invocation end to end, against s3s-fs on 127.0.0.1: the handler's whole work
//! (hot path, registry check, the objects' PUTs at the pipeline's write concurrency), next to
//! the hot path alone, measured in turns, so the share of the wait on S3 is known.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use cdc_sink::config::Config;
use cdc_sink::ingest::lambda::Handler;
use cdc_sink::pipeline::build_batch;
use cdc_sink::store::s3::{S3Settings, S3Store};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BUCKET: &str = "bench";

/// Medians of one invocation and of its hot path alone.
pub struct Measured {
    pub records: u64,
    pub objects: u64,
    pub bytes: u64,
    pub invocation: Duration,
    pub hot_path: Duration,
    pub runs: usize,
}

impl Measured {
    /// One line for the bench's output.
    pub fn line(&self, tables: usize) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let wait = 1.0 - self.hot_path.as_secs_f64() / self.invocation.as_secs_f64().max(1e-9);
        format!(
            "invocation against s3s-fs on 127.0.0.1, {tables} tables: {} records, {} PUTs ({:.2} MB), {:.2} ms per invocation (median of {}), hot path {:.2} ms, the rest (S3 writes, registry) {:.0}%",
            self.records,
            self.objects,
            self.bytes as f64 / 1_048_576.0,
            ms(self.invocation),
            self.runs,
            ms(self.hot_path),
            100.0 * wait.max(0.0)
        )
    }
}

/// Stops the server when the measurement ends, however it ends.
pub(super) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An s3s-fs server on a free 127.0.0.1 port, stopped on drop, and its endpoint.
pub(super) fn start_server(dir: &Path) -> Result<(Server, String), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let data = dir.join(format!("s3-{port}"));
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let child = Command::new("s3s-fs")
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", "test", "--secret-key", "testtest"])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("s3s-fs: {e}; install it with `cargo install s3s-fs@0.14.1 --features binary`")
        })?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("s3s-fs did not listen on 127.0.0.1:{port}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// Runs the handler on `event` `runs` times after a first, warming invocation (which registers
/// the schemas), alternating with the hot path alone.
pub fn measure(event: &[u8], dir: &Path, runs: usize) -> Result<Measured, String> {
    let (_server, endpoint) = start_server(dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "testtest", None, None, "bench"))
            .force_path_style(true)
            .build();
        let client = aws_sdk_s3::Client::from_conf(conf);
        client
            .create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .map_err(|e| format!("create bucket: {e}"))?;
        let cfg = Config::default();
        let sink = S3Store::from_client(client, &S3Settings::new(BUCKET));
        let handler = Handler::new(cfg.clone(), "bench", sink);
        let mut invocation = Vec::with_capacity(runs);
        let mut hot = Vec::with_capacity(runs);
        let mut last = None;
        for i in 0..=runs {
            let t = Instant::now();
            let (response, inv) = handler.handle(event).await.map_err(|e| e.to_string())?;
            let took = t.elapsed();
            if !response.batch_item_failures.is_empty() {
                return Err("the invocation reported a failure".into());
            }
            if i == 0 {
                continue;
            }
            invocation.push(took);
            last = Some(inv.counts);
            let snapshot = handler.registry.snapshot_for_bench();
            let t = Instant::now();
            std::hint::black_box(build_batch(event, &cfg, &snapshot).ok());
            hot.push(t.elapsed());
        }
        let counts = last.unwrap_or_default();
        invocation.sort();
        hot.sort();
        Ok(Measured {
            records: counts.records,
            objects: counts.objects,
            bytes: counts.bytes,
            invocation: invocation[invocation.len() / 2],
            hot_path: hot[hot.len() / 2],
            runs,
        })
    })
}
