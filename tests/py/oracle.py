"""Runs the generated Athena views (`_changes`, `_current_history`) on a cdc-sink lake with
DuckDB and prints what they return (tests/py/iceberg_oracle.py runs the state-table `_current`).

The external table is emulated with read_parquet over the table's folder (Hive partitions,
partition values as strings, columns by name as Athena reads Parquet); the views are the
generated Trino SQL, transpiled to DuckDB by sqlglot. Rows are printed in a canonical form
(see cdc_sink::generate::canonical) so the Rust test can compare them with the simulation.

usage: oracle.py MANIFEST.json   (written by tests/oracle.rs)
"""
import datetime
import decimal
import json
import sys

import duckdb
import sqlglot

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def micros(v):
    if isinstance(v, str):
        v = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if v.tzinfo is None:
        v = v.replace(tzinfo=datetime.timezone.utc)
    return (v - EPOCH) // datetime.timedelta(microseconds=1)


def canonical(row):
    """The generator's columns, whatever type the registry gave them (declared or inferred)."""
    price = row["price"]
    price = format(decimal.Decimal(str(price)).quantize(decimal.Decimal("0.01")), "f")
    active = row["active"]
    if isinstance(active, str):
        active = active in ("t", "true")
    return {
        "id": int(row["id"]),
        "qty": int(row["qty"]),
        "price": price,
        "name": row["name"],
        "active": bool(active),
        "updated_at": micros(row["updated_at"]),
        "note": row.get("note"),
    }


def main(manifest_path):
    manifest = json.load(open(manifest_path))
    con = duckdb.connect()
    db = manifest["database"]
    con.execute(f'CREATE SCHEMA "{db}"')
    out = {}
    for t in manifest["tables"]:
        glob = (t["path"] + "/**/*.parquet").replace("'", "''")
        con.execute(
            f'CREATE VIEW "{db}"."{t["athena_table"]}" AS SELECT * FROM read_parquet(\'{glob}\', '
            "hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
        )
        for view in (t["changes_view"], t["current_view"]):
            con.execute(sqlglot.transpile(view, read="trino", write="duckdb")[0])
        changes = con.execute(
            f'SELECT count(*), count(DISTINCT (cdc_shard, cdc_seq)) FROM "{db}"."{t["athena_table"]}_changes"'
        ).fetchone()
        cur = con.execute(f'SELECT * FROM "{db}"."{t["athena_table"]}_current_history"')
        cols = [d[0] for d in cur.description]
        rows = sorted((canonical(dict(zip(cols, r))) for r in cur.fetchall()), key=lambda r: r["id"])
        out[t["key"]] = {"changes": changes[0], "distinct_changes": changes[1], "current": rows}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
