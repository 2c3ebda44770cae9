"""Reads a cdc-sink output directory the way Athena would: one Hive-partitioned table per
source table, with DuckDB and with pyarrow. Prints a JSON report for the Rust test to check.

usage: read_lake.py DIR
"""
import json
import os
import sys

import duckdb
import pyarrow.dataset as ds


def tables(root):
    """(schema, table) folders that hold data objects (skips _control, _quarantine, _schemas)."""
    for schema in sorted(os.listdir(root)):
        if schema.startswith("_") or not os.path.isdir(os.path.join(root, schema)):
            continue
        for table in sorted(os.listdir(os.path.join(root, schema))):
            yield schema, table


def main(root):
    con = duckdb.connect()
    report = {}
    for schema, table in tables(root):
        path = os.path.join(root, schema, table)
        glob = os.path.join(path, "**", "*.parquet").replace("'", "''")
        rel = con.sql(
            f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
        )
        types = dict(zip(rel.columns, [str(t) for t in rel.types]))
        rows = con.sql(
            f"SELECT count(*), count(DISTINCT cdc_shard || cdc_seq), list(DISTINCT dt ORDER BY dt) "
            f"FROM read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
        ).fetchone()
        arrow_rows = ds.dataset(path, format="parquet", partitioning="hive").count_rows()
        report[f"{schema}.{table}"] = {
            "rows": rows[0],
            "distinct_changes": rows[1],
            "dt": rows[2],
            "types": types,
            "pyarrow_rows": arrow_rows,
        }
    json.dump(report, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
