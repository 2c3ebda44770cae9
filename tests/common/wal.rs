//! DMS-shaped Kinesis events from a real PostgreSQL's own WAL: a logical replication slot with
//! PostgreSQL's built-in `test_decoding` plugin (the plugin DMS itself uses by default for a
//! PostgreSQL source), its text output parsed and rendered the way DMS renders a change for a
//! Kinesis target with the project's recommended settings (../shared/dms-format.md section 6):
//! `json-unformatted`, IncludeTransactionDetails, IncludeNullAndEmpty, UseLargeIntegerValue,
//! before-image `pk-only` under the key `before-image`.
//!
//! ```ignore
//! wal::create_slot(&client, "s").await;
//! client.batch_execute("INSERT ...; UPDATE ...").await.unwrap();
//! let messages = wal::drain_as_dms(&client, "s").await;
//! let files = wal::write_events(dir, &messages, 500); // for `cdc-sink replay --out LAKE FILE...`
//! wal::drop_slot(&client, "s").await;
//! ```
//!
//! The server needs `wal_level=logical` (tests/common/servers.rs starts it so).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tokio_postgres::Client;

/// Creates a logical replication slot `name` with `test_decoding`, in the client's database.
/// Call it before the workload: the slot sees only what commits after it exists.
pub async fn create_slot(client: &Client, name: &str) {
    client
        .query_one(
            "SELECT pg_create_logical_replication_slot($1, 'test_decoding')::text",
            &[&name],
        )
        .await
        .unwrap_or_else(|e| panic!("create logical slot {name} (needs wal_level=logical): {e}"));
}

/// Drops the slot `name` if it exists (a database with a slot cannot be dropped).
pub async fn drop_slot(client: &Client, name: &str) {
    client
        .execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
            &[&name],
        )
        .await
        .unwrap();
}

/// Consumes every change of slot `slot` and returns one DMS message (one-line JSON text) per
/// changed row, in commit order.
///
/// The changes are read with `include-xids`, `include-timestamp` and `skip-empty-xacts`, in a
/// transaction that sets `TimeZone=UTC`, `DateStyle=ISO`, `IntervalStyle=postgres`,
/// `extra_float_digits=1` (shortest exact, as DMS prints a float4) and `bytea_output=hex` (test_decoding prints values with the output
/// functions of the session that reads the slot). Column types and primary keys are read from
/// the catalog as it is now, so call this before altering the tables the workload touched.
///
/// Rendering (what DMS sends, ../shared/dms-format.md sections 2-4):
/// - insert: `data` is the new row. update: `data` is the new row and `before-image` holds the
///   old primary-key columns when test_decoding printed an old key (the key changed, or
///   REPLICA IDENTITY FULL), `{}` otherwise. delete: `data` holds the old key columns, every
///   other column as null.
/// - NULL is an explicit JSON null (IncludeNullAndEmpty=true).
/// - A TOASTed column an UPDATE left untouched (test_decoding's `unchanged-toast-datum`) is
///   absent from `data`, unless the table has REPLICA IDENTITY FULL, whose old tuple holds the
///   value: then `data` carries it. Both are inferred, not observed (docs/research/dms-lob.md
///   section 1).
/// - Values by base type (domains resolved through `pg_type.typbasetype`): integers, numerics
///   and floats are JSON numbers written as PostgreSQL printed them (never through f64);
///   numeric without precision is rounded to 6 decimals as DMS does; NaN and infinities are
///   strings; boolean is `true`/`false`; bytea is `"0x"` + upper-case hex; timestamp and
///   timestamptz are `YYYY-MM-DDTHH:MI:SS[.ffffff]Z` in UTC (fraction dropped when zero); dates
///   and everything else are the PostgreSQL text as a JSON string. Values with no ISO form
///   (`infinity`, BC) stay PostgreSQL's text.
/// - metadata: `timestamp` and `commit-timestamp` are the commit time (6 fraction digits),
///   `transaction-id` is the xid, `transaction-record-id` counts the rows of a transaction from
///   1, `stream-position` is built from the change's and the transaction's first LSN, and
///   `prev-transaction-id` / `prev-transaction-record-id` name the previous message (absent on
///   the first).
pub async fn drain_as_dms(client: &Client, slot: &str) -> Vec<String> {
    client
        .batch_execute(
            "BEGIN; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD';
             SET LOCAL IntervalStyle = 'postgres'; SET LOCAL extra_float_digits = 1;
             SET LOCAL bytea_output = 'hex'",
        )
        .await
        .unwrap();
    let rows = client
        .query(
            "SELECT lsn::text, data FROM pg_logical_slot_get_changes($1, NULL, NULL,
               'include-xids', '1', 'include-timestamp', '1', 'skip-empty-xacts', '1')",
            &[&slot],
        )
        .await
        .unwrap_or_else(|e| panic!("read slot {slot}: {e}"));
    let lines: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let txns = parse_stream(&lines);
    let mut tables: HashMap<(String, String), TableInfo> = HashMap::new();
    for t in &txns {
        for c in &t.changes {
            let k = (c.schema.clone(), c.table.clone());
            if let std::collections::hash_map::Entry::Vacant(e) = tables.entry(k) {
                e.insert(table_info(client, &c.schema, &c.table).await);
            }
        }
    }
    client.batch_execute("COMMIT").await.unwrap();

    let mut out = Vec::new();
    let mut prev: Option<(String, usize)> = None;
    for t in &txns {
        let commit = iso_utc(&t.commit_ts, true)
            .unwrap_or_else(|| panic!("commit time {:?} is not a timestamp", t.commit_ts));
        for (i, c) in t.changes.iter().enumerate() {
            let info = &tables[&(c.schema.clone(), c.table.clone())];
            let mut meta = vec![
                ("timestamp", json_str(&commit)),
                ("record-type", json_str("data")),
                ("operation", json_str(c.op.name())),
                ("partition-key-type", json_str("schema-table")),
                ("schema-name", json_str(&c.schema)),
                ("table-name", json_str(&c.table)),
                ("transaction-id", t.xid.clone()),
                ("commit-timestamp", json_str(&commit)),
                (
                    "stream-position",
                    json_str(&format!("{}.2.{}", lsn(&c.lsn), lsn(&t.first_lsn))),
                ),
                ("transaction-record-id", (i + 1).to_string()),
            ];
            if let Some((xid, rec)) = &prev {
                meta.push(("prev-transaction-id", xid.clone()));
                meta.push(("prev-transaction-record-id", rec.to_string()));
            }
            prev = Some((t.xid.clone(), i + 1));
            let (data, before) = match c.op {
                Op::Insert => (object(info, &c.new), None),
                Op::Update => {
                    let before = match &c.old {
                        Some(old) => object(info, &key_only(info, old)),
                        None => "{}".to_string(),
                    };
                    // With REPLICA IDENTITY FULL the old tuple holds an unchanged TOASTed
                    // value in full: the after-image takes it from there (what Debezium and
                    // Materialize do; that DMS does is inferred, docs/research/dms-lob.md).
                    // Without it the column stays absent.
                    let new: Vec<Col> = c
                        .new
                        .iter()
                        .map(|n| match (&n.val, &c.old) {
                            (Val::Unchanged, Some(old)) => old
                                .iter()
                                .find(|o| o.name == n.name && o.val != Val::Unchanged)
                                .cloned()
                                .unwrap_or_else(|| n.clone()),
                            _ => n.clone(),
                        })
                        .collect();
                    (object(info, &new), Some(before))
                }
                Op::Delete => {
                    let old = c.old.as_deref().unwrap_or_default();
                    let row: Vec<Col> = info
                        .columns
                        .iter()
                        .map(|col| {
                            old.iter()
                                .find(|o| o.name == col.name)
                                .cloned()
                                .unwrap_or_else(|| Col {
                                    name: col.name.clone(),
                                    ty: String::new(),
                                    val: Val::Null,
                                })
                        })
                        .collect();
                    (object(info, &row), None)
                }
            };
            let meta: Vec<String> = meta
                .iter()
                .map(|(k, v)| format!("{}:{v}", json_str(k)))
                .collect();
            let mut msg = format!("{{\"data\":{data}");
            if let Some(b) = before {
                msg.push_str(&format!(",\"before-image\":{b}"));
            }
            msg.push_str(&format!(",\"metadata\":{{{}}}}}", meta.join(",")));
            out.push(msg);
        }
    }
    out
}

/// Writes `messages` as Lambda Kinesis event files (`{"Records": [...]}`) of at most
/// `per_event` records each, one shard, 56-digit sequence numbers increasing across the files,
/// partition key `schema.table` and arrival times just after each commit; ready for
/// `cdc-sink replay --out DIR FILE...`. Returns the files written under `dir`, in order.
pub fn write_events(dir: &Path, messages: &[String], per_event: usize) -> Vec<PathBuf> {
    write_events_after(dir, messages, per_event, 0)
}

/// [`write_events`] with sequence numbers after `after` (the count of records written before
/// on the same shard), for a stream written in several steps.
pub fn write_events_after(
    dir: &Path,
    messages: &[String],
    per_event: usize,
    after: u64,
) -> Vec<PathBuf> {
    use base64::Engine;
    std::fs::create_dir_all(dir).unwrap();
    let mut paths = Vec::new();
    let mut arrival_ms = 0i64;
    let mut seq_no = after;
    for (n, chunk) in messages.chunks(per_event.max(1)).enumerate() {
        let records: Vec<serde_json::Value> = chunk
            .iter()
            .map(|m| {
                let v: serde_json::Value = serde_json::from_str(m).unwrap();
                let meta = &v["metadata"];
                let s = |k: &str| meta[k].as_str().unwrap_or_default().to_string();
                if let Some(us) = micros(&s("commit-timestamp")) {
                    arrival_ms = arrival_ms.max(us.div_euclid(1000) + 150);
                }
                seq_no += 1;
                let seq = format!("4966{seq_no:052}");
                serde_json::json!({
                    "kinesis": {"kinesisSchemaVersion": "1.0",
                        "partitionKey": format!("{}.{}", s("schema-name"), s("table-name")),
                        "sequenceNumber": seq,
                        "data": base64::engine::general_purpose::STANDARD.encode(m),
                        "approximateArrivalTimestamp": arrival_ms as f64 / 1000.0},
                    "eventSource": "aws:kinesis", "eventVersion": "1.0",
                    "eventID": format!("shardId-000000000000:{seq}"),
                    "eventName": "aws:kinesis:record", "awsRegion": "eu-west-1",
                    "eventSourceARN": "arn:aws:kinesis:eu-west-1:111122223333:stream/cdc",
                })
            })
            .collect();
        let path = dir.join(format!("wal-{:04}.json", n + 1));
        std::fs::write(&path, serde_json::json!({ "Records": records }).to_string()).unwrap();
        paths.push(path);
    }
    paths
}

// ---- test_decoding's text ----

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Insert,
    Update,
    Delete,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// A value as test_decoding printed it.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    /// `unchanged-toast-datum`: a TOASTed value the UPDATE did not change (not in the WAL).
    Unchanged,
    /// The text of the value, unquoted.
    Text(String),
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    /// The type test_decoding printed (`format_type_be`, no typmod).
    ty: String,
    val: Val,
}

#[derive(Debug)]
struct Change {
    lsn: String,
    schema: String,
    table: String,
    op: Op,
    /// `old-key:` of an update (key columns, or the whole row with REPLICA IDENTITY FULL), the
    /// tuple of a delete.
    old: Option<Vec<Col>>,
    new: Vec<Col>,
}

#[derive(Debug)]
struct Txn {
    /// The xid, as digits (a JSON number).
    xid: String,
    first_lsn: String,
    commit_ts: String,
    changes: Vec<Change>,
}

/// Groups the slot's rows (lsn, text) into committed transactions.
fn parse_stream(lines: &[(String, String)]) -> Vec<Txn> {
    let mut out = Vec::new();
    let mut cur: Option<Txn> = None;
    for (lsn, line) in lines {
        if let Some(xid) = line.strip_prefix("BEGIN ") {
            cur = Some(Txn {
                xid: xid.trim().to_string(),
                first_lsn: lsn.clone(),
                commit_ts: String::new(),
                changes: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("COMMIT ") {
            // COMMIT 1234 (at 2026-12-06 03:00:00.123456+00)
            let mut t = cur.take().expect("COMMIT without BEGIN");
            let at = rest
                .split_once("(at ")
                .and_then(|(_, ts)| ts.strip_suffix(')'))
                .unwrap_or_else(|| panic!("COMMIT line without a time: {line}"));
            t.commit_ts = at.to_string();
            out.push(t);
        } else if line.starts_with("table ") {
            if let Some(c) = parse_change(lsn, line) {
                cur.as_mut()
                    .expect("change outside a transaction")
                    .changes
                    .push(c);
            }
        }
        // Anything else (`message: ...` from pg_logical_emit_message) is not a row change.
    }
    out
}

/// A cursor over one line of test_decoding output.
struct Cur<'a> {
    s: &'a str,
    i: usize,
}

impl Cur<'_> {
    fn rest(&self) -> &str {
        &self.s[self.i..]
    }
    fn eat(&mut self, p: &str) -> bool {
        if self.rest().starts_with(p) {
            self.i += p.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) {
        assert!(
            self.eat(p),
            "expected {p:?} at {:?} in {:?}",
            self.rest(),
            self.s
        );
    }
    /// An identifier as `quote_identifier` prints it: `"..."` with `""` for a quote, or a bare
    /// word ending before one of `stops`.
    fn ident(&mut self, stops: &[char]) -> String {
        if self.eat("\"") {
            let mut out = String::new();
            loop {
                let c = self.rest().chars().next().expect("unterminated identifier");
                self.i += c.len_utf8();
                if c == '"' {
                    if self.eat("\"") {
                        out.push('"');
                    } else {
                        return out;
                    }
                } else {
                    out.push(c);
                }
            }
        }
        let end = self.rest().find(stops).unwrap_or(self.rest().len());
        let w = self.rest()[..end].to_string();
        self.i += end;
        w
    }
    /// The type between `[` and the `]` before the value's `:` (types can hold `[]` and
    /// quoted names).
    fn type_name(&mut self) -> String {
        self.expect("[");
        let start = self.i;
        let b = self.s.as_bytes();
        let mut quoted = false;
        loop {
            assert!(self.i < b.len(), "unterminated type in {:?}", self.s);
            match b[self.i] {
                b'"' => quoted = !quoted,
                b']' if !quoted && b.get(self.i + 1) == Some(&b':') => break,
                _ => {}
            }
            self.i += 1;
        }
        let ty = self.s[start..self.i].to_string();
        self.i += 2;
        ty
    }
    /// A value: `null`, `unchanged-toast-datum`, `'...'` (with `''`), `B'...'` (bit strings),
    /// or a bare token (numbers, booleans).
    fn value(&mut self) -> Val {
        let quoted = |c: &mut Self| {
            let mut out = String::new();
            loop {
                let ch = c.rest().chars().next().expect("unterminated literal");
                c.i += ch.len_utf8();
                if ch == '\'' {
                    if c.eat("'") {
                        out.push('\'');
                    } else {
                        return out;
                    }
                } else {
                    out.push(ch);
                }
            }
        };
        if self.eat("'") {
            return Val::Text(quoted(self));
        }
        if self.eat("B'") {
            return Val::Text(quoted(self));
        }
        let end = self.rest().find(' ').unwrap_or(self.rest().len());
        let tok = self.rest()[..end].to_string();
        self.i += end;
        match tok.as_str() {
            "null" => Val::Null,
            "unchanged-toast-datum" => Val::Unchanged,
            _ => Val::Text(tok),
        }
    }
    /// Columns up to the end, or up to ` new-tuple: ` (consumed) when `until_new` is set.
    fn columns(&mut self, until_new: bool) -> Vec<Col> {
        let mut cols = Vec::new();
        if self.eat("(no-tuple-data)") {
            return cols;
        }
        while !self.rest().is_empty() {
            if until_new && self.eat("new-tuple: ") {
                break;
            }
            let name = self.ident(&['[']);
            let ty = self.type_name();
            let val = self.value();
            cols.push(Col { name, ty, val });
            self.eat(" ");
        }
        cols
    }
}

/// `table public.t: INSERT: id[integer]:1 body[text]:'x'` and the UPDATE and DELETE forms;
/// `None` for what DMS does not send (TRUNCATE).
fn parse_change(lsn: &str, line: &str) -> Option<Change> {
    let mut c = Cur { s: line, i: 0 };
    c.expect("table ");
    let schema = c.ident(&['.']);
    c.expect(".");
    let table = c.ident(&[':']);
    c.expect(": ");
    let op = c.ident(&[':']);
    c.expect(":");
    c.eat(" ");
    let (op, old, new) = match op.as_str() {
        "INSERT" => (Op::Insert, None, c.columns(false)),
        "UPDATE" => {
            let old = c.eat("old-key: ").then(|| c.columns(true));
            (Op::Update, old, c.columns(false))
        }
        "DELETE" => (Op::Delete, Some(c.columns(false)), Vec::new()),
        "TRUNCATE" => return None,
        other => panic!("unknown test_decoding action {other} in {line}"),
    };
    Some(Change {
        lsn: lsn.to_string(),
        schema,
        table,
        op,
        old,
        new,
    })
}

/// An LSN `3/5A0012C8` as DMS writes it in stream-position: `00000003/5A0012C8`.
fn lsn(l: &str) -> String {
    let (hi, lo) = l.split_once('/').unwrap_or(("0", l));
    let n = |s: &str| u32::from_str_radix(s, 16).unwrap_or(0);
    format!("{:08X}/{:08X}", n(hi), n(lo))
}

// ---- the catalog ----

/// How DMS renders a column's values, from its base type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Int,
    /// `unbounded`: numeric without precision (DMS rounds it to 6 decimals).
    Numeric {
        unbounded: bool,
    },
    Float,
    Bool,
    Bytea,
    Timestamp {
        tz: bool,
    },
    Text,
}

#[derive(Debug)]
struct Column {
    name: String,
    kind: Kind,
}

#[derive(Debug)]
struct TableInfo {
    /// Live columns in attnum order.
    columns: Vec<Column>,
    /// Primary-key column names.
    key: Vec<String>,
}

fn kind_of(base: u32, typmod: i32) -> Kind {
    match base {
        20 | 21 | 23 | 26 => Kind::Int,
        1700 => Kind::Numeric {
            unbounded: typmod < 0,
        },
        700 | 701 => Kind::Float,
        16 => Kind::Bool,
        17 => Kind::Bytea,
        1114 => Kind::Timestamp { tz: false },
        1184 => Kind::Timestamp { tz: true },
        _ => Kind::Text,
    }
}

/// The kind of a type by the name test_decoding printed, for a column the catalog no longer has.
fn kind_of_name(ty: &str) -> Kind {
    match ty {
        "smallint" | "integer" | "bigint" | "oid" => Kind::Int,
        "numeric" => Kind::Numeric { unbounded: true },
        "real" | "double precision" => Kind::Float,
        "boolean" => Kind::Bool,
        "bytea" => Kind::Bytea,
        "timestamp without time zone" => Kind::Timestamp { tz: false },
        "timestamp with time zone" => Kind::Timestamp { tz: true },
        _ => Kind::Text,
    }
}

async fn table_info(client: &Client, schema: &str, table: &str) -> TableInfo {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod,
                    coalesce(a.attnum = ANY (i.indkey), false)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
             WHERE n.nspname = $1 AND c.relname = $2 ORDER BY a.attnum",
            &[&schema, &table],
        )
        .await
        .unwrap();
    let mut info = TableInfo {
        columns: Vec::new(),
        key: Vec::new(),
    };
    for r in rows {
        let name: String = r.get(0);
        let (mut ty, mut typmod): (u32, i32) = (r.get(1), r.get(2));
        // Domains (over domains): the base type, and the innermost typmod declared on the way.
        loop {
            let t = client
                .query_one(
                    "SELECT typtype::text, typbasetype, typtypmod FROM pg_type WHERE oid = $1",
                    &[&ty],
                )
                .await
                .unwrap();
            if t.get::<_, String>(0) != "d" {
                break;
            }
            if typmod < 0 {
                typmod = t.get(2);
            }
            ty = t.get(1);
        }
        if r.get::<_, bool>(3) {
            info.key.push(name.clone());
        }
        info.columns.push(Column {
            name,
            kind: kind_of(ty, typmod),
        });
    }
    info
}

// ---- rendering ----

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The old tuple cut to the primary key (BeforeImageSettings ColumnFilter `pk-only`); all of
/// it for a table without one.
fn key_only(info: &TableInfo, old: &[Col]) -> Vec<Col> {
    old.iter()
        .filter(|c| info.key.is_empty() || info.key.contains(&c.name))
        .cloned()
        .collect()
}

/// A JSON object of the columns, in their order; unchanged TOAST values left out.
fn object(info: &TableInfo, cols: &[Col]) -> String {
    let fields: Vec<String> = cols
        .iter()
        .filter(|c| c.val != Val::Unchanged)
        .map(|c| {
            let kind = info
                .columns
                .iter()
                .find(|k| k.name == c.name)
                .map(|k| k.kind)
                .unwrap_or_else(|| kind_of_name(&c.ty));
            format!("{}:{}", json_str(&c.name), render(kind, &c.val))
        })
        .collect();
    format!("{{{}}}", fields.join(","))
}

/// One value as DMS writes it (JSON text).
fn render(kind: Kind, v: &Val) -> String {
    let t = match v {
        Val::Null | Val::Unchanged => return "null".into(),
        Val::Text(t) => t.as_str(),
    };
    let special = matches!(t, "NaN" | "Infinity" | "-Infinity");
    match kind {
        Kind::Int if is_number(t) => t.to_string(),
        Kind::Numeric { unbounded } if is_number(t) && !special => {
            if unbounded {
                round6(t)
            } else {
                t.to_string()
            }
        }
        Kind::Float if is_number(t) && !special => t.to_string(),
        Kind::Bool => (if t == "true" || t == "t" {
            "true"
        } else {
            "false"
        })
        .into(),
        Kind::Bytea => match t.strip_prefix("\\x") {
            Some(hex) => json_str(&format!("0x{}", hex.to_ascii_uppercase())),
            None => json_str(t),
        },
        Kind::Timestamp { tz } => json_str(&iso_utc(t, tz).unwrap_or_else(|| t.to_string())),
        _ => json_str(t),
    }
}

/// JSON number syntax (what PostgreSQL prints for finite numbers).
fn is_number(t: &str) -> bool {
    serde_json::from_str::<serde_json::Number>(t).is_ok()
        && t.trim() == t
        && !t.starts_with('+')
        && !t.is_empty()
}

/// A numeric's text rounded half away from zero to 6 decimals, as `round(x, 6)` prints it.
fn round6(t: &str) -> String {
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut digits: Vec<u8> = int.bytes().map(|b| b - b'0').collect();
    let f: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    for k in 0..6 {
        digits.push(f.get(k).copied().unwrap_or(0));
    }
    if f.get(6).is_some_and(|&d| d >= 5) {
        let mut k = digits.len();
        loop {
            if k == 0 {
                digits.insert(0, 1);
                break;
            }
            k -= 1;
            if digits[k] == 9 {
                digits[k] = 0;
            } else {
                digits[k] += 1;
                break;
            }
        }
    }
    let s: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (i, f) = s.split_at(s.len() - 6);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let zero = i == "0" && f == "000000";
    format!("{}{i}.{f}", if neg && !zero { "-" } else { "" })
}

/// Microseconds since the epoch of PostgreSQL's ISO text `YYYY-MM-DD HH:MI:SS[.f][+HH[:MI[:SS]]]`
/// (or the same with `T` and `Z`); `None` for anything else (`infinity`, BC dates).
fn micros(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let dash = t.find('-')?;
    if dash < 4 || b.get(dash + 3) != Some(&b'-') {
        return None;
    }
    let (y, mo, d) = (
        num(0..dash)?,
        num(dash + 1..dash + 3)?,
        num(dash + 4..dash + 6)?,
    );
    let p = dash + 6;
    if !matches!(b.get(p), Some(b' ' | b'T')) || b.get(p + 3) != Some(&b':') {
        return None;
    }
    let (h, mi, s) = (num(p + 1..p + 3)?, num(p + 4..p + 6)?, num(p + 7..p + 9)?);
    let mut i = p + 9;
    let mut frac = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = t.get(start..i)?;
        if digits.is_empty() || digits.len() > 6 {
            return None;
        }
        frac = format!("{digits:0<6}").parse().ok()?;
    }
    let mut offset = 0i64;
    match b.get(i) {
        None => {}
        Some(b'Z') if i + 1 == b.len() => {}
        Some(&sign @ (b'+' | b'-')) => {
            let parts: Vec<&str> = t[i + 1..].split(':').collect();
            if parts.is_empty() || parts.len() > 3 {
                return None;
            }
            let mut secs = 0;
            for (k, part) in parts.iter().enumerate() {
                if part.len() != 2 || !part.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
                secs += part.parse::<i64>().ok()? * [3600, 60, 1][k];
            }
            offset = if sign == b'-' { -secs } else { secs };
        }
        _ => return None,
    }
    let secs = cdc_sink::model::time::days_from_civil(y, mo as u32, d as u32) * 86_400
        + h * 3600
        + mi * 60
        + s
        - offset;
    Some(secs * 1_000_000 + frac)
}

/// PostgreSQL's timestamp text as DMS writes it: UTC, `T`, `Z`, 6 fraction digits or none when
/// zero (`full`: always 6, as in DMS's metadata). `None` when it has no such form.
fn iso_utc(t: &str, full: bool) -> Option<String> {
    let us = micros(t)?;
    let (secs, frac) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let (y, m, d) = cdc_sink::model::time::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 || full {
        out.push_str(&format!(".{frac:06}"));
    }
    out.push('Z');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_test_decoding_lines() {
        let c = parse_change(
            "0/1",
            "table \"My S\".\"t \"\"x\"\"\": UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 \"a b\"[character varying]:'it''s new-tuple: x' xs[integer[]]:'{1,2}' body[text]:unchanged-toast-datum n[numeric]:null f[boolean]:true",
        )
        .unwrap();
        assert_eq!((c.schema.as_str(), c.table.as_str()), ("My S", "t \"x\""));
        assert_eq!(c.old.as_ref().unwrap().len(), 1);
        let names: Vec<&str> = c.new.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "a b", "xs", "body", "n", "f"]);
        assert_eq!(c.new[1].val, Val::Text("it's new-tuple: x".into()));
        assert_eq!(c.new[2].ty, "integer[]");
        assert_eq!(c.new[3].val, Val::Unchanged);
        assert_eq!(c.new[4].val, Val::Null);
    }

    #[test]
    fn renders_values() {
        assert_eq!(round6("3.14159265358979"), "3.141593");
        assert_eq!(round6("-0.0000001"), "0.000000");
        assert_eq!(round6("9.9999995"), "10.000000");
        assert_eq!(
            iso_utc("2025-11-03 23:59:59.999999+02", false).unwrap(),
            "2025-11-03T21:59:59.999999Z"
        );
        assert_eq!(
            iso_utc("1969-07-20 20:17:40.5", false).unwrap(),
            "1969-07-20T20:17:40.500000Z"
        );
        assert_eq!(
            iso_utc("2000-01-01 00:00:00", false).unwrap(),
            "2000-01-01T00:00:00Z"
        );
        assert_eq!(
            iso_utc("2000-01-01 05:30:00+05:30", true).unwrap(),
            "2000-01-01T00:00:00.000000Z"
        );
        assert_eq!(iso_utc("infinity", false), None);
        assert_eq!(iso_utc("0044-03-15 12:00:00 BC", false), None);
        let b = render(Kind::Bytea, &Val::Text("\\x0aff".into()));
        assert_eq!(b, "\"0x0AFF\"");
        assert_eq!(render(Kind::Float, &Val::Text("NaN".into())), "\"NaN\"");
    }
}
