#!/usr/bin/env bash
# The test command (README: "Run all tests"). On a fresh machine it installs what the tests need
# (idempotently, cached under $CDC_SINK_TOOLS, default ~/.cache/cdc-sink), starts an S3-compatible
# server on 127.0.0.1, builds once, runs every test step, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=${CDC_SINK_TOOLS:-$HOME/.cache/cdc-sink}
VENV=$TOOLS/venv
SAM_VENV=$TOOLS/sam-venv
mkdir -p "$TOOLS"
step() { printf '\n==> %s\n' "$*"; }

# 1. Python tools, reinstalled only when tests/requirements.txt changes.
want=$(sha256sum tests/requirements.txt | cut -c1-16)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$want" ]; then
  step "installing Python test tools into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$VENV/.installed"
fi
if [ "$(cat "$SAM_VENV/.installed" 2>/dev/null)" != "aws-sam-cli" ]; then
  step "installing AWS SAM CLI into $SAM_VENV"
  python3 -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install -q --disable-pip-version-check aws-sam-cli
  echo aws-sam-cli > "$SAM_VENV/.installed"
fi
# Spark 3.5 beside the main venv's Spark 4 (two pysparks cannot share a venv); both need Java.
SPARK35_VENV=$TOOLS/spark35-venv
want35=$(sha256sum tests/requirements-spark35.txt | cut -c1-16)
if [ "$(cat "$SPARK35_VENV/.installed" 2>/dev/null)" != "$want35" ]; then
  step "installing pyspark 3.5 into $SPARK35_VENV"
  python3 -m venv "$SPARK35_VENV"
  "$SPARK35_VENV/bin/pip" install -q --disable-pip-version-check -r tests/requirements-spark35.txt
  echo "$want35" > "$SPARK35_VENV/.installed"
fi
if ! java -version >/dev/null 2>&1; then
  step "installing a Java runtime for pyspark (apt-get)"
  apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
fi
export PATH="$VENV/bin:$PATH"
export CDC_TEST_PYTHON="$VENV/bin/python"
export CDC_TEST_SPARK35_PYTHON="$SPARK35_VENV/bin/python"
export SPARK_LOCAL_IP=127.0.0.1

# 2. s3s-fs, the S3-compatible server the tests use (moto 5.2.1 breaks the SDK's multipart
#    upload), from crates.io; then one instance on 127.0.0.1 for the whole run (bounded
#    lifetime), stopped on exit.
if ! s3s-fs --version 2>/dev/null | grep -q "0.14.1"; then
  step "installing s3s-fs 0.14.1 (cargo install, about 2 minutes)"
  cargo install s3s-fs@0.14.1 --features binary --locked
fi

# PostgreSQL 15 for the schema import round trip (tests/postgres.rs starts its own server on
# 127.0.0.1 as the postgres user, with a temporary data directory, and stops it). Part of the
# machine image; installed here only if missing.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ] && [ -z "${CDC_TEST_PG_URL:-}" ]; then
  step "installing PostgreSQL 15 (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 openssl >/dev/null
fi

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${S3_DATA:-}" ] && rm -rf "$S3_DATA"
}
trap cleanup EXIT
free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
S3_PORT=$(free_port)
S3_DATA=$(mktemp -d)
step "starting s3s-fs on 127.0.0.1:$S3_PORT (data in $S3_DATA)"
timeout 3600 s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key test --secret-key testtest "$S3_DATA" >"$TOOLS/s3s-fs.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null && break
  sleep 0.1
done
export CDC_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"

# Kinesis (kinesalite from npm: realistic 56-digit sequence numbers, closed parent shards after a
# split) and SQS (moto server) for recover, each on 127.0.0.1 for the whole run.
NODE_DIR=$TOOLS/node
if [ "$(node -p "require('$NODE_DIR/node_modules/kinesalite/package.json').version" 2>/dev/null)" != "3.3.3" ]; then
  step "installing kinesalite 3.3.3 into $NODE_DIR (npm)"
  mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent kinesalite@3.3.3
fi
export CDC_TEST_NODE_MODULES="$NODE_DIR/node_modules"
wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "nothing listens on $1"; return 1; }
KINESIS_PORT=$(free_port)
step "starting kinesalite on 127.0.0.1:$KINESIS_PORT and moto (SQS)"
NODE_PATH="$CDC_TEST_NODE_MODULES" timeout 3600 node tests/servers/kinesalite.js "$KINESIS_PORT" >"$TOOLS/kinesalite.log" 2>&1 &
PIDS+=($!)
SQS_PORT=$(free_port)
timeout 3600 "$VENV/bin/moto_server" -H 127.0.0.1 -p "$SQS_PORT" >"$TOOLS/moto-sqs.log" 2>&1 &
PIDS+=($!)
wait_port "$KINESIS_PORT"
wait_port "$SQS_PORT"
export CDC_TEST_KINESIS_ENDPOINT="http://127.0.0.1:$KINESIS_PORT" CDC_TEST_SQS_ENDPOINT="http://127.0.0.1:$SQS_PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=testtest AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# 3. Build once (release: the same artifacts serve the tests, the CLI and the Lambda).
step "cargo build (release, all targets)"
cargo build --release --all-targets --locked

# 4. The README's quick start, verbatim, then the tests: unit, pipeline, CLI, S3, Athena-like
#    reads, cargo-lambda.
step "README quick start"
rm -rf out
cargo run --release -- replay test-input/full_load.json test-input/kinesis_test_input.json --out out/
rm -rf out
step "README: Athena DDL from a lake with the full load"
rm -rf lake ddl
cargo run --release -- replay test-input/full_load.json test-input/kinesis_test_input.json --out lake/ 2>/dev/null
cargo run --release -- athena ddl --out lake/ --location s3://my-cdc-lake/cdc --database cdc_lake --split ddl/ > /dev/null
ls ddl/*public__orders_current.sql
cargo run --release -- athena merge --out lake/ --location s3://my-cdc-lake/cdc --since 2025-11-01 \
  --purge-tombstones-days 7 --optimize --vacuum | grep -c "^MERGE INTO"
rm -rf lake ddl
step "README: the generator"
SIM=$(mktemp -d)
cargo run --release -- generate --out "$SIM" --seed 7 --tables 3 --transactions 200 --force
cargo run --release -- replay "$SIM/events" --out "$SIM/lake" | tail -1
rm -rf "$SIM"

step "README: when Lambda gives up (recover from the queue, a file and the S3 destination; redrive)"
# The servers stand in for AWS: the stream, the failure queue and two buckets (s3s-fs buckets
# are folders). failed_batches.py discards two batches of the quick start to the queue and to
# failures.jsonl, and one batch to the S3 destination.
mkdir -p "$S3_DATA/my-cdc-lake" "$S3_DATA/my-failed-batches"
FAILED_BATCH_QUEUE_URL=$(AWS_ENDPOINT_URL_KINESIS=$CDC_TEST_KINESIS_ENDPOINT AWS_ENDPOINT_URL_SQS=$CDC_TEST_SQS_ENDPOINT \
  AWS_ENDPOINT_URL_S3=$CDC_TEST_S3_ENDPOINT "$VENV/bin/python" tests/py/failed_batches.py)
(
  export AWS_ENDPOINT_URL_KINESIS=$CDC_TEST_KINESIS_ENDPOINT AWS_ENDPOINT_URL_SQS=$CDC_TEST_SQS_ENDPOINT AWS_ENDPOINT_URL_S3=$CDC_TEST_S3_ENDPOINT
  cargo run --release -- recover --queue-url "$FAILED_BATCH_QUEUE_URL" --out s3://my-cdc-lake/cdc --dry-run | tail -1
  cargo run --release -- recover --queue-url "$FAILED_BATCH_QUEUE_URL" --out s3://my-cdc-lake/cdc
  cargo run --release -- recover --file failures.jsonl --out s3://my-cdc-lake/cdc
  cargo run --release -- recover --from s3://my-failed-batches/aws/lambda/ --out s3://my-cdc-lake/cdc
  cargo run --release -- redrive --out s3://my-cdc-lake/cdc --date 2025-11-06 --dry-run | tail -1
  cargo run --release -- redrive --out s3://my-cdc-lake/cdc
)
rm -f failures.jsonl

step "README: what _current reads against _current_history (a small lake; the README's figures come from ~1M changes)"
SIM=$(mktemp -d)
cargo run --release -- generate --out "$SIM" --seed 3 --tables 2 --transactions 3000 --records-per-event 500 > /dev/null
cargo run --release -- replay "$SIM"/events/*.json --out "$SIM/lake" > /dev/null 2>&1
cargo run --release -- athena ddl --out "$SIM/lake" --location s3://my-cdc-lake/cdc --split "$SIM/ddl" > /dev/null 2>&1
cargo run --release -- athena merge --out "$SIM/lake" --location s3://my-cdc-lake/cdc --all > "$SIM/merge.sql"
mkdir "$SIM/work"
"$VENV/bin/python" tests/py/measure_current.py "$SIM/lake" "$SIM/ddl" "$SIM/merge.sql" "$SIM/work" | sed 's/^/current vs history: /'
rm -rf "$SIM"

# The newcomer's path in the README: the installed command (reusing this build: same target
# directory, installed under $TOOLS), DuckDB in one line, many events, status, S3, schemas.
step "README: cdc-sink on the PATH, DuckDB, replaying many events, status, S3, schemas"
CARGO_TARGET_DIR="$ROOT/target" cargo install --path . --locked --root "$TOOLS/install" --quiet
export PATH="$TOOLS/install/bin:$PATH"
cdc-sink --help > /dev/null
./target/release/cdc-sink --help > /dev/null
rm -rf out /tmp/sim /tmp/sim-lake orders.json
cargo run --release -- replay test-input/kinesis_test_input.json --out out/ > /dev/null
python3 -c "import duckdb; print(duckdb.sql(\"SELECT cdc_op, count(*) AS n FROM read_parquet('out/*/*/*/*.parquet', hive_partitioning=true, union_by_name=true) GROUP BY 1 ORDER BY 1\"))"
cdc-sink generate --out /tmp/sim --seed 7 --tables 3 --transactions 200
cdc-sink replay /tmp/sim/events --out /tmp/sim-lake --quiet
cdc-sink status --out /tmp/sim-lake | head -12
cdc-sink schema show --out out/ > /dev/null
cdc-sink schema show --out out/ public.orders > /dev/null
cdc-sink schema infer test-input/full_load.json > /dev/null
echo '{"columns": [{"name": "total", "type": "decimal(12,2)", "nullable": true}], "primary_key": ["id"]}' > orders.json
cdc-sink schema set public.orders --file orders.json --out out/ > /dev/null
# The S3 example, on this script's s3s-fs (a free port instead of 9000).
mkdir -p "$S3_DATA/lake"
AWS_ENDPOINT_URL_S3=$CDC_TEST_S3_ENDPOINT cdc-sink replay test-input/full_load.json test-input/kinesis_test_input.json --out s3://lake/cdc
AWS_ENDPOINT_URL_S3=$CDC_TEST_S3_ENDPOINT cdc-sink status --out s3://lake/cdc > /dev/null
rm -rf out /tmp/sim /tmp/sim-lake orders.json

step "README: objects per batch (replay, status, compact, the cost simulator)"
rm -rf /tmp/batch-lake
cdc-sink replay test-input/full_load.json test-input/kinesis_test_input.json --objects batch --out /tmp/batch-lake --quiet
cdc-sink status --out /tmp/batch-lake | grep "^compaction:"
cdc-sink compact --help > /dev/null
cdc-sink compact --out /tmp/batch-lake --close-after 0 --dry-run
cdc-sink compact --out /tmp/batch-lake --close-after 0
cdc-sink athena ddl --out /tmp/batch-lake --location s3://my-cdc-lake/cdc | grep -c "cdc_batches"
cdc-sink cost --tables 4,500 --rates 100 --minutes 2
cdc-sink cost --tables 300 --rates 5 --window 60 --compaction-window-hours 24 --minutes 1440 --objects batch
rm -rf /tmp/batch-lake

step "reconcile at scale (BENCHMARKS.md: a short run, to keep the script working)"
bash tests/bench_reconcile.sh "$ROOT/target/release/cdc-sink" 20000 | grep -E "^(reconcile|public)"

step "status timing (README: the lake at a glance)"
bash tests/status_timing.sh "$ROOT/target/release/cdc-sink" 20 500

step "cargo test"
# Strict: a test whose tool or server is missing fails instead of printing SKIP (tests/common).
export CDC_TEST_STRICT=1
# --nocapture: the fault, simulator, corpus and oracle tests print one summary line each.
LOG="$TOOLS/cargo-test.log"
if ! cargo test --release --locked --no-fail-fast -- --test-threads 2 --nocapture >"$LOG" 2>&1; then
  grep -E "panicked|FAILED|^error" -A 12 "$LOG" | head -150
  echo "cargo test failed; full output in $LOG"
  exit 1
fi
grep -E "^(recover:|recover |redrive:|faults |oracle \(objects|simulator:|faults on|spark:|corpus:|large event:|oracle:|iceberg oracle|athena runner \(moto\):|registry:|fuzz regressions:|fuzz mutations:|silent server:|postgres types:|reconcile|shard race:|spark:|spark 3.5:|jsonl:)|^test result" "$LOG"

step "README: the benchmark harness (a short run, to keep it working)"
cargo run --release -- bench --iterations 2 | grep -E "^(many-table ratio|thread scaling|invocation against|peak RSS|cold start|compactor throughput)"
cargo run --release -- bench --hot-path-only --iterations 1 --only "4 tables, Parquet snappy" | grep "^| 6 MB"

# 5. The deployment template.
step "template: sam validate --lint, cfn-lint, checkov"
SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 "$SAM_VENV/bin/sam" validate --lint -t template.yaml
cfn-lint template.yaml
checkov -f template.yaml --compact --quiet --skip-download

step "all tests passed"
