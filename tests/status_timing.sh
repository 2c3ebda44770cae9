#!/usr/bin/env bash
# How long `cdc-sink status` takes on a generated lake: TABLES tables x OBJECTS objects each
# (spread over 100 daily partitions), plus a registry document per table, read from a local
# directory and from s3s-fs serving the same files. Prints one summary line ("status timing:").
# Usage: tests/status_timing.sh CDC_SINK_BINARY [TABLES] [OBJECTS_PER_TABLE]
set -euo pipefail
BIN=$1
TABLES=${2:-20}
PER=${3:-500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# A real lake to copy an object and a registry document from.
"$BIN" replay "$ROOT/test-input/kinesis_test_input.json" --out "$WORK/seed" --quiet >/dev/null
OBJ=$(find "$WORK/seed/public/orders" -name '*.parquet' | head -1)
SCHEMA_DOC="$WORK/seed/_schemas/public/orders.json"
LAKE="$WORK/s3/lake/cdc"
python3 - "$LAKE" "$OBJ" "$SCHEMA_DOC" "$TABLES" "$PER" <<'PY'
import datetime, os, shutil, sys
lake, obj, schema_doc, tables, per = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
body, doc = open(obj, "rb").read(), open(schema_doc).read()
days = [(datetime.date(2025, 1, 1) + datetime.timedelta(d)).isoformat() for d in range(100)]
os.makedirs(f"{lake}/_schemas/public", exist_ok=True)
for t in range(1, tables + 1):
    open(f"{lake}/_schemas/public/t{t}.json", "w").write(doc.replace('"table":"orders"', f'"table":"t{t}"'))
    for i in range(1, per + 1):
        d = f"{lake}/public/t{t}/dt={days[(i - 1) % 100]}"
        os.makedirs(d, exist_ok=True)
        open(f"{d}/shardId-000000000000-{i:056d}.parquet", "wb").write(body)
PY
N=$(find "$LAKE/public" -name '*.parquet' | wc -l)

time_it() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
LOCAL=$(time_it "$BIN" status --out "$LAKE")

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
timeout 600 s3s-fs --host 127.0.0.1 --port "$PORT" --access-key test --secret-key testtest "$WORK/s3" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$PORT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=testtest AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
S3=$(time_it "$BIN" status --out s3://lake/cdc)
"$BIN" status --out s3://lake/cdc --json | python3 -c "import json,sys; d=json.load(sys.stdin); n=sum(t['objects'] for t in d['tables']); assert n == $N, n"
printf 'status timing: %d tables, %d data objects: local %.2f s, s3s-fs %.2f s\n' "$TABLES" "$N" "$LOCAL" "$S3"
