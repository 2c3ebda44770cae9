"""What a query of `_current` reads against `_current_history`, on a generated lake (DuckDB's
profile: files and bytes read), after one full MERGE into Iceberg state tables through the test
REST catalog. Both views must return the same rows.

usage: measure_current.py LAKE_DIR DDL_SPLIT_DIR MERGE.sql WORKDIR
  (DDL_SPLIT_DIR from `cdc-sink athena ddl --split`, MERGE.sql from `cdc-sink athena merge --all`)
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import iceberg_rest  # noqa: E402
from iceberg_oracle import connect, external_view, state_columns, to_duckdb  # noqa: E402


def lake_bytes(folder, since):
    """Bytes of the table's objects in partitions from `since` on (all when None)."""
    paths = glob.glob(os.path.join(folder, "**", "*.parquet"), recursive=True)
    return sum(os.path.getsize(p) for p in paths if since is None or p.split("dt=")[1][:10] >= since)


def profiled(con, sql, path, folder, state_bytes):
    """(count and hash of the rows, files read, bytes of the files read) of one query."""
    con.execute("PRAGMA enable_profiling = 'json'")
    con.execute(f"PRAGMA profiling_output = '{path}'")
    con.execute("SET profiling_mode = 'detailed'")
    rows = con.execute(f"SELECT count(*), sum(hash(columns(*))) FROM ({sql})").fetchall()
    con.execute("PRAGMA disable_profiling")
    p = json.load(open(path))
    files = read = 0

    def walk(n):
        nonlocal files, read
        info = n.get("extra_info") or {}
        if "Total Files Read" in info:
            files += int(info["Total Files Read"])
            if info.get("Function") == "ICEBERG_SCAN":
                read += state_bytes
            else:
                f = info.get("File Filters", "")
                read += lake_bytes(folder, f.split("'")[1] if "dt >=" in f else None)
        for c in n.get("children", []):
            walk(c)

    walk(p)
    return rows[0], files, read


def main(lake, ddl_dir, merge_path, workdir):
    workdir = os.path.abspath(workdir)
    url, catalog, stop = iceberg_rest.serve(workdir)
    con = connect(url)
    db = "cdc_lake"
    con.execute(f'CREATE SCHEMA "{db}"')
    catalog.create_namespace(db)
    files = sorted(glob.glob(os.path.join(ddl_dir, "*.sql")))
    days = sorted({p.split("dt=")[1][:10] for p in glob.glob(os.path.join(lake, "*", "*", "dt=*"))})
    today = days[-1]
    tables = []
    for f in files:
        sql = open(f).read()
        body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        name = os.path.basename(f)[4:-4]
        if body.startswith("CREATE EXTERNAL TABLE"):
            schema, table = name.split("__", 1)
            external_view(con, db, name, os.path.join(lake, schema, table))
            tables.append(name)
        elif name.endswith("_state"):
            cols = ", ".join(f'"{n}" {t}' for n, t in state_columns(sql))
            con.execute(f'CREATE TABLE ice."{db}"."{name}" ({cols})')
        elif body.startswith("CREATE OR REPLACE VIEW"):
            con.execute(to_duckdb(sql, today))
    for stmt in open(merge_path).read().split(";\n"):
        if stmt.strip().startswith("MERGE"):
            con.execute(to_duckdb(stmt))
    total = {"history": [0, 0, 0], "current": [0, 0, 0]}
    for t in tables:
        folder = os.path.join(lake, *t.split("__", 1))
        state = catalog.load_table(f"{db}.{t}_state")
        state_bytes = sum(task.file.file_size_in_bytes for task in state.scan().plan_files())
        h = profiled(con, f'SELECT * FROM "{db}"."{t}_current_history"', os.path.join(workdir, "h.json"), folder, state_bytes)
        c = profiled(con, f'SELECT * FROM "{db}"."{t}_current"', os.path.join(workdir, "c.json"), folder, state_bytes)
        assert h[0] == c[0], f"{t}: _current {c[0]} differs from _current_history {h[0]}"
        for k, r in (("history", h), ("current", c)):
            total[k][0] += r[0][0]
            total[k][1] += r[1]
            total[k][2] += r[2]
    changes = con.execute(
        " UNION ALL ".join(f'SELECT count(*) AS n FROM "{db}"."{t}"' for t in tables)
    ).fetchall()
    stop()
    print(json.dumps({
        "tables": len(tables), "days": len(days), "changes": sum(n for (n,) in changes),
        "rows": total["current"][0],
        "history": {"files": total["history"][1], "bytes": total["history"][2]},
        "current": {"files": total["current"][1], "bytes": total["current"][2]},
    }))


if __name__ == "__main__":
    main(*sys.argv[1:5])
