//! Runs the generated statements on Athena (aws-sdk-athena): one query at a time, each waited
//! for; a MERGE that loses an Iceberg commit race (`ICEBERG_COMMIT_ERROR`) is run again after a
//! backoff, which is safe because the MERGE is idempotent. [`sync`] reads the catalog, applies
//! what brings it up to date, then keeps each table's state (MERGE, and on request the tombstone
//! purge, OPTIMIZE and VACUUM), and reports per table.

use super::catalog::{catalog_from_rows, catalog_query, sync_statements, Catalog, Statement};
use super::merge;
use super::names::hive_ident;
use super::state::Window;
use super::{DdlOptions, TableDdl};
use aws_sdk_athena::types::{QueryExecutionContext, QueryExecutionState, ResultConfiguration};
use std::time::{Duration, Instant};

/// Where and how queries run.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// Athena workgroup the queries run in.
    pub workgroup: String,
    /// `s3://...` for query results, when the workgroup does not set one.
    pub output_location: Option<String>,
    /// Runs of a statement that failed with a retryable error, the first included.
    pub attempts: u32,
    /// First backoff; doubles on each retry, up to [`RunnerSettings::max_backoff`].
    pub backoff: Duration,
    /// Longest backoff between two runs of a statement.
    pub max_backoff: Duration,
    /// First wait between two status polls; grows to 5 s.
    pub poll: Duration,
    /// A query still running after this long fails the table.
    pub timeout: Duration,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        RunnerSettings {
            workgroup: "primary".into(),
            output_location: None,
            attempts: 6,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            timeout: Duration::from_secs(3600),
        }
    }
}

/// What a finished query reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    /// Athena's query execution id.
    pub query_id: String,
    /// Rows a MERGE, INSERT, UPDATE or DELETE wrote (Athena's UpdateCount), when known.
    pub rows: Option<i64>,
    /// Bytes Athena scanned for the query (what it bills).
    pub bytes_scanned: i64,
    /// Engine execution time, in milliseconds.
    pub engine_millis: i64,
    /// Runs after the first (commit conflicts retried).
    pub retries: u32,
}

/// Why a query did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The query ended in state `FAILED` or `CANCELLED`.
    #[error("Athena query {query_id} {state}: {reason}")]
    Failed {
        /// Athena's query execution id.
        query_id: String,
        /// The final state, as Athena spells it.
        state: String,
        /// Athena's error message, or the state change reason.
        reason: String,
    },
    /// The query did not finish within [`RunnerSettings::timeout`].
    #[error("Athena query {query_id} still running after {secs} s (raise --query-timeout-secs, or check the workgroup)")]
    Timeout {
        /// Athena's query execution id.
        query_id: String,
        /// The timeout, in seconds.
        secs: u64,
    },
    /// A call to the Athena API itself failed (the error text, with AWS's context).
    #[error("Athena API call failed: {0} (check credentials, region, the workgroup and AWS_ENDPOINT_URL_ATHENA)")]
    Api(String),
}

/// True when a failed query may succeed if run again: a lost Iceberg commit race.
pub fn retryable(e: &RunError) -> bool {
    match e {
        RunError::Failed { reason, .. } => {
            reason.contains("ICEBERG_COMMIT_ERROR") || reason.contains("CommitFailedException")
        }
        _ => false,
    }
}

/// The wait before run number `attempt + 1` (attempt 1 is the first run): doubling, capped.
pub fn backoff(s: &RunnerSettings, attempt: u32) -> Duration {
    let d = s
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    d.min(s.max_backoff)
}

/// Runs `once` until it succeeds, fails for good, or used `s.attempts` runs; retryable
/// failures wait [`backoff`] first. Returns the result and the number of retries.
pub async fn with_retries<T, F, Fut>(s: &RunnerSettings, mut once: F) -> (Result<T, RunError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RunError>>,
{
    let mut attempt = 1;
    loop {
        match once().await {
            Err(e) if retryable(&e) && attempt < s.attempts => {
                tracing::warn!(attempt, error = %e, "commit conflict, running the statement again");
                tokio::time::sleep(backoff(s, attempt)).await;
                attempt += 1;
            }
            r => return (r, attempt - 1),
        }
    }
}

/// An Athena client with its settings.
pub struct Runner {
    /// The Athena client.
    pub client: aws_sdk_athena::Client,
    /// Database the queries run in (their default schema).
    pub database: String,
    /// Workgroup, result location, retries and timeouts.
    pub settings: RunnerSettings,
}

impl Runner {
    /// A client from the environment (credentials, region, `AWS_ENDPOINT_URL_ATHENA`).
    pub async fn from_env(database: &str, settings: RunnerSettings) -> Runner {
        let conf = aws_config::load_from_env().await;
        Runner {
            client: aws_sdk_athena::Client::new(&conf),
            database: database.to_string(),
            settings,
        }
    }

    /// Runs one statement and waits for it, retrying commit conflicts.
    pub async fn run(&self, sql: &str) -> Result<QueryStats, RunError> {
        let (r, retries) = with_retries(&self.settings, || self.run_once(sql)).await;
        r.map(|mut q| {
            q.retries = retries;
            q
        })
    }

    async fn run_once(&self, sql: &str) -> Result<QueryStats, RunError> {
        let api = |e: &dyn std::fmt::Display| RunError::Api(e.to_string());
        let started = self
            .client
            .start_query_execution()
            .query_string(sql)
            .work_group(&self.settings.workgroup)
            .query_execution_context(
                QueryExecutionContext::builder()
                    .database(&self.database)
                    .build(),
            )
            .set_result_configuration(
                self.settings
                    .output_location
                    .as_ref()
                    .map(|o| ResultConfiguration::builder().output_location(o).build()),
            )
            .send()
            .await
            .map_err(|e| api(&aws_sdk_athena::error::DisplayErrorContext(e)))?;
        let id = started
            .query_execution_id()
            .ok_or_else(|| RunError::Api("StartQueryExecution returned no id".into()))?
            .to_string();
        let t0 = Instant::now();
        let mut wait = self.settings.poll;
        loop {
            let got = self
                .client
                .get_query_execution()
                .query_execution_id(&id)
                .send()
                .await
                .map_err(|e| api(&aws_sdk_athena::error::DisplayErrorContext(e)))?;
            let q = got.query_execution();
            let status = q.and_then(|q| q.status());
            match status.and_then(|s| s.state()) {
                Some(QueryExecutionState::Succeeded) => {
                    let stats = q.and_then(|q| q.statistics());
                    return Ok(QueryStats {
                        rows: self.update_count(&id).await,
                        bytes_scanned: stats.and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0),
                        engine_millis: stats
                            .and_then(|s| s.engine_execution_time_in_millis())
                            .unwrap_or(0),
                        query_id: id,
                        retries: 0,
                    });
                }
                Some(state @ (QueryExecutionState::Failed | QueryExecutionState::Cancelled)) => {
                    let reason = status
                        .and_then(|s| s.athena_error())
                        .and_then(|e| e.error_message())
                        .or_else(|| status.and_then(|s| s.state_change_reason()))
                        .unwrap_or("no reason given")
                        .to_string();
                    return Err(RunError::Failed {
                        query_id: id,
                        state: state.as_str().to_string(),
                        reason,
                    });
                }
                _ => {}
            }
            if t0.elapsed() > self.settings.timeout {
                return Err(RunError::Timeout {
                    query_id: id,
                    secs: self.settings.timeout.as_secs(),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    /// Athena's UpdateCount of a finished DML query (None for DDL or when not reported).
    async fn update_count(&self, id: &str) -> Option<i64> {
        let r = self
            .client
            .get_query_results()
            .query_execution_id(id)
            .max_results(1)
            .send()
            .await
            .ok()?;
        r.update_count()
    }

    /// Rows of a finished query's results as text (the header row skipped).
    pub async fn rows(&self, id: &str) -> Result<Vec<Vec<String>>, RunError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut first = true;
        loop {
            let r = self
                .client
                .get_query_results()
                .query_execution_id(id)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    RunError::Api(aws_sdk_athena::error::DisplayErrorContext(e).to_string())
                })?;
            for row in r.result_set().map(|s| s.rows()).unwrap_or_default() {
                let cells: Vec<String> = row
                    .data()
                    .iter()
                    .map(|d| d.var_char_value().unwrap_or_default().to_string())
                    .collect();
                if std::mem::take(&mut first) {
                    continue; // the header
                }
                out.push(cells);
            }
            token = r.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    /// What the catalog holds now (information_schema.columns of the database).
    pub async fn catalog(&self) -> Result<Catalog, RunError> {
        let q = self.run(&catalog_query(&self.database)).await?;
        let rows = self.rows(&q.query_id).await?;
        Ok(catalog_from_rows(rows.into_iter().filter_map(|r| {
            let mut it = r.into_iter();
            Some((it.next()?, it.next()?, it.next()?))
        })))
    }
}

/// Which statements [`sync`] runs besides the catalog update.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    /// The MERGE window (None: no MERGE, only the catalog update).
    pub merge: Option<Window>,
    /// Purge tombstones set more than this many days ago.
    pub purge_days: Option<u32>,
    /// Run `OPTIMIZE ... REWRITE DATA USING BIN_PACK` on each state table.
    pub optimize: bool,
    /// Run `VACUUM` on each state table.
    pub vacuum: bool,
}

/// The statements of a sync, in order, once the catalog is known: create the database, bring
/// the catalog up to date, then per table MERGE, purge, OPTIMIZE, VACUUM.
pub fn plan_statements(
    tables: &[TableDdl],
    o: &DdlOptions,
    catalog: &Catalog,
    plan: &SyncPlan,
) -> Vec<Statement> {
    let mut out = vec![Statement {
        object: o.database.clone(),
        sql: format!("CREATE DATABASE IF NOT EXISTS {}", hive_ident(&o.database)),
    }];
    out.extend(sync_statements(tables, o, catalog));
    for t in tables.iter().filter(|t| t.has_key()) {
        let (d, s) = (&t.registered, &t.columns);
        let object = format!("{}_state", t.athena_table);
        let mut push = |sql: Option<String>| {
            if let Some(sql) = sql {
                out.push(Statement {
                    object: object.clone(),
                    sql,
                });
            }
        };
        if let Some(w) = &plan.merge {
            push(merge::merge(d, s, o, w));
        }
        if let Some(days) = plan.purge_days {
            push(merge::purge_tombstones(d, s, o, days));
        }
        if plan.optimize {
            push(merge::optimize(d, s, o));
        }
        if plan.vacuum {
            push(merge::vacuum(d, s, o));
        }
    }
    out
}

/// One object's line of the report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectReport {
    /// The catalog object (database, table or `<table>_state`) the statements are about.
    pub object: String,
    /// Statements that ran (the first failed one included).
    pub statements: u32,
    /// Rows the statements wrote, where Athena reports it.
    pub rows: i64,
    /// Bytes the statements scanned.
    pub bytes_scanned: i64,
    /// Wall time of the statements, in milliseconds, polls and retries included.
    pub millis: u128,
    /// Runs after the first, over all the statements.
    pub retries: u32,
    /// The first error; the object's later statements were skipped.
    pub error: Option<String>,
}

/// Runs `statements` one at a time, grouped by object in their order; an object whose
/// statement fails has its remaining statements skipped, the other objects still run.
pub async fn run_statements(runner: &Runner, statements: &[Statement]) -> Vec<ObjectReport> {
    let mut reports: Vec<ObjectReport> = Vec::new();
    for st in statements {
        let i = match reports.iter().position(|r| r.object == st.object) {
            Some(i) => i,
            None => {
                reports.push(ObjectReport {
                    object: st.object.clone(),
                    ..Default::default()
                });
                reports.len() - 1
            }
        };
        if reports[i].error.is_some() {
            continue;
        }
        let t0 = Instant::now();
        let r = runner.run(&st.sql).await;
        let rep = &mut reports[i];
        rep.millis += t0.elapsed().as_millis();
        rep.statements += 1;
        match r {
            Ok(q) => {
                rep.rows += q.rows.unwrap_or(0);
                rep.bytes_scanned += q.bytes_scanned;
                rep.retries += q.retries;
            }
            Err(e) => rep.error = Some(e.to_string()),
        }
    }
    reports
}

/// Reads the catalog, then runs [`plan_statements`]; the report has one line per object.
pub async fn sync(
    runner: &Runner,
    tables: &[TableDdl],
    o: &DdlOptions,
    plan: &SyncPlan,
) -> Result<Vec<ObjectReport>, RunError> {
    let catalog = runner.catalog().await?;
    let statements = plan_statements(tables, o, &catalog, plan);
    Ok(run_statements(runner, &statements).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RunnerSettings {
        RunnerSettings {
            attempts: 4,
            backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
            ..Default::default()
        }
    }

    fn conflict() -> RunError {
        RunError::Failed {
            query_id: "q".into(),
            state: "FAILED".into(),
            reason: "ICEBERG_COMMIT_ERROR: Failed to commit Iceberg update to table".into(),
        }
    }

    #[tokio::test]
    async fn commit_conflicts_are_retried_other_failures_are_not() {
        let runs = AtomicU32::new(0);
        let (r, retries) = with_retries(&fast(), || async {
            if runs.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(conflict())
            } else {
                Ok(7)
            }
        })
        .await;
        assert_eq!((r, retries), (Ok(7), 2));

        let runs = AtomicU32::new(0);
        let (r, retries) = with_retries(&fast(), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(conflict())
        })
        .await;
        assert!(r.is_err() && retries == 3 && runs.load(Ordering::SeqCst) == 4);

        let runs = AtomicU32::new(0);
        let (r, _) = with_retries(&fast(), || async {
            runs.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(RunError::Failed {
                query_id: "q".into(),
                state: "FAILED".into(),
                reason: "SYNTAX_ERROR: line 1:1".into(),
            })
        })
        .await;
        assert!(r.is_err() && runs.load(Ordering::SeqCst) == 1);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = RunnerSettings::default();
        assert_eq!(backoff(&s, 1), Duration::from_secs(2));
        assert_eq!(backoff(&s, 3), Duration::from_secs(8));
        assert_eq!(backoff(&s, 30), Duration::from_secs(60));
    }
}
