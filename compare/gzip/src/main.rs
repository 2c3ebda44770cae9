//! Compresses every file under a directory (one JSON Lines object each, as `cdc-sink replay
//! --format jsonl` writes them) with each candidate, one object at a time as the pipeline does,
//! and prints time per MB of input and the compressed size (median of runs).
//!
//! Usage: cargo run --release -- DIR [RUNS]

use std::io::Write;
use std::time::{Duration, Instant};

fn files(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    for e in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "jsonl") {
            out.push(std::fs::read(&p).expect("read file"));
        }
    }
}

fn zlib_rs(data: &[u8], level: u32) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(level),
    );
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

fn miniz(data: &[u8], level: u8) -> Vec<u8> {
    // Raw deflate plus the 18 bytes of gzip header and trailer, which do not change the time.
    let mut v = miniz_oxide::deflate::compress_to_vec(data, level);
    v.extend_from_slice(&[0; 18]);
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: DIR [RUNS]"));
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(21);
    let mut objects = Vec::new();
    files(&dir, &mut objects);
    let input: usize = objects.iter().map(Vec::len).sum();
    println!(
        "{} objects, {:.2} MB of JSON Lines",
        objects.len(),
        input as f64 / 1_048_576.0
    );
    type Candidate = (&'static str, Box<dyn Fn(&[u8]) -> Vec<u8>>);
    let candidates: Vec<Candidate> = vec![
        ("miniz_oxide (flate2 rust_backend), level 6", Box::new(|d| miniz(d, 6))),
        ("zlib-rs, level 6", Box::new(|d| zlib_rs(d, 6))),
        ("miniz_oxide, level 1", Box::new(|d| miniz(d, 1))),
        ("zlib-rs, level 1", Box::new(|d| zlib_rs(d, 1))),
    ];
    // In turns: one run of each candidate per round, so the machine's drift hits all alike.
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); candidates.len()];
    let mut sizes = vec![0usize; candidates.len()];
    for _ in 0..runs {
        for (i, (_, f)) in candidates.iter().enumerate() {
            let t = Instant::now();
            sizes[i] = objects.iter().map(|o| f(o).len()).sum();
            times[i].push(t.elapsed());
        }
    }
    println!("| candidate | ms per MB of input | output | ratio |");
    println!("|---|---|---|---|");
    for (i, (name, _)) in candidates.iter().enumerate() {
        times[i].sort();
        let med = times[i][runs / 2];
        println!(
            "| {name} | {:.2} | {:.3} MB | {:.1}% |",
            med.as_secs_f64() * 1e3 / (input as f64 / 1_048_576.0),
            sizes[i] as f64 / 1_048_576.0,
            100.0 * sizes[i] as f64 / input as f64
        );
    }
}
