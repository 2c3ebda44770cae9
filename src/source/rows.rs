//! A table's rows read from PostgreSQL as DMS would render them, for `cdc-sink reconcile`:
//! each row is one JSON array of the values in DMS's rendering (numbers as JSON numbers,
//! timestamps as ISO 8601 with `Z`, bytea as `0x` and upper-case hex, the rest as PostgreSQL's
//! text; see the project's dms-format notes), so the lake's own decoder types them the same way
//! it typed the change records. Rows stream through a portal: memory does not grow with the
//! table.

use super::postgres::{error_text, resolve_type, PgType, SourceError};
use crate::model::change::TableId;
use std::collections::HashMap;

/// A column of the source table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    /// The column's name in PostgreSQL.
    pub name: String,
    /// Its type, domains resolved.
    pub ty: PgType,
}

impl SourceColumn {
    /// True for `json` and `jsonb`, whose values compare as JSON (key order and spacing are
    /// not part of the value).
    pub fn is_json(&self) -> bool {
        matches!(self.ty.name.as_str(), "json" | "jsonb")
    }
}

const TABLE_COLUMNS_SQL: &str = "
SELECT a.attname::text, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod)
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum";

/// Session settings that make the server's text forms the ones DMS's rendering assumes.
const SESSION_SQL: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
     SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 1";

/// Sets the session up for [`rows`] and [`rows_by_key`]; call once per connection.
pub async fn prepare_session(client: &tokio_postgres::Client) -> Result<(), SourceError> {
    client
        .batch_execute(SESSION_SQL)
        .await
        .map_err(|e| SourceError::Query(error_text(&e)))
}

/// The table's columns, or `None` when PostgreSQL has no such table (or it cannot be seen).
pub async fn table_columns(
    client: &tokio_postgres::Client,
    t: &TableId,
) -> Result<Option<Vec<SourceColumn>>, SourceError> {
    let q = |e: tokio_postgres::Error| SourceError::Query(error_text(&e));
    let rows = client
        .query(TABLE_COLUMNS_SQL, &[&t.schema, &t.table])
        .await
        .map_err(q)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut cache = HashMap::new();
    let mut out = Vec::new();
    for r in rows {
        let ty = resolve_type(client, &mut cache, r.get(1), r.get(2), r.get(3)).await?;
        out.push(SourceColumn { name: r.get(0), ty });
    }
    Ok(Some(out))
}

/// `"name"` quoted for SQL.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL expression that renders column `c` as DMS does in a change record.
pub fn dms_rendering(c: &SourceColumn) -> String {
    let col = ident(&c.name);
    if c.ty.category == 'A' || c.ty.kind == 'e' {
        return format!("{col}::text");
    }
    let ts = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'";
    match c.ty.name.as_str() {
        // DMS rounds a numeric without precision to 6 decimals (registered decimal(38,6)).
        "numeric" if c.ty.typmod < 0 => format!("round({col}, 6)"),
        // char(n) keeps its padding, as DMS sends it (a cast to text would strip it).
        "int2" | "int4" | "int8" | "oid" | "numeric" | "float4" | "float8" | "bool" | "bpchar" => {
            col
        }
        "timestamp" => format!("to_char({col}, {ts})"),
        "timestamptz" => format!("to_char({col} AT TIME ZONE 'UTC', {ts})"),
        "bytea" => format!("'0x' || upper(encode({col}, 'hex'))"),
        _ => format!("{col}::text"),
    }
}

fn select(t: &TableId, cols: &[SourceColumn]) -> String {
    let exprs: Vec<String> = cols.iter().map(dms_rendering).collect();
    format!(
        "SELECT json_build_array({})::text FROM {}.{}",
        exprs.join(", "),
        ident(&t.schema),
        ident(&t.table)
    )
}

/// Streams every row of `t` to `each` (one JSON array per row, values in `cols` order),
/// `fetch` rows at a time through a portal in one snapshot; returns the row count.
pub async fn rows(
    client: &mut tokio_postgres::Client,
    t: &TableId,
    cols: &[SourceColumn],
    fetch: i32,
    mut each: impl FnMut(&str) -> Result<(), String>,
) -> Result<u64, SourceError> {
    let q = |e: tokio_postgres::Error| SourceError::Query(error_text(&e));
    let tx = client
        .build_transaction()
        .read_only(true)
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(q)?;
    let stmt = tx.prepare(&select(t, cols)).await.map_err(q)?;
    let portal = tx.bind(&stmt, &[]).await.map_err(q)?;
    let mut n = 0;
    loop {
        let batch = tx.query_portal(&portal, fetch).await.map_err(q)?;
        if batch.is_empty() {
            break;
        }
        for r in &batch {
            each(r.get::<_, &str>(0)).map_err(SourceError::Query)?;
            n += 1;
        }
    }
    tx.commit().await.map_err(q)?;
    Ok(n)
}

/// The rows of `t` whose key columns (`key`: indexes into `cols`) equal one of `keys` (each a
/// list of the key's values as text, cast to the column's type by the server).
pub async fn rows_by_key(
    client: &tokio_postgres::Client,
    t: &TableId,
    cols: &[SourceColumn],
    key: &[usize],
    keys: &[Vec<String>],
) -> Result<Vec<String>, SourceError> {
    let q = |e: tokio_postgres::Error| SourceError::Query(error_text(&e));
    let mut out = Vec::new();
    for chunk in keys.chunks(100) {
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::new();
        let mut ors = Vec::new();
        for k in chunk {
            let mut ands = Vec::new();
            for (part, &ci) in k.iter().zip(key) {
                params.push(part);
                ands.push(format!(
                    "{} = CAST(${}::text AS {})",
                    ident(&cols[ci].name),
                    params.len(),
                    cols[ci].ty.formatted
                ));
            }
            ors.push(format!("({})", ands.join(" AND ")));
        }
        let sql = format!("{} WHERE {}", select(t, cols), ors.join(" OR "));
        for r in client.query(&sql, &params).await.map_err(q)? {
            out.push(r.get::<_, String>(0));
        }
    }
    Ok(out)
}

/// The server's clock, µs since the epoch.
pub async fn now_us(client: &tokio_postgres::Client) -> Result<i64, SourceError> {
    let r = client
        .query_one(
            "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8",
            &[],
        )
        .await
        .map_err(|e| SourceError::Query(error_text(&e)))?;
    Ok(r.get(0))
}

/// PostgreSQL's estimate of the table's rows (`pg_class.reltuples`; 0 when never analysed).
pub async fn estimated_rows(
    client: &tokio_postgres::Client,
    t: &TableId,
) -> Result<u64, SourceError> {
    let r = client
        .query_opt(
            "SELECT greatest(c.reltuples, 0)::int8 FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2",
            &[&t.schema, &t.table],
        )
        .await
        .map_err(|e| SourceError::Query(error_text(&e)))?;
    Ok(r.map_or(0, |r| r.get::<_, i64>(0).max(0) as u64))
}

/// The user tables of the database (not PostgreSQL's own, not DMS's `awsdms_*`), in order.
pub async fn user_tables(client: &tokio_postgres::Client) -> Result<Vec<TableId>, SourceError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_%' AND c.relname NOT LIKE 'awsdms\\_%'
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| SourceError::Query(error_text(&e)))?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect())
}
