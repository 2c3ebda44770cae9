"""Parses SQL with sqlglot: the DDL script with the athena dialect (Hive DDL), each view with
the trino dialect. Exits non-zero with the error on the first statement that does not parse.

usage: parse_sql.py SCRIPT.sql VIEWS.json
"""
import json
import sys

import sqlglot
from sqlglot.errors import ParseError


def main(script_path, views_path):
    script = open(script_path).read()
    statements = [s for s in sqlglot.parse(script, read="athena", error_level=sqlglot.ErrorLevel.RAISE) if s]
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
