//! `cdc-sink bench`: the hot path on generated full-size events, the peak memory of a replay and
//! the Lambda's cold start (see BENCHMARKS.md).

mod invocation;

use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct BenchArgs {
    /// Timed runs per case (the median is reported).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub iterations: u64,
    /// Only the cases whose name contains this text (e.g. "4 tables, Parquet snappy").
    #[arg(long)]
    pub only: Option<String>,
    /// Time only the whole hot path: no stage timers, no replay or cold-start processes
    /// (for running under a profiler).
    #[arg(long)]
    pub hot_path_only: bool,
    /// Also write the 4-, 50- and 500-table events to this directory (for
    /// compare/python/handler.py), then exit.
    #[arg(long, value_name = "DIR")]
    pub save_events: Option<PathBuf>,
}

/// Runs `cdc-sink replay` with CDC_REPORT_PEAK_RSS=1 and returns the peak RSS it reports (KiB).
fn replay_peak_rss_kib(
    exe: &std::path::Path,
    event: &std::path::Path,
    out: &std::path::Path,
    objects: &str,
) -> Result<u64, String> {
    let o = std::process::Command::new(exe)
        .arg("replay")
        .arg(event)
        .arg("--out")
        .arg(out)
        .args(["--objects", objects])
        .env("CDC_REPORT_PEAK_RSS", "1")
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    if !o.status.success() {
        return Err(format!("replay failed: {stderr}"));
    }
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak RSS KiB: "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("replay did not report its peak RSS: {stderr}"))
}

/// Process start to the first `GET /runtime/invocation/next`, against a stub Runtime API.
fn cold_start(lambda: &std::path::Path, s3: &str) -> Result<std::time::Duration, String> {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let start = std::time::Instant::now();
    let mut child = std::process::Command::new(lambda)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .envs([
            ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ])
        .envs([
            ("CDC_BUCKET", "bench"),
            // The init reads the lake's layout document: from a local S3 server, so the figure
            // is the function's own start plus one local GET, not network timeouts.
            ("AWS_ENDPOINT_URL_S3", s3),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "testtest"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", lambda.display()))?;
    let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
    let mut buf = [0u8; 512];
    let n = conn.read(&mut buf).map_err(|e| e.to_string())?;
    let elapsed = start.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let line = String::from_utf8_lossy(&buf[..n]);
    if !line.contains("/runtime/invocation/next") {
        return Err(format!("unexpected first request: {line}"));
    }
    Ok(elapsed)
}

pub fn run(a: BenchArgs) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run `cargo run --release -- bench` for meaningful numbers"
        );
    }
    let mut events = cdc_sink::sim::bench::Events::default();
    if let Some(dir) = &a.save_events {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for tables in [4, 50, 500] {
            let path = dir.join(format!("event-{tables}-tables.json"));
            std::fs::write(&path, events.get(tables, true))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!("{}", path.display());
        }
        return Ok(());
    }
    let cases = cdc_sink::sim::bench::run(
        &mut events,
        (a.iterations as usize).max(1),
        a.only.as_deref(),
        a.hot_path_only,
        &mut |name| eprintln!("measuring: {name}"),
    );
    println!("{}", cdc_sink::sim::bench::table(&cases));
    if a.hot_path_only {
        return Ok(());
    }
    eprintln!("measuring: 4 and 500 tables, 1 thread and all threads, in turns");
    let s = cdc_sink::sim::bench::scaling(&mut events, (a.iterations as usize).max(1));
    println!(
        "many-table ratio (Parquet snappy, 1 thread, measured in turns): 500 tables {:.2} µs per record / 4 tables {:.2} µs per record = {:.2}x (target: at most 3x)",
        s.per_record_us(1, 0),
        s.per_record_us(0, 0),
        s.many_table_ratio()
    );
    println!(
        "many-table ratio, objects=batch (Parquet snappy, 1 thread, measured in turns): 500 tables {:.2} µs per record / 4 tables {:.2} µs per record = {:.2}x (target: at most 1.5x)",
        s.batch_per_record_us(1),
        s.batch_per_record_us(0),
        s.batch_ratio()
    );
    for (i, name) in [(0, "4 tables"), (1, "500 tables")] {
        println!(
            "thread scaling, {name}: 1 thread {:.2} ms, {} threads {:.2} ms per event ({:.2}x)",
            s.times[i][0].as_secs_f64() * 1e3,
            s.threads,
            s.times[i][1].as_secs_f64() * 1e3,
            s.speedup(i)
        );
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = tempfile_dir()?;
    for (name, tables, objects) in [
        ("4 tables", 4, "table"),
        ("500 tables", 500, "table"),
        ("500 tables, objects=batch", 500, "batch"),
    ] {
        let path = dir.join(format!("event-{tables}.json"));
        let event = events.get(tables, true);
        std::fs::write(&path, event).map_err(|e| e.to_string())?;
        let out = dir.join(format!("out-{tables}-{objects}"));
        let kib = replay_peak_rss_kib(&exe, &path, &out, objects)?;
        println!(
            "peak RSS of `cdc-sink replay` on one {:.2} MB event ({name}): {:.1} MB",
            event.len() as f64 / 1_048_576.0,
            kib as f64 / 1024.0
        );
    }
    eprintln!("measuring: the compactor on 5 simulated minutes of 50 tables at 1,000 changes/s");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let scenario = cdc_sink::sim::cost::Scenario {
        tables: 50,
        rate: 1000,
        seconds: 300,
        batch_size: 5000,
        window_secs: 5,
        memory_mb: 1769,
        objects: cdc_sink::config::Objects::Batch,
        compaction_window_hours: 1,
        compaction_memory_mb: 1769,
        compaction_max_input_mb: 48,
        firehose_interval_secs: 300,
    };
    let o = rt.block_on(cdc_sink::sim::cost::simulate(&scenario, &mut |_| {}))?;
    println!(
        "compactor throughput (1 thread, {} changes of ~1 KiB from {} batch objects into {} table objects): {:.0} changes per second per vCPU",
        o.changes,
        o.invocations,
        o.table_objects,
        o.compaction_throughput()
    );
    for tables in [4, 50, 500] {
        eprintln!("measuring: one invocation against s3s-fs, {tables} tables");
        match invocation::measure(
            events.get(tables, true),
            &dir,
            (a.iterations as usize).clamp(1, 9),
        ) {
            Ok(m) => println!("{}", m.line(tables)),
            Err(e) => println!("invocation against s3s-fs, {tables} tables: skipped ({e})"),
        }
    }
    let lambda = exe.with_file_name("cdc-sink-lambda");
    if lambda.exists() {
        let (_server, s3) = invocation::start_server(&dir)?;
        std::fs::create_dir_all(
            dir.join(
                s3.rsplit(':')
                    .next()
                    .map_or(String::new(), |p| format!("s3-{p}")),
            )
            .join("bench"),
        )
        .map_err(|e| e.to_string())?;
        let mut runs: Vec<std::time::Duration> = (0..7)
            .map(|_| cold_start(&lambda, &s3))
            .collect::<Result<_, _>>()?;
        runs.sort();
        println!("cold start of cdc-sink-lambda (process start to first /next request, layout read from s3s-fs on 127.0.0.1, median of 7): {:.1} ms", runs[3].as_secs_f64() * 1e3);
        let size = std::fs::metadata(&lambda).map(|m| m.len()).unwrap_or(0);
        println!(
            "cdc-sink-lambda binary: {:.1} MB ({}, not stripped)",
            size as f64 / 1_048_576.0,
            std::env::consts::ARCH
        );
    } else {
        println!(
            "cold start: {} not found (cargo build --release builds it)",
            lambda.display()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("cdc-sink-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}
