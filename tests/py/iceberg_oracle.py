"""Runs the generated state-table statements on real Iceberg tables and checks them.

Per seed (see tests/iceberg_oracle.rs for the manifest): a fresh Iceberg REST catalog on
127.0.0.1 (tests/py/iceberg_rest.py over pyiceberg's SqlCatalog) attached to DuckDB 1.5.5 with
its iceberg extension; the external tables emulated by read_parquet over a lake snapshot (as
Athena reads them: Hive partitions as strings, columns by name, timestamps without time zone);
the state table created from the generated Athena DDL's columns; every MERGE, view and purge
transpiled from Trino to DuckDB by sqlglot. Two things differ from Athena and are rewritten on
the parsed tree: the state table lives in the attached catalog (`ice`), and `current_date` is
the simulated day.

Checks, each counted in the summary printed as JSON:
- each MERGE source has one row per key (Athena rejects a target row matched twice; DuckDB
  does not);
- after each MERGE, the state table read by pyiceberg (a second reader) equals the newest
  merged change per key in source order, computed here from the merged windows' changes;
- on the complete lake, `_current` equals the true final state row for row after every MERGE,
  with the tail covering the last day or nothing, and again after the tombstone purge;
- two MERGEs at once: one commit fails with a conflict; running it again converges.

usage: iceberg_oracle.py MANIFEST.json WORKDIR
"""
import datetime
import glob
import json
import os
import random
import sys

import duckdb
import sqlglot
from sqlglot import exp

sys.path.insert(0, os.path.dirname(__file__))
import iceberg_rest  # noqa: E402
from oracle import canonical  # noqa: E402

ORDER = ["cdc_order_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_seq", "cdc_shard"]


def extensions():
    """The extension files of the pinned duckdb-extension-* wheels (no downloads)."""
    out = []
    for name in ("avro", "httpfs", "iceberg"):
        mod = __import__(f"duckdb_extension_{name}")
        out += glob.glob(os.path.join(os.path.dirname(mod.__file__), "extensions", "v*", "*.duckdb_extension"))
    return out


def connect(url):
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for e in extensions():
        con.execute(f"LOAD '{e}'")
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"ATTACH 'warehouse' AS ice (TYPE iceberg, ENDPOINT '{url}', AUTHORIZATION_TYPE 'none')")
    return con


def to_duckdb(sql, today=None):
    """Trino to DuckDB; state tables resolved in the Iceberg catalog; current_date fixed."""
    tree = sqlglot.parse_one(sql, read="trino")

    def fix(node):
        if isinstance(node, exp.Table) and node.name.endswith("_state"):
            node.set("catalog", exp.to_identifier("ice"))
        if today is not None and isinstance(node, exp.CurrentDate):
            return exp.cast(exp.Literal.string(today), "date")
        return node

    return tree.transform(fix).sql(dialect="duckdb")


def state_columns(ddl):
    """(name, DuckDB type) of the generated Athena CREATE TABLE (Iceberg) statement."""
    tree = sqlglot.parse_one(ddl, read="athena")
    schema = tree.find(exp.Schema)
    return [(c.name, c.args["kind"].sql(dialect="duckdb")) for c in schema.expressions if isinstance(c, exp.ColumnDef)]


def external_view(con, db, table, folder):
    """The external table as Athena reads it; False when the table has no file yet."""
    pattern = os.path.join(folder, "**", "*.parquet")
    if not glob.glob(pattern, recursive=True):
        return False
    src = f"read_parquet('{pattern}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
    cols = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    casts = [f'"{c[0]}"::TIMESTAMP AS "{c[0]}"' for c in cols if c[1].startswith("TIMESTAMP WITH TIME ZONE")]
    replace = f" REPLACE ({', '.join(casts)})" if casts else ""
    con.execute(f'CREATE OR REPLACE VIEW "{db}"."{table}" AS SELECT *{replace} FROM {src}')
    return True


def register(con, db, t, stage):
    """`<table>` as Athena reads it in the lake snapshot `stage`: the external table, or in a
    batch lake (objects = batch) the generated view over the compacted table and cdc_batches
    (each an empty relation of the DDL's types while it has no file); False when no file holds
    a row of the table yet."""
    if "source_view" not in t:
        return external_view(con, db, t["athena_table"], os.path.join(stage, t["path"]))
    any_file = False
    for rel in t["relations"]:
        if external_view(con, db, rel["name"], os.path.join(stage, rel["path"])):
            any_file = True
        else:
            empty = sqlglot.transpile(rel["empty"], read="hive", write="duckdb")[0]
            con.execute(f'CREATE OR REPLACE VIEW "{db}"."{rel["name"]}" AS {empty}')
    con.execute(to_duckdb(t["source_view"]))
    return any_file


def key_of(v):
    return tuple((x is not None, x) for x in v)


def window_where(window):
    if window == "all":
        return "TRUE"
    if window.startswith("only "):
        return f"dt = '{window[5:]}'"
    return f"dt >= '{window}'"


def window_start(window, days):
    return days[0] if window == "all" else window.removeprefix("only ")


def versions(con, db, table, window):
    """The row versions of the window's changes: a second, plain implementation of the rule."""
    where = window_where(window)
    cur = con.execute(
        f'SELECT DISTINCT ON (cdc_shard, cdc_seq) *, coalesce(cdc_commit_ts, cdc_dms_ts) AS cdc_order_ts FROM "{db}"."{table}" WHERE {where}'
    )
    cols = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(cols, r))
        order = key_of([row[k] for k in ORDER])
        out.append((row["id"], order, row, row["cdc_op"] == "D"))
        before = json.loads(row["cdc_before"]) if row["cdc_before"] else {}
        if row["cdc_op"] == "U" and before.get("id") is not None and int(before["id"]) != row["id"]:
            out.append((int(before["id"]), order, None, True))
    return out


def fold(vs):
    """Newest version per key."""
    state = {}
    for k, order, row, gone in vs:
        if k not in state or order > state[k][0]:
            state[k] = (order, row, gone)
    return state


def read_state(catalog, db, name):
    """The state table through pyiceberg: key -> (deleted, canonical row or None)."""
    rows = catalog.load_table(f"{db}.{name}").scan().to_arrow().to_pylist()
    return {r["id"]: (r["cdc_deleted"], None if r["cdc_deleted"] else canonical(r)) for r in rows}


def rows_of(con, sql):
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    return sorted((canonical(dict(zip(cols, r))) for r in cur.fetchall()), key=lambda r: r["id"])


class Checker:
    def __init__(self):
        self.mismatches = []
        self.rows_compared = 0
        self.merges = 0
        self.late_merges = 0
        self.duplicate_keys = 0
        self.tombstones_purged = 0
        self.conflict_error = None

    def same(self, what, have, want):
        self.rows_compared += len(want) if isinstance(want, (list, dict)) else 1
        if have != want:
            diff = [k for k in set(have) | set(want) if have.get(k) != want.get(k)] if isinstance(want, dict) else None
            if diff is None:
                diff = [i for i, (a, b) in enumerate(zip(have, want)) if a != b][:3] or [f"len {len(have)} vs {len(want)}"]
            self.mismatches.append(f"{what}: differ at {sorted(map(str, diff))[:5]}")


def run_seed(m, workdir, ck):
    rnd = random.Random(m["seed"])
    db = m["database"]
    url, catalog, stop = iceberg_rest.serve(workdir)
    try:
        con = connect(url)
        con.execute(f'CREATE SCHEMA "{db}"')
        catalog.create_namespace(db)
        days = m["days"]
        last_day = days[-1]
        later = (datetime.date.fromisoformat(last_day) + datetime.timedelta(days=m["purge_days"])).isoformat()
        for t in m["tables"]:
            cols = ", ".join(f'"{n}" {ty}' for n, ty in state_columns(t["state_table"]))
            name = t["athena_table"] + "_state"
            con.execute(f'CREATE TABLE ice."{db}"."{name}" ({cols})')
        merged = {t["athena_table"]: [] for t in m["tables"]}

        # Two MERGEs at once into an empty state table (two runs of the schedule overlapping):
        # one commit loses; running it again (the runner's retry) converges. Then start afresh.
        if ck.conflict_error is None:
            t = m["tables"][0]
            name = t["athena_table"] + "_state"
            other = connect(url)
            for c in (con, other):
                c.execute(f'CREATE SCHEMA IF NOT EXISTS "{db}"')
                register(c, db, t, m["stages"][-1])
            sql = to_duckdb(t["merge"]["all"])
            con.execute("BEGIN")
            other.execute("BEGIN")
            con.execute(sql)
            other.execute(sql)
            con.execute("COMMIT")
            try:
                other.execute("COMMIT")
            except Exception as e:  # noqa: BLE001 - the conflict is what is checked
                ck.conflict_error = str(e)
            if ck.conflict_error is None:
                ck.mismatches.append("two concurrent MERGEs both committed")
            else:
                other.execute(sql)
                ck.merges += 2
                live = sorted((r for g, r in read_state(catalog, db, name).values() if not g), key=lambda r: r["id"])
                ck.same(f"seed {m['seed']} {name} after the retried concurrent MERGE", live, t["truth"])
            other.close()
            con.execute(f'DROP TABLE ice."{db}"."{name}"')
            cols = ", ".join(f'"{n}" {ty}' for n, ty in state_columns(t["state_table"]))
            con.execute(f'CREATE TABLE ice."{db}"."{name}" ({cols})')


        def merge(con, t, window, check_state=True):
            table = t["athena_table"]
            src = to_duckdb(t["merge_source"][window])
            total, keys = con.execute(f"SELECT count(*), count(DISTINCT id) FROM ({src})").fetchone()
            ck.duplicate_keys += total - keys
            con.execute(to_duckdb(t["merge"][window]))
            ck.merges += 1
            merged[table] += versions(con, db, table, window)
            if check_state:
                want = {k: (g, None if g else canonical(r)) for k, (_, r, g) in fold(merged[table]).items()}
                ck.same(f"seed {m['seed']} {table} state after MERGE {window}", read_state(catalog, db, table + "_state"), want)

        def current(t, view, today):
            con.execute(to_duckdb(t[view], today))
            return rows_of(con, f'SELECT * FROM "{db}"."{t["athena_table"]}_current"')

        # While changes arrive: MERGEs over random windows after each stage.
        last_start = None
        for stage in m["stages"]:
            for t in m["tables"]:
                if not register(con, db, t, stage):
                    continue
                con.execute(to_duckdb(t["changes_view"]))
                con.execute(to_duckdb(t["current_history_view"]))
                for _ in range(rnd.randint(2, 4)):
                    window = rnd.choice(list(t["merge"]))
                    start = window_start(window, days)
                    if last_start is not None and start < last_start:
                        ck.late_merges += 1
                    last_start = start
                    merge(con, t, window)
                # State plus a tail that covers the whole lake: the history view's answer.
                history = rows_of(con, f'SELECT * FROM "{db}"."{t["athena_table"]}_current_history"')
                ck.same(f"seed {m['seed']} {t['athena_table']} _current (wide tail) vs history", current(t, "current_view_wide", last_day), history)

        # The complete lake: merge it all once, then MERGEs in random order, with re-runs;
        # after each, _current (tail: the last day, or nothing) is the truth.
        for t in m["tables"]:
            merge(con, t, "all")
            for _ in range(rnd.randint(4, 7)):
                window = rnd.choice(list(t["merge"]))
                start = window_start(window, days)
                if start < last_start:
                    ck.late_merges += 1
                last_start = start
                merge(con, t, window, check_state=rnd.random() < 0.5)
                for today in (last_day, later):
                    ck.same(f"seed {m['seed']} {t['athena_table']} _current on {today}", current(t, "current_view", today), t["truth"])
            live = sorted((r for g, r in read_state(catalog, db, t["athena_table"] + "_state").values() if not g), key=lambda r: r["id"])
            ck.same(f"seed {m['seed']} {t['athena_table']} state (pyiceberg)", live, t["truth"])

        # Purge tombstones older than purge_days before `later`: those of days before the last.
        # Later MERGEs may not reach back before the cutoff; they must keep the truth.
        for t in m["tables"]:
            name = f'ice."{db}"."{t["athena_table"]}_state"'
            before = con.execute(f"SELECT count(*) FROM {name} WHERE cdc_deleted").fetchone()[0]
            con.execute(to_duckdb(t["purge"], later))
            after = con.execute(f"SELECT count(*) FROM {name} WHERE cdc_deleted").fetchone()[0]
            ck.tombstones_purged += before - after
            for _ in range(2):
                merge(con, t, rnd.choice([last_day, "only " + last_day]), check_state=False)
                ck.same(f"seed {m['seed']} {t['athena_table']} _current after purge", current(t, "current_view", last_day), t["truth"])

        con.close()
    finally:
        stop()


def main(manifest_path, workdir):
    manifest = json.load(open(manifest_path))
    ck = Checker()
    for m in manifest["seeds"]:
        d = os.path.join(workdir, f"seed{m['seed']}")
        os.makedirs(d, exist_ok=True)
        run_seed(m, d, ck)
    json.dump(
        {
            "mismatches": ck.mismatches[:20],
            "rows_compared": ck.rows_compared,
            "merges": ck.merges,
            "late_merges": ck.late_merges,
            "duplicate_keys": ck.duplicate_keys,
            "tombstones_purged": ck.tombstones_purged,
            "conflict_error": ck.conflict_error,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
