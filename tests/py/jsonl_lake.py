"""Reads the same events' Parquet lake and JSON Lines lake with DuckDB and compares them.

For each table: the JSON Lines objects read with read_json's own type detection must type every
timestamp column TIMESTAMP and every date column DATE; read with the DDL's types (binary is
base64 text, decoded with from_base64 as the README shows) they must hold exactly the values
of the Parquet objects.

usage: jsonl_lake.py MANIFEST.json
  MANIFEST: {"tables": [{"key", "parquet", "jsonl", "columns": [[name, athena type], ...]}]}
"""
import json
import sys

import duckdb

from cross_read import norm, rows_of

DUCK = {"boolean": "BOOLEAN", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
        "date": "DATE", "timestamp": "TIMESTAMP", "string": "VARCHAR", "binary": "VARCHAR"}


def duck_type(t):
    return t.upper() if t.startswith("decimal(") else DUCK[t]


def q(s):
    return s.replace("'", "''")


def ident(s):
    return '"' + s.replace('"', '""') + '"'


def main(manifest_path):
    manifest = json.load(open(manifest_path))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    report = {"tables": 0, "rows": 0, "mismatches": [], "detected": {}}
    for t in manifest["tables"]:
        key, cols = t["key"], t["columns"]
        pq = con.execute(
            f"SELECT * FROM read_parquet('{q(t['parquet'])}/**/*.parquet', hive_partitioning=true, "
            "hive_types_autocast=false, union_by_name=true)"
        )
        pq_rows = rows_of([d[0] for d in pq.description], pq.fetchall())
        glob = q(t["jsonl"]) + "/**/*.jsonl"
        auto = con.execute(
            f"SELECT * FROM read_json('{glob}', format='newline_delimited', hive_partitioning=true, "
            "hive_types_autocast=false, union_by_name=true) LIMIT 0"
        )
        detected = {d[0]: str(d[1]) for d in auto.description}
        report["detected"][key] = detected
        for name, ty in cols:
            want = {"timestamp": "TIMESTAMP", "date": "DATE"}.get(ty)
            if want and name in detected and detected[name] != want:
                report["mismatches"].append(f"{key}: {name} ({ty}) detected as {detected[name]}")
        spec = "{" + ", ".join(f"'{q(n)}': '{duck_type(ty)}'" for n, ty in cols) + "}"
        select = ", ".join(
            f"from_base64({ident(n)}) AS {ident(n)}" if ty == "binary" else ident(n) for n, ty in cols
        )
        typed = con.execute(
            f"SELECT {select}, dt FROM read_json('{glob}', format='newline_delimited', "
            f"hive_partitioning=true, hive_types_autocast=false, columns={spec})"
        )
        js_rows = rows_of([d[0] for d in typed.description], typed.fetchall())
        # Parquet rows restricted to the same columns (a JSON object omits NULL columns).
        names = [n for n, _ in cols] + ["dt"]
        pq_rows = sorted(
            ({n: r.get(n) for n in names} for r in pq_rows), key=lambda r: json.dumps(r, sort_keys=True)
        )
        if pq_rows != js_rows:
            for a, b in zip(pq_rows, js_rows):
                if a != b:
                    diff = {n: (a.get(n), b.get(n)) for n in names if a.get(n) != b.get(n)}
                    report["mismatches"].append(f"{key}: parquet vs jsonl {diff}")
                    break
            else:
                report["mismatches"].append(f"{key}: {len(pq_rows)} parquet rows, {len(js_rows)} jsonl")
        report["tables"] += 1
        report["rows"] += len(js_rows)
    json.dump(report, sys.stdout, default=norm)


if __name__ == "__main__":
    main(sys.argv[1])
