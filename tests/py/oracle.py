"""Runs the generated Athena views (`_changes`, `_current_history`) on a cdc-sink lake with
DuckDB and prints what they return (tests/py/iceberg_oracle.py runs the state-table `_current`).

The external table is emulated with read_parquet over the table's folder (in a batch lake, the
compacted table and `cdc_batches`, under the generated view `<table>`; see cross_read.py) (Hive partitions,
partition values as strings, columns by name as Athena reads Parquet); the views are the
generated Trino SQL, transpiled to DuckDB by sqlglot. Rows are printed in a canonical form
(see cdc_sink::generate::canonical) so the Rust test can compare them with the simulation.

usage: oracle.py MANIFEST.json   (written by tests/oracle.rs)
"""
import json
import sys

import duckdb
import sqlglot

from canonical import canonical
from cross_read import DuckDb, register_relations


def main(manifest_path):
    manifest = json.load(open(manifest_path))
    engine = DuckDb()
    con = engine.con
    db = manifest["database"]
    con.execute(f'CREATE SCHEMA "{db}"')
    con.execute(f'SET schema = \'{db}\'')
    out = {}
    for t in manifest["tables"]:
        register_relations(engine, "duckdb", t)
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
