"""Reads one table of a cdc-sink lake with DuckDB, as Athena would, and prints each row's values
in a canonical form the Rust test compares with PostgreSQL's: decimals as text, dates as days
since 1970-01-01, timestamps as epoch microseconds, binary as upper-case hex.

usage: canonical_rows.py TABLE_DIR '{"column": "int|decimal|double|bool|date|ts|string|binary", ...}'
"""
import json
import os
import sys

import duckdb

EXPR = {
    "int": "{c}",
    "double": "{c}",
    "bool": "{c}",
    "string": "{c}",
    "decimal": "CAST({c} AS VARCHAR)",
    "date": "date_diff('day', DATE '1970-01-01', {c})",
    "ts": "epoch_us({c})",
    "binary": "hex({c})",
}


def main(table_dir, spec):
    kinds = json.loads(spec)
    glob = os.path.join(table_dir, "**", "*.parquet").replace("'", "''")
    cols = ", ".join(EXPR[k].format(c=f'"{c}"') + f' AS "{c}"' for c, k in kinds.items())
    con = duckdb.connect()
    rel = con.sql(
        f"SELECT {cols} FROM read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true) ORDER BY id"
    )
    names = rel.columns
    rows = [dict(zip(names, r)) for r in rel.fetchall()]
    types = {
        c: str(t)
        for c, t in zip(
            con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true)").columns,
            con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false, union_by_name=true)").types,
        )
    }
    json.dump({"rows": rows, "types": types}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
