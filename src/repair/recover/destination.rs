//! The S3 on-failure destination: one object per discarded batch, holding the failure record and
//! the batch itself (`payload`), so no stream access is needed. Objects are read, never changed;
//! recovering one again rewrites the same keys.

use super::failure::parse_record;
use super::{RecoverError, Recovered, Recoverer, Summary};
use crate::store::s3::{S3Settings, S3Store};
use crate::store::Store;

/// Splits `s3://bucket/prefix` into the bucket and the key prefix.
pub fn parse_location(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{url:?} is not s3://BUCKET/PREFIX/"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!(
            "{url:?} has no bucket name (expected s3://BUCKET/PREFIX/)"
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// Recovers every failure record under `s3://bucket/prefix`.
pub async fn recover_all<K: Store>(
    url: &str,
    r: &Recoverer<'_, K>,
    report: &mut (dyn FnMut(&str, &Result<Recovered, RecoverError>) + Send),
) -> Result<Summary, String> {
    let (bucket, prefix) = parse_location(url)?;
    let settings = S3Settings::from_lookup(&|k| std::env::var(k).ok(), Some(bucket.clone()))
        .map_err(|e| e.to_string())?;
    let store = S3Store::connect(&settings).await;
    let listed = store.list(&prefix).await.map_err(|e| e.to_string())?;
    let mut summary = Summary::default();
    for key in listed
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| !k.ends_with('/'))
    {
        summary.records += 1;
        let location = format!("s3://{bucket}/{key}");
        let result = match store.get(key).await {
            Err(e) => Err(RecoverError::Write(e.into())),
            Ok(None) => continue,
            Ok(Some((body, _))) => match std::str::from_utf8(&body) {
                Err(_) => Err(RecoverError::Payload(format!(
                    "{location} is not UTF-8 JSON"
                ))),
                Ok(text) => match parse_record(text, &location) {
                    Err(e) => Err(RecoverError::Payload(e.to_string())),
                    Ok(rec) => r.recover(&rec, &location).await,
                },
            },
        };
        report(&location, &result);
        match &result {
            Ok(done) => {
                summary.recovered += 1;
                summary.counts.accumulate(&done.counts);
            }
            Err(_) => summary.failed += 1,
        }
    }
    Ok(summary)
}
