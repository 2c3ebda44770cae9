"""A Python Lambda doing cdc-sink's job, for the cost comparison in BENCHMARKS.md.

The handler a team would write with pandas and pyarrow: decode each Kinesis record (base64,
then the DMS JSON message), add the lineage columns, group the rows by (schema, table, commit
day), and write one Parquet file (snappy) per group; control records go to a JSON Lines log.
It keeps cdc-sink's layout, but not its type rules, quarantine or registry; so it does less
work than cdc-sink, which makes the comparison kind to Python.

Run as a bench: `python handler.py EVENT.json [RUNS]` prints CPU time per event, per record
and the process's peak RSS (ru_maxrss, the interpreter and imports included, as a Lambda's
"Max Memory Used" would show).
"""

import base64
import io
import json
import resource
import sys
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

LINEAGE_NULLABLE = ("cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id",
                    "cdc_stream_position", "cdc_before")
OPS = {"load": "L", "insert": "I", "update": "U", "delete": "D"}


def handler(event, context=None):
    """Returns {key: bytes} for one Lambda Kinesis event."""
    groups = {}
    control = []
    for rec in event["Records"]:
        k = rec["kinesis"]
        msg = json.loads(base64.b64decode(k["data"]))
        md = msg.get("metadata", {})
        if md.get("record-type") == "control":
            control.append(json.dumps({"operation": md.get("operation"),
                                       "schema": md.get("schema-name"),
                                       "table": md.get("table-name"),
                                       "control": msg.get("control")}))
            continue
        commit = md.get("commit-timestamp") or md.get("timestamp") or ""
        row = dict(msg.get("data") or {})
        before = msg.get("before-image")
        row.update({
            "cdc_op": OPS.get(md.get("operation"), "?"),
            "cdc_commit_ts": commit or None,
            "cdc_dms_ts": md.get("timestamp"),
            "cdc_txn_id": md.get("transaction-id"),
            "cdc_txn_record_id": md.get("transaction-record-id"),
            "cdc_stream_position": md.get("stream-position"),
            "cdc_shard": rec.get("eventID", "").split(":")[0],
            "cdc_seq": k["sequenceNumber"].zfill(129),
            "cdc_arrival_ts": k["approximateArrivalTimestamp"],
            "cdc_before": json.dumps(before, separators=(",", ":")) if before else None,
        })
        key = (md.get("schema-name"), md.get("table-name"), commit[:10])
        groups.setdefault(key, []).append(row)
    out = {}
    for (schema, table, day), rows in groups.items():
        df = pd.DataFrame(rows)
        for c in ("cdc_commit_ts", "cdc_dms_ts"):
            df[c] = pd.to_datetime(df[c], utc=True, errors="coerce")
        df["cdc_arrival_ts"] = pd.to_datetime(df["cdc_arrival_ts"], unit="s", utc=True)
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), buf,
                       compression="snappy")
        seq = rows[0]["cdc_seq"]
        out[f"cdc/{schema}/{table}/dt={day}/{seq}.parquet"] = buf.getvalue()
    if control:
        out["cdc/_control/log.jsonl"] = ("\n".join(control) + "\n").encode()
    return out


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with open(path, "rb") as f:
        raw = f.read()
    cpu = []
    objects = 0
    for _ in range(runs + 1):
        t = time.process_time()
        # The runtime's JSON parse of the payload is part of a Python Lambda's work.
        objects = len(handler(json.loads(raw)))
        cpu.append(time.process_time() - t)
    cpu = sorted(cpu[1:])
    records = len(json.loads(raw)["Records"])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    med = cpu[len(cpu) // 2]
    print(f"python handler: {records} records, {objects} objects, CPU {med * 1e3:.1f} ms per event "
          f"({med * 1e6 / records:.1f} us per record, median of {runs}), peak RSS {peak_mb:.1f} MB "
          f"(pandas {pd.__version__}, pyarrow {pa.__version__})")


if __name__ == "__main__":
    main()
