//! `cdc-sink status`: the lake at a glance (see [`cdc_sink::status`]).

use crate::common::open_for_read;
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
        cdc_sink::status::render(&status)
    };
    crate::common::print_stdout(&text)
}
