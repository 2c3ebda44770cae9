//! `cdc-sink recover`: batches the event source mapping discarded, from its on-failure SQS queue,
//! a file of failure records, or the S3 on-failure destination, into the lake.

use crate::common::{open_for_write, PipelineFlags};
use cdc_sink::repair::recover::failure::parse_file;
use cdc_sink::repair::recover::{destination, queue, RecoverError, Recovered, Recoverer, Summary};
use clap::{ArgGroup, Args};
use std::path::PathBuf;

#[derive(Args)]
#[command(group(ArgGroup::new("source").required(true).args(["queue_url", "file", "from"])))]
pub struct RecoverArgs {
    /// The on-failure SQS queue (endpoint from AWS_ENDPOINT_URL_SQS). Each message is deleted
    /// only after its batch was written.
    #[arg(long, value_name = "URL")]
    pub queue_url: Option<String>,
    /// Failure records saved as JSON: one record, an array, or JSON Lines.
    #[arg(long, value_name = "FILE.json")]
    pub file: Option<PathBuf>,
    /// The S3 on-failure destination: its objects carry the batches, no stream is read.
    #[arg(long, value_name = "s3://BUCKET/PREFIX/")]
    pub from: Option<String>,
    /// Output: the lake's directory or s3://bucket/prefix (as for replay).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub out: String,
    /// The Kinesis stream to read (name or ARN) instead of each record's streamArn (endpoint
    /// from AWS_ENDPOINT_URL_KINESIS).
    #[arg(long, value_name = "NAME|ARN")]
    pub stream: Option<String>,
    /// List the keys each batch would write; write nothing, delete no message.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many queue messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Seconds a received message stays hidden from other readers while it is recovered.
    #[arg(long, value_name = "SECONDS", default_value = "300")]
    pub visibility_timeout: i32,
    #[command(flatten)]
    pub pipeline: PipelineFlags,
}

fn report(dry_run: bool) -> impl FnMut(&str, &Result<Recovered, RecoverError>) + Send {
    move |what, result| match result {
        Ok(r) if dry_run => {
            println!(
                "{what}: would write {} objects ({})",
                r.keys.len(),
                r.counts
            );
            for k in &r.keys {
                println!("  {k}");
            }
        }
        Ok(r) => println!("{what}: recovered: {}", r.counts),
        Err(e) => eprintln!("{what}: NOT recovered: {e}"),
    }
}

pub async fn run(args: RecoverArgs) -> Result<(), String> {
    let cfg = args.pipeline.config()?;
    let records = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Some(parse_file(&text, &path.display().to_string()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    // The lake's layout first: flags that would write another layout stop before anything. A
    // lake that has no layout document yet gets one only with the first object recovered, so a
    // refused range leaves nothing behind.
    let lake = open_for_write(&args.out, &cfg).await?;
    let mut recoverer = Recoverer::new(&lake, &cfg, args.dry_run);
    recoverer.stream = args.stream.clone();
    let mut report = report(args.dry_run);
    let summary = if let Some(records) = records {
        let mut s = Summary::default();
        for rec in &records {
            s.records += 1;
            let what = rec.info.describe();
            let source = args
                .file
                .as_ref()
                .map(|p| format!("file:{}", p.display()))
                .unwrap_or_default();
            let result = recoverer.recover(rec, &source).await;
            report(&what, &result);
            match result {
                Ok(r) => {
                    s.recovered += 1;
                    s.counts.accumulate(&r.counts);
                }
                Err(_) => s.failed += 1,
            }
        }
        s
    } else if let Some(url) = &args.queue_url {
        let sqs = queue::connect().await;
        queue::drain(
            &sqs,
            url,
            &recoverer,
            args.max_messages,
            args.visibility_timeout,
            &mut report,
        )
        .await
        .map_err(|e| e.to_string())?
    } else if let Some(from) = &args.from {
        destination::recover_all(from, &recoverer, &mut report).await?
    } else {
        return Err("give --queue-url, --file or --from".into());
    };
    println!(
        "recover{}: {summary}",
        if args.dry_run { " (dry run)" } else { "" }
    );
    if summary.failed > 0 {
        return Err(format!(
            "{} failure records were not recovered (see above); they stay where they are",
            summary.failed
        ));
    }
    Ok(())
}
