#!/usr/bin/env bash
# Reconcile at scale (BENCHMARKS.md, "Reconcile"): a table of N rows in a scratch PostgreSQL 15,
# its DMS full load rendered by PostgreSQL itself and replayed into a lake, then
# `cdc-sink reconcile` timed with its peak memory (GNU time, where installed). Usage: tests/bench_reconcile.sh CDC_SINK N...
set -euo pipefail
BIN=$1; shift
PGBIN=${CDC_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
WORK=$(mktemp -d); chmod 777 "$WORK"
PORT=$((20000 + RANDOM % 20000))
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$PGBIN/initdb" -D "$WORK/data" -U postgres -A trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -o "-p $PORT -k $WORK -c listen_addresses=127.0.0.1" -l "$WORK/log" -w start >/dev/null
trap 'as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m fast stop >/dev/null; rm -rf "$WORK"' EXIT
PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -q -v ON_ERROR_STOP=1)
for N in "$@"; do
  "${PSQL[@]}" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS b$N" -c "CREATE DATABASE b$N"
  "${PSQL[@]}" -d "b$N" -c "CREATE TABLE bench (id int8 PRIMARY KEY, name text, amount numeric(12,2),
      at timestamptz, flag bool, doc jsonb)" \
    -c "INSERT INTO bench SELECT i, 'customer ' || i, (i % 100000) / 100.0, timestamptz '2025-01-01' + i * interval '1 second',
      i % 2 = 0, jsonb_build_object('n', i, 'tag', 't' || (i % 7)) FROM generate_series(1, $N) i" -c "ANALYZE bench"
  # The full load as DMS renders it, 5,000 records per Kinesis event.
  "${PSQL[@]}" -d "b$N" -At -c "SELECT json_build_object('data', json_build_object('id', id, 'name', name,
      'amount', amount, 'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 'flag', flag,
      'doc', doc::text), 'metadata', json_build_object('timestamp', '2025-11-03T08:15:02.104233Z',
      'record-type', 'data', 'operation', 'load', 'partition-key-type', 'schema-table',
      'schema-name', 'public', 'table-name', 'bench'))::text FROM bench ORDER BY id" > "$WORK/load.jsonl"
  mkdir -p "$WORK/events$N"
  python3 - "$WORK/load.jsonl" "$WORK/events$N" <<'PY'
import base64, json, sys
lines = open(sys.argv[1]).read().splitlines()
for n in range(0, len(lines), 5000):
    recs = []
    for i, m in enumerate(lines[n:n + 5000], start=n + 1):
        seq = "4966%052d" % i
        recs.append({"kinesis": {"partitionKey": "public.bench", "sequenceNumber": seq,
            "data": base64.b64encode(m.encode()).decode(), "approximateArrivalTimestamp": 1762157702.0},
            "eventSource": "aws:kinesis", "eventID": "shardId-000000000000:" + seq})
    json.dump({"Records": recs}, open("%s/%06d.json" % (sys.argv[2], n // 5000), "w"))
PY
  PGPASSWORD= "$BIN" schema import --source "postgres://postgres@127.0.0.1:$PORT/b$N" --out "$WORK/lake$N" >/dev/null 2>&1
  "$BIN" replay "$WORK/events$N" --out "$WORK/lake$N" --quiet >/dev/null
  du -sh "$WORK/lake$N/public" | sed "s/^/lake: /"
  TIMED=()
  if [ -x /usr/bin/time ]; then TIMED=(/usr/bin/time -f "reconcile $N rows: %e s wall, %M KB peak RSS"); fi
  "${TIMED[@]}" "$BIN" reconcile --source "postgres://postgres@127.0.0.1:$PORT/b$N" --out "$WORK/lake$N" --settle 0 --work-dir "$WORK" \
    | tail -2
  rm -rf "$WORK/events$N" "$WORK/lake$N" "$WORK/load.jsonl"
done
