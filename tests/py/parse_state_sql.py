"""Parses each state-table statement with sqlglot: the Iceberg CREATE TABLE with the athena
dialect (Hive DDL), everything else (view, MERGE, DELETE, OPTIMIZE, VACUUM) with the trino
dialect Athena's engine speaks. Statements sqlglot only keeps as an opaque command (it has no
grammar for Athena's OPTIMIZE and VACUUM) must at least name the state table.

usage: parse_state_sql.py STATEMENTS.json
"""
import json
import sys

import sqlglot
from sqlglot import exp


def main(path):
    kinds = []
    for sql in json.load(open(path)):
        body = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
        dialect = "athena" if body.startswith("CREATE TABLE") else "trino"
        tree = sqlglot.parse_one(sql, read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        if isinstance(tree, exp.Command):
            assert body.split()[0] in ("OPTIMIZE", "VACUUM") and "_state\"" in body, body
        kinds.append(type(tree).__name__)
    print(json.dumps({"parsed": len(kinds), "kinds": kinds}))


if __name__ == "__main__":
    main(sys.argv[1])
