"""Reads cdc-sink lakes with one engine, DuckDB or Apache Spark (pyspark, local mode), the way a
Glue ETL job or EMR would: each table's folder as one Hive-partitioned Parquet table (partition
values as strings), then the generated Athena views, transpiled from Trino SQL by sqlglot.
Prints every value in one normalised form, so the Rust test (tests/readers.rs) can compare the
engines with each other and with the generator's truth.

usage: cross_read.py MANIFEST.json duckdb|spark
  MANIFEST: {"lakes": [{"name", "tables": [{"key", "athena_table", "path", "changes_view",
             "current_view", "truth": bool}]}]}   (written by tests/readers.rs)
  A batch lake's table has, instead of "path", "relations" (the external tables, see
  register_relations) and "source_view" (the generated view `<table>` over them).
Spark runs on 127.0.0.1 with its UI off, one session for all lakes, in UTC.
"""
import datetime
import decimal
import json
import math
import os
import sys
import time

import sqlglot
from sqlglot import exp

from canonical import canonical

os.environ["TZ"] = "UTC"
time.tzset()
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def norm(v):
    """One JSON form per value, whichever engine returned it."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, decimal.Decimal):
        return "dec:" + format(v, "f")
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return "ts:%d" % ((v - EPOCH) // datetime.timedelta(microseconds=1))
    if isinstance(v, datetime.date):
        return "date:" + v.isoformat()
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "hex:" + bytes(v).hex()
    return "other:" + repr(v)


def rows_of(cols, rows):
    out = [{c: norm(v) for c, v in zip(cols, r)} for r in rows]
    out.sort(key=lambda r: json.dumps(r, sort_keys=True))
    return out


def has_parquet(path):
    return any(f.endswith(".parquet") for _, _, fs in os.walk(path) for f in fs)


def register_relations(engine, dialect, t):
    """Registers a table's relations: each external table from its folder, or, when the folder
    holds no object yet (Athena reads an empty table), as an empty relation of the DDL's types
    ("empty": a Hive SELECT ... WHERE FALSE); then the generated view `<table>` over them."""
    for rel in t.get("relations", []):
        if has_parquet(rel["path"]):
            engine.register(rel["name"], rel["path"])
        else:
            engine.view(rel["name"], sqlglot.transpile(rel["empty"], read="hive", write=dialect)[0])
    if t.get("source_view"):
        engine.view(*view_query(t["source_view"], dialect))
    else:
        engine.register(t["athena_table"], t["path"])


def view_query(view_sql, dialect):
    """(view name, SELECT in `dialect`) of a generated CREATE VIEW, database names dropped (the
    tables are registered under their bare names)."""
    tree = sqlglot.parse_one(view_sql, read="trino")
    for t in tree.find_all(exp.Table):
        t.set("db", None)
        t.set("catalog", None)
    return tree.this.name, tree.expression.sql(dialect=dialect)


class DuckDb:
    def __init__(self):
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    def register(self, name, path):
        glob = (path + "/**/*.parquet").replace("'", "''")
        self.con.execute(
            f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet(\'{glob}\', '
            "hive_partitioning=true, hive_types_autocast=false, union_by_name=true)"
        )

    def view(self, name, select):
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {select}')

    def query(self, sql):
        cur = self.con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()


class Spark:
    def __init__(self):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        from pyspark.sql import SparkSession

        self.spark = (
            SparkSession.builder.master("local[2]")
            .appName("cdc-sink-cross-read")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            # dt stays a string, as in the Athena table (Spark would infer a date).
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")
        self.dialect = "spark"

    def register(self, name, path):
        df = self.spark.read.option("mergeSchema", "true").option("basePath", path).parquet(path)
        df.createOrReplaceTempView(name)

    def view(self, name, select):
        self.spark.sql(select).createOrReplaceTempView(name)

    def query(self, sql):
        df = self.spark.sql(sql)
        return df.columns, [tuple(r) for r in df.collect()]

    def version(self):
        return self.spark.version


def main(manifest_path, engine_name):
    manifest = json.load(open(manifest_path))
    engine = Spark() if engine_name == "spark" else DuckDb()
    dialect = "spark" if engine_name == "spark" else "duckdb"
    out = {"engine": engine_name, "lakes": {}}
    if engine_name == "spark":
        out["version"] = engine.version()
    for lake in manifest["lakes"]:
        tables = {}
        for t in lake["tables"]:
            name = t["athena_table"]
            r = {}
            try:
                register_relations(engine, dialect, t)
                cols, rows = engine.query(f"SELECT * FROM {name}")
                r["rows"] = rows_of(cols, rows)
                for view in (t["changes_view"], t["current_view"]):
                    if not view.startswith("--"):
                        engine.view(*view_query(view, dialect))
                cols, rows = engine.query(f"SELECT * FROM {name}_changes")
                r["changes"] = rows_of(cols, rows)
                if not t["current_view"].startswith("--"):
                    cols, rows = engine.query(f"SELECT * FROM {name}_current_history")
                    r["current"] = rows_of(cols, rows)
                    if t.get("truth"):
                        canon = [canonical(dict(zip(cols, row))) for row in rows]
                        r["canonical_current"] = sorted(canon, key=lambda c: c["id"])
            except Exception as e:  # reported per table, so one failure does not hide the rest
                r["error"] = f"{type(e).__name__}: {str(e)[:2000]}"
            tables[t["key"]] = r
        out["lakes"][lake["name"]] = tables
    json.dump(out, sys.stdout)
    sys.stdout.flush()
    if engine_name == "spark":
        engine.spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
