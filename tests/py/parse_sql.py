"""Parses SQL with sqlglot: the DDL script's tables with the athena dialect (Hive DDL), its
views and each view of VIEWS.json with the trino dialect. Exits non-zero with the error on the first statement that does not parse.

usage: parse_sql.py SCRIPT.sql VIEWS.json
"""
import json
import sys

import sqlglot
from sqlglot.errors import ParseError


def main(script_path, views_path):
    script = open(script_path).read()
    # Statement by statement: Hive DDL (tables, database) with the athena dialect, the rest
    # (views) with trino, as Athena itself routes them.
    statements = []
    for chunk in script.split(";\n"):
        body = "\n".join(line for line in chunk.splitlines() if not line.startswith("--")).strip()
        if not body:
            continue
        dialect = "athena" if body.startswith(("CREATE EXTERNAL TABLE", "CREATE TABLE", "CREATE DATABASE")) else "trino"
        statements.append(sqlglot.parse_one(body, read=dialect, error_level=sqlglot.ErrorLevel.RAISE))
    views = json.load(open(views_path))
    for v in views:
        tree = sqlglot.parse_one(v, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
        assert tree.key == "create", f"not a CREATE VIEW: {v[:80]}"
    print(json.dumps({"statements": len(statements), "views": len(views)}))


if __name__ == "__main__":
    try:
        main(sys.argv[1], sys.argv[2])
    except ParseError as e:
        print(f"sqlglot could not parse: {e}", file=sys.stderr)
        sys.exit(1)
