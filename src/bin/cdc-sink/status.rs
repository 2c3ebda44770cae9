//! `cdc-sink status`: the lake at a glance (see [`cdc_sink::status`]).

use crate::common::open_for_read;
use cdc_sink::status::{Status, QUARANTINE_READ_LIMIT};
use clap::Args;

#[derive(Args)]
pub struct StatusArgs {
    /// The lake: a directory, or s3://bucket/prefix (without a prefix, the Lambda's default
    /// prefix cdc).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// Print one JSON document, for scripts.
    #[arg(long)]
    pub json: bool,
    /// Also count rows by operation and the first and last commit time per table. This reads
    /// every data object (two columns of each Parquet file), so it costs a GET per object.
    #[arg(long)]
    pub rows: bool,
}

pub async fn run(args: StatusArgs) -> Result<(), String> {
    if !args.out.starts_with("s3://") && !std::path::Path::new(&args.out).is_dir() {
        return Err(format!("--out {:?} is not a directory", args.out));
    }
    let lake = open_for_read(&args.out).await?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let status = cdc_sink::status::status(&lake, &args.out, args.rows, now_ms)
        .await
        .map_err(|e| e.to_string())?;
    let text = if args.json {
        serde_json::to_string_pretty(&status).unwrap_or_default() + "\n"
    } else {
        render(&status)
    };
    crate::common::print_stdout(&text)
}

/// "3m ago", "2h ago", "5d ago" from milliseconds.
fn ago(then_ms: i64, now_ms: i64) -> String {
    let s = (now_ms - then_ms).max(0) / 1000;
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=172_799 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

fn when(ms: Option<i64>, now_ms: i64) -> String {
    match ms {
        Some(t) => format!(
            "{} ({})",
            cdc_sink::model::time::format_timestamp(t * 1000)
                .get(..16)
                .unwrap_or_default()
                .replace('T', " "),
            ago(t, now_ms)
        ),
        None => "-".into(),
    }
}

/// The terminal form: aligned sections, empty ones said in a word.
fn render(s: &Status) -> String {
    use cdc_sink::ingest::replay::human_bytes;
    use std::fmt::Write;
    let mut out = String::new();
    let l = &s.layout;
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    let _ = writeln!(out, "lake: {}", s.location);
    let _ = writeln!(
        out,
        "layout: format {}, compression {}, partition {}, partition time {}, objects {} ({})",
        opt(&l.format),
        opt(&l.compression),
        opt(&l.partition),
        opt(&l.partition_time),
        opt(&l.objects),
        l.source
    );
    let _ = writeln!(out);
    if s.tables.is_empty() {
        let _ = writeln!(out, "tables: none yet");
    } else {
        let with_rows = s.tables.iter().any(|t| t.rows.is_some());
        let mut head = vec![
            "table".to_string(),
            "objects".into(),
            "size".into(),
            "partitions".into(),
            "last write".into(),
        ];
        if with_rows {
            head.extend(["rows L/I/U/D".into(), "commit time first .. last".into()]);
        }
        let mut grid = vec![head];
        for t in &s.tables {
            let parts = match (&t.first_partition, &t.last_partition) {
                (Some(a), Some(b)) if a == b => a.clone(),
                (Some(a), Some(b)) => format!("{a} .. {b} ({})", t.partitions),
                _ => "-".into(),
            };
            let mut row = vec![
                t.table.clone(),
                t.objects.to_string(),
                human_bytes(t.bytes),
                parts,
                when(t.last_write_ms, s.now_ms),
            ];
            if let Some(r) = &t.rows {
                row.push(format!("{}/{}/{}/{}", r.load, r.insert, r.update, r.delete));
                let ts = |us: Option<i64>| {
                    us.map(|u| when(Some(u / 1000), s.now_ms))
                        .unwrap_or_else(|| "-".into())
                };
                row.push(format!(
                    "{} .. {}{}",
                    ts(r.first_commit_us),
                    ts(r.last_commit_us),
                    if r.unreadable > 0 {
                        format!(" ({} objects unreadable)", r.unreadable)
                    } else {
                        String::new()
                    }
                ));
            } else if with_rows {
                row.extend(["-".into(), "-".into()]);
            }
            grid.push(row);
        }
        out.push_str(&table(&grid));
        let objects: u64 = s.tables.iter().map(|t| t.objects).sum();
        let bytes: u64 = s.tables.iter().map(|t| t.bytes).sum();
        let _ = writeln!(
            out,
            "{} tables, {objects} objects, {}",
            s.tables.len(),
            human_bytes(bytes)
        );
        if !with_rows {
            let _ = writeln!(
                out,
                "(rows by operation and commit times: add --rows, which reads every data object)"
            );
        }
    }
    let _ = writeln!(out);
    if s.schemas.is_empty() {
        let _ = writeln!(out, "schemas: none registered");
    } else {
        let mut grid = vec![vec![
            "schema".to_string(),
            "version".into(),
            "columns".into(),
            "primary key".into(),
            "pending".into(),
        ]];
        for r in &s.schemas {
            grid.push(vec![
                r.table.clone(),
                r.version.to_string(),
                r.columns.to_string(),
                if r.primary_key.is_empty() {
                    "-".into()
                } else {
                    r.primary_key.join(", ")
                },
                r.pending.len().to_string(),
            ]);
        }
        out.push_str(&table(&grid));
        for r in s.schemas.iter().filter(|r| !r.pending.is_empty()) {
            let _ = writeln!(out, "pending conflicts in {}:", r.table);
            for p in &r.pending {
                let _ = writeln!(
                    out,
                    "  {}: registered {}, {} declares {}",
                    p.column, p.registered, p.source, p.declared
                );
            }
            if let Some(cmd) = &r.resolve {
                let _ = writeln!(out, "  resolve with: {cmd}");
            }
        }
    }
    let _ = writeln!(out);
    let q = &s.quarantine;
    if q.objects == 0 {
        let _ = writeln!(out, "quarantine: empty");
    } else {
        let _ = writeln!(
            out,
            "quarantine: {} objects, {}{}",
            q.objects,
            human_bytes(q.bytes),
            if q.complete {
                String::new()
            } else {
                format!(" (reasons from the newest {QUARANTINE_READ_LIMIT} objects)")
            }
        );
        for (day, reasons) in q.by_day.iter().rev() {
            let list: Vec<String> = reasons.iter().map(|(c, n)| format!("{c} {n}")).collect();
            let _ = writeln!(out, "  {day}: {}", list.join(", "));
        }
    }
    let _ = writeln!(
        out,
        "control log: {} objects, {}",
        s.control_log.objects,
        human_bytes(s.control_log.bytes)
    );
    for (name, h) in [("recover", &s.recover), ("redrive", &s.redrive)] {
        if h.documents == 0 {
            let _ = writeln!(out, "{name}: no runs recorded");
        } else {
            let _ = writeln!(out, "{name}: {} documents; newest:", h.documents);
            for (key, doc) in h.newest.iter().take(5) {
                let _ = writeln!(out, "  {key}: {}", brief(doc));
            }
        }
    }
    if let Some(c) = &s.compaction {
        let _ = writeln!(out, "{}", compaction_line(c, s.now_ms));
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if s.temporary.is_empty() {
        let _ = writeln!(out, "temporary files: none");
    } else {
        let _ = writeln!(
            out,
            "temporary files: {} left by stopped writers (the next replay into a directory removes them):",
            s.temporary.len()
        );
        for t in s.temporary.iter().take(10) {
            let _ = writeln!(out, "  {} {}", t.key, when(t.modified_ms, s.now_ms));
        }
    }
    out
}

/// "45s", "20m", "1h 20m", "3d 4h" from milliseconds.
fn span(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=172_799 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// The compaction backlog of a batch lake, on one line.
fn compaction_line(c: &cdc_sink::status::Compaction, now_ms: i64) -> String {
    use cdc_sink::ingest::replay::human_bytes;
    let waiting = if c.objects == 0 {
        "no batch objects waiting".to_string()
    } else {
        format!(
            "{} batch objects ({}) not yet compacted, oldest hour {}, lag {}",
            c.objects,
            human_bytes(c.bytes),
            c.oldest_hour.as_deref().unwrap_or("?"),
            c.lag_ms.map(span).unwrap_or_else(|| "?".into())
        )
    };
    let passes = match (c.passes, c.last_pass_ms) {
        (0, _) => "no passes recorded yet".to_string(),
        (n, Some(t)) => format!("{n} passes recorded, the last {}", when(Some(t), now_ms)),
        (n, None) => format!("{n} passes recorded"),
    };
    format!("compaction: {waiting}; {passes}")
}

/// A document's top-level scalar fields, on one line.
fn brief(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(ago(0, 90_000), "1m ago");
        assert_eq!(ago(0, 3 * 86_400_000), "3d ago");
        assert_eq!(span(80 * 60_000), "1h 20m");
        assert_eq!(span(20 * 60_000), "20m");
    }

    #[test]
    fn the_compaction_line() {
        let c = cdc_sink::status::Compaction {
            objects: 12,
            bytes: 3_565_158,
            oldest_hour: Some("2026-12-05T10".into()),
            lag_ms: Some(80 * 60_000),
            passes: 0,
            last_pass_ms: None,
        };
        assert_eq!(
            compaction_line(&c, 0),
            "compaction: 12 batch objects (3.4 MiB) not yet compacted, oldest hour 2026-12-05T10, lag 1h 20m; no passes recorded yet"
        );
        let done = cdc_sink::status::Compaction {
            passes: 3,
            last_pass_ms: Some(0),
            ..Default::default()
        };
        assert!(compaction_line(&done, 20 * 60_000)
            .starts_with("compaction: no batch objects waiting; 3 passes recorded, the last 1970-01-01 00:00 (20m ago)"));
    }
}
