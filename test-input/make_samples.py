#!/usr/bin/env python3
"""Generate the sample Lambda Kinesis events in test-input/.

    python3 test-input/make_samples.py

Each output file is one Lambda Kinesis event ({"Records": [...]}, one shard, ascending
sequence numbers) carrying AWS DMS messages from an RDS PostgreSQL source, rendered as
described in the AWS DMS Kinesis target format (summarised in the main README). The script is deterministic (no clock, no random
module): running it again rewrites every file byte for byte.

Every record is tagged with its expected outcome when it is built:

    "L" "I" "U" "D"   a data row (load / insert / update / delete)
    "control"         a control-log entry
    "skipped"         DMS-internal table (table-name starts with "awsdms_")
    "quarantined"     unusable (bad base64, not UTF-8, not JSON, no metadata, unknown
                      record-type or operation, KPL aggregate, empty schema/table on data, NaN)

expected.json is computed from those tags, and every tag is cross-checked against an
independent reference classifier (classify() below) that decodes the emitted bytes.

Python 3.11, standard library only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from decimal import Decimal as D

HERE = os.path.dirname(os.path.abspath(__file__))

TASK_ID = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ACCOUNT = "111122223333"
REGION = "eu-west-1"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/cdc"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/cdc"

UNFORMATTED = "json-unformatted"
TABBED = "json"  # the DMS default MessageFormat

OUTCOMES = ("L", "I", "U", "D", "control", "skipped", "quarantined")
DATA_OPS = {"load": "L", "insert": "I", "update": "U", "delete": "D"}
CONTROL_OPS = {
    "create-table", "drop-table", "rename-table", "change-columns",
    "add-column", "drop-column", "rename-column", "column-type-change",
}

ABSENT = object()  # "leave this key out of the message"


# --------------------------------------------------------------------------------------
# Deterministic helpers
# --------------------------------------------------------------------------------------

def det(label: str) -> int:
    """A stable pseudo-random integer derived from a label (sha256, no random module)."""
    return int.from_bytes(hashlib.sha256(label.encode()).digest()[:8], "big")


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def at(text: str) -> dt.datetime:
    """'2025-11-03T23:59:41.208813' (UTC) -> aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def iso6(d: dt.datetime) -> str:
    """DMS metadata time: ISO 8601, always 6 fraction digits, Z."""
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_ms(d: dt.datetime) -> int:
    return (d - EPOCH) // dt.timedelta(milliseconds=1)


def lsn_text(lsn: int) -> str:
    """PostgreSQL LSN as DMS prints it: 00000003/5A0012C8."""
    return f"{lsn >> 32:08X}/{lsn & 0xFFFFFFFF:08X}"


def dms_sci(n: int) -> "Raw":
    """A bigint the way DMS prints it without UseLargeIntegerValue: a double, 17 digits."""
    return Raw(f"{float(n):.16E}")


# --------------------------------------------------------------------------------------
# JSON rendering of DMS messages
# --------------------------------------------------------------------------------------

class Raw:
    """JSON text inserted verbatim: exact numeric(p,s) text, 1.2345678901234568E+18, NaN."""

    def __init__(self, text: str):
        self.text = text


def _dumps(obj, **kw) -> str:
    raws: list[str] = []

    def sub(o):
        if isinstance(o, Raw):
            raws.append(o.text)
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(o, D):  # numeric: print the decimal text as a JSON number
            raws.append(str(o))
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(o, dict):
            return {k: sub(v) for k, v in o.items()}
        if isinstance(o, list):
            return [sub(v) for v in o]
        return o

    text = json.dumps(sub(obj), ensure_ascii=False, **kw)
    return re.sub(r'"@@RAW(\d+)@@"', lambda m: raws[int(m.group(1))], text)


def encode_message(obj: dict, fmt: str) -> bytes:
    """One DMS message as the bytes DMS puts into the Kinesis record (UTF-8)."""
    if fmt == UNFORMATTED:
        text = _dumps(obj, separators=(",", ":"))
    elif fmt == TABBED:
        # tab indentation, a tab after each colon, no trailing newline
        text = _dumps(obj, indent="\t", separators=(",", ":\t"))
    else:
        raise ValueError(fmt)
    return text.encode("utf-8")


def render_row(row: dict, bools: str, nulls: str) -> dict:
    """Apply the DMS value settings to a row of Python values.

    bools: "tf"   -> "t"/"f" strings (seen in captures), "json" -> true/false
    nulls: "omit" -> NULL and "" left out (IncludeNullAndEmpty=false), "null" -> JSON null
    """
    out = {}
    for k, v in row.items():
        if v is None or (isinstance(v, str) and v == "" and nulls == "omit"):
            if nulls == "omit":
                continue
            out[k] = None
        elif isinstance(v, bool):
            out[k] = ("t" if v else "f") if bools == "tf" else v
        else:
            out[k] = v
    return out


class Msg:
    """A DMS message object plus the format it is sent in and when DMS built it."""

    def __init__(self, obj: dict, fmt: str, built: dt.datetime):
        self.obj, self.fmt, self.built = obj, fmt, built

    @property
    def meta(self) -> dict:
        return self.obj["metadata"]

    def payload(self) -> bytes:
        return encode_message(self.obj, self.fmt)


# --------------------------------------------------------------------------------------
# Source tables (PostgreSQL) and their DMS table-def column types
# --------------------------------------------------------------------------------------

# (column, table-def type, extra table-def attributes, nullable)
TABLES = {
    ("public", "customers"): {
        "pk": ["id"],
        "columns": [
            ("id", "INT32", {}, False),            # integer
            ("email", "STRING", {}, False),        # text
            ("name", "STRING", {}, False),         # text
            ("tier", "STRING", {}, True),          # jsonb (a STRING in a real capture)
            ("active", "BOOLEAN", {}, False),      # boolean
            ("created_at", "TIMESTAMP", {}, False),  # timestamptz
        ],
    },
    ("public", "orders"): {
        "pk": ["id"],
        "columns": [
            ("id", "INT32", {}, False),
            ("customer_id", "INT32", {}, False),
            ("total", "NUMERIC", {"precision": 10, "scale": 2}, False),  # numeric(10,2)
            ("status", "STRING", {}, False),       # text
            ("placed_at", "TIMESTAMP", {}, False),  # timestamp without time zone
            ("note", "STRING", {}, True),          # text, nullable
            ("shipped_on", "DATE", {}, True),      # date
        ],
    },
    ("public", "order_items"): {
        "pk": ["order_id", "line_no"],
        "columns": [
            ("order_id", "INT32", {}, False),
            ("line_no", "INT32", {}, False),
            ("sku", "STRING", {"length": 32}, False),  # varchar(32)
            ("qty", "INT32", {}, False),
            # numeric without precision: DMS treats it as NUMERIC(28,6)
            ("price", "NUMERIC", {"precision": 28, "scale": 6}, False),
        ],
    },
    ("sales", "refunds"): {
        "pk": ["id"],
        "columns": [
            ("id", "INT64", {}, False),            # bigint
            ("order_id", "INT32", {}, False),
            ("amount", "REAL8", {}, False),        # double precision
            ("reason", "STRING", {}, True),
            ("payload", "BLOB", {}, True),         # bytea
        ],
    },
    # DMS's own table, announced at CDC start with an empty schema-name (no primary key).
    ("", "awsdms_apply_exceptions"): {
        "pk": None,
        "columns": [
            ("TASK_NAME", "STRING", {"length": 128}, False),
            ("TABLE_OWNER", "STRING", {"length": 128}, False),
            ("TABLE_NAME", "STRING", {"length": 128}, False),
            ("ERROR_TIME", "TIMESTAMP", {}, False),
            ("STATEMENT", "STRING", {}, False),
            ("ERROR", "STRING", {}, False),
        ],
    },
}


def table_def(schema: str, table: str) -> dict:
    t = TABLES[(schema, table)]
    cols = {}
    for name, typ, extra, nullable in t["columns"]:
        cols[name] = {"type": typ, **extra, "nullable": nullable}
    out = {"columns": cols}
    if t["pk"] is not None:
        out["primary-key"] = list(t["pk"])
    return out


def column_names(schema: str, table: str) -> list[str]:
    return [c[0] for c in TABLES[(schema, table)]["columns"]]


# Row constructors (Python values; render_row applies the DMS settings).

def customer(id, email, name, tier, active, created_at):
    return {"id": id, "email": email, "name": name, "tier": tier,
            "active": active, "created_at": created_at}


def order(id, customer_id, total, status, placed_at, note=None, shipped_on=None):
    return {"id": id, "customer_id": customer_id, "total": D(total), "status": status,
            "placed_at": placed_at, "note": note, "shipped_on": shipped_on}


def item(order_id, line_no, sku, qty, price):
    return {"order_id": order_id, "line_no": line_no, "sku": sku, "qty": qty, "price": D(price)}


def refund(id, order_id, amount, reason=None, payload=None):
    return {"id": id, "order_id": order_id, "amount": amount, "reason": reason, "payload": payload}


def bytea(data: bytes) -> str:
    """bytea as DMS prints it: 0x + upper-case hex."""
    return "0x" + data.hex().upper()


# --------------------------------------------------------------------------------------
# DMS task emulation: metadata, transactions, control records
# --------------------------------------------------------------------------------------

class Task:
    """One DMS replication task writing to the stream, with its endpoint settings."""

    def __init__(self, name: str, *, fmt=UNFORMATTED, bools="tf", nulls="omit",
                 tx_details=True, partition_value=True, control_details=True,
                 lsn=0x3_5A0012C8, prev=None, before_key="before-image"):
        self.name = name
        self.fmt, self.bools, self.nulls = fmt, bools, nulls
        self.tx_details = tx_details
        self.partition_value = partition_value
        self.control_details = control_details
        self.lsn = lsn
        self.prev = prev  # (transaction-id, transaction-record-id) of the last change emitted
        self.before_key = before_key
        self.last_built: dt.datetime | None = None
        self.n = 0

    def _built_after(self, t: dt.datetime, min_ms: int, spread_ms: int) -> dt.datetime:
        self.n += 1
        micros = min_ms * 1000 + det(f"{self.name}/{self.n}") % (spread_ms * 1000)
        built = t + dt.timedelta(microseconds=micros)
        if self.last_built is not None and built <= self.last_built:
            built = self.last_built + dt.timedelta(microseconds=137 + det(f"{self.name}+{self.n}") % 900)
        self.last_built = built
        return built

    def txn(self, xid, commit: str) -> "Txn":
        return Txn(self, xid, at(commit))

    # ---- full load -------------------------------------------------------------
    def load(self, schema, table, row, *, at_time: str | None = None, key=None) -> Msg:
        """A full-load row, partitioned by primary key ("public.orders.42"; composite keys
        joined with dots: "public.order_items.1001.2")."""
        built = self._built_after(at(at_time) if at_time else self.last_built, 0, 40)
        key = ".".join(str(row[c]) for c in (key or TABLES[(schema, table)]["pk"]))
        md = {"timestamp": iso6(built), "record-type": "data", "operation": "load",
              "partition-key-type": "primary-key"}
        if self.partition_value:
            md["partition-key-value"] = f"{schema}.{table}.{key}"
        md |= {"schema-name": schema, "table-name": table}
        data = render_row(row, self.bools, self.nulls)
        return Msg({"data": data, "metadata": md}, self.fmt, built)

    # ---- control records ---------------------------------------------------------
    def control(self, op, schema, table, *, at_time: str | None = None, control=ABSENT,
                fmt=None) -> Msg:
        built = self._built_after(at(at_time) if at_time else self.last_built, 0, 15)
        if control is ABSENT:
            if op == "create-table" and self.control_details:
                control = {"table-def": table_def(schema, table)}
            else:
                control = {}
        md = {"timestamp": iso6(built), "record-type": "control", "operation": op,
              "partition-key-type": "task-id"}
        if self.partition_value:
            md["partition-key-value"] = TASK_ID
        md |= {"schema-name": schema, "table-name": table}
        return Msg({"control": control, "metadata": md}, fmt or self.fmt, built)


class Txn:
    """One source transaction: numbers its changes 1..n and chains prev-transaction-*."""

    def __init__(self, task: Task, xid, commit: dt.datetime):
        self.task, self.xid, self.commit = task, xid, commit
        self.record_id = 0
        self.begin_lsn = None

    def change(self, op, schema, table, row, *, before=ABSENT, fmt=None, bools=None,
               nulls=None, meta_first=False, extra_meta=None, doc=False) -> Msg:
        task = self.task
        self.record_id += 1
        task.lsn += 0x48 + det(f"lsn/{task.name}/{self.xid}/{self.record_id}") % 0x300
        if self.begin_lsn is None:
            self.begin_lsn = task.lsn
        built = task._built_after(self.commit, 90, 600)

        md = {"timestamp": iso6(built), "record-type": "data", "operation": op,
              "partition-key-type": "schema-table",
              "schema-name": schema, "table-name": table,
              "transaction-id": self.xid}
        if task.tx_details:
            md["commit-timestamp"] = iso6(self.commit)
            md["stream-position"] = f"{lsn_text(task.lsn)}.2.{lsn_text(self.begin_lsn)}"
            md["transaction-record-id"] = self.record_id
            if task.prev is not None:
                md["prev-transaction-id"] = task.prev[0]
                md["prev-transaction-record-id"] = task.prev[1]
        task.prev = (int(self.xid), self.record_id)
        if extra_meta:
            md |= extra_meta

        data = render_row(row, bools or task.bools, nulls or task.nulls)
        if doc:  # object mapping map-record-to-document
            data = {"_doc": data}
        obj = {}
        if meta_first:
            obj["metadata"] = md
        obj["data"] = data
        if before is not ABSENT:
            obj[task.before_key] = before
        if not meta_first:
            obj["metadata"] = md
        return Msg(obj, fmt or task.fmt, built)

    def insert(self, schema, table, row, **kw) -> Msg:
        return self.change("insert", schema, table, row, **kw)

    def update(self, schema, table, row, **kw) -> Msg:
        return self.change("update", schema, table, row, **kw)

    def delete(self, schema, table, key: dict, **kw) -> Msg:
        """Default replica identity: only the key columns carry values; with
        IncludeNullAndEmpty the other columns come as null."""
        row = {c: key.get(c) for c in column_names(schema, table)}
        return self.change("delete", schema, table, row, **kw)


# --------------------------------------------------------------------------------------
# The Lambda event
# --------------------------------------------------------------------------------------

class Batch:
    """One Lambda Kinesis event: records of one shard, ascending sequence numbers."""

    def __init__(self, filename: str, shard_no: int, purpose: str):
        self.filename = filename
        self.shard_id = f"shardId-{shard_no:012d}"
        self.purpose = purpose
        self.records: list[dict] = []
        self.expect: list[str] = []
        # 56-digit sequence numbers: a per-shard 29-digit prefix, then a rising 27-digit part.
        digits = str(det(f"prefix/{self.shard_id}")) + str(det(f"prefix2/{self.shard_id}"))
        self.seq_prefix = "4966" + digits[:25]
        self.seq_low = 10**26 + det(f"low/{self.shard_id}") * 10**7
        self.last_arrival_ms = None

    def _next_seq(self) -> str:
        i = len(self.records)
        self.seq_low += (3 + det(f"{self.filename}/{i}") % 97) * 10**20 + det(f"{self.filename}#{i}") % 10**19
        seq = self.seq_prefix + str(self.seq_low)
        assert len(seq) == 56, seq
        return seq

    def add(self, expect: str, msg: Msg | None = None, *, payload: bytes | None = None,
            b64: str | None = None, pk: str | None = None, kms=False,
            built: dt.datetime | None = None):
        """Append one Kinesis record. expect is its expected outcome (see OUTCOMES).
        Give msg (a DMS message), or raw payload bytes, or b64 text taken verbatim;
        built is when the producer made a raw payload (for the arrival time)."""
        assert expect in OUTCOMES, expect
        if msg is not None:
            payload = msg.payload()
        if b64 is None:
            b64 = base64.b64encode(payload).decode("ascii")
        if pk is None:
            pk = partition_key_of(msg)

        # Arrival: after DMS built the message (40-900 ms later), never before the previous one.
        if msg is not None:
            built = msg.built
        if built is not None:
            arrival = epoch_ms(built) + 40 + det(f"arr/{self.filename}/{len(self.records)}") % 860
        else:
            arrival = 0
        if self.last_arrival_ms is not None:
            arrival = max(arrival, self.last_arrival_ms + 3 + det(f"gap/{self.filename}/{len(self.records)}") % 40)
        self.last_arrival_ms = arrival

        seq = self._next_seq()
        kinesis = {"kinesisSchemaVersion": "1.0", "partitionKey": pk, "sequenceNumber": seq,
                   "data": b64, "approximateArrivalTimestamp": arrival / 1000}
        if kms:
            kinesis["encryptionType"] = "KMS"
        self.records.append({
            "kinesis": kinesis,
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{self.shard_id}:{seq}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": ROLE_ARN,
            "awsRegion": REGION,
            "eventSourceARN": STREAM_ARN,
        })
        self.expect.append(expect)

    def counts(self) -> dict:
        rows = {k: self.expect.count(k) for k in ("L", "I", "U", "D")}
        out = {"records": len(self.records), "rows": rows,
               "control": self.expect.count("control"),
               "skipped": self.expect.count("skipped"),
               "quarantined": self.expect.count("quarantined")}
        assert out["records"] == sum(rows.values()) + out["control"] + out["skipped"] + out["quarantined"]
        return out

    def event_json(self) -> str:
        return json.dumps({"Records": self.records}, indent=2) + "\n"


def partition_key_of(msg: Msg) -> str:
    """The Kinesis partition key DMS uses for a message."""
    md = msg.meta
    if md["partition-key-type"] == "schema-table":
        return f"{md['schema-name']}.{md['table-name']}"
    if md["partition-key-type"] == "task-id":
        return TASK_ID
    return md["partition-key-value"]


# --------------------------------------------------------------------------------------
# Reference classifier: an independent check of every tag, from the emitted bytes
# --------------------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"invalid JSON constant {name}")


def classify(record: dict) -> str:
    try:
        raw = base64.b64decode(record["kinesis"]["data"], validate=True)
    except (ValueError, TypeError):
        return "quarantined"
    if raw[:4] == b"\xF3\x89\x9A\xC2":
        return "quarantined"  # KPL aggregate
    try:
        msg = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        return "quarantined"
    if not isinstance(msg, dict) or not isinstance(msg.get("metadata"), dict):
        return "quarantined"
    md = msg["metadata"]
    rtype, op = md.get("record-type"), md.get("operation")
    schema, table = md.get("schema-name"), md.get("table-name")
    if not isinstance(schema, str) or not isinstance(table, str):
        return "quarantined"
    if rtype == "data":
        if op not in DATA_OPS:
            return "quarantined"
        if table.startswith("awsdms_"):
            return "skipped"
        if not schema or not table or not isinstance(msg.get("data"), dict):
            return "quarantined"
        return DATA_OPS[op]
    if rtype == "control":
        if op not in CONTROL_OPS:
            return "quarantined"
        if table.startswith("awsdms_"):
            return "skipped"
        return "control"
    return "quarantined"


# ======================================================================================
# 1. kinesis_test_input.json: the quick start
# ======================================================================================

def make_kinesis_test_input() -> Batch:
    b = Batch("kinesis_test_input.json", 0,
              "Quick start: CDC inserts/updates/delete over three tables around midnight "
              "(two dt= days), json-unformatted, transaction details, one 4-row transaction.")
    # Recommended-ish task, but IncludeNullAndEmpty off; this is the task's first change,
    # so the first record has no prev-transaction-* fields.
    task = Task("quickstart", fmt=UNFORMATTED, bools="tf", nulls="omit", prev=None)

    t = task.txn(48213377, "2025-11-03T23:59:41.208813")
    b.add("I", t.insert("public", "customers", customer(
        9, "chloe.martin@example.fr", "Chloé Martin", '{"tier": "bronze", "since": 2025}',
        True, "2025-11-03T23:59:41.196022Z")))

    # One transaction, four rows: transaction-record-id 1..4, same transaction-id.
    t = task.txn(48213380, "2025-11-03T23:59:52.630190")
    b.add("I", t.insert("public", "orders", order(
        1042, 9, "57.84", "pending", "2025-11-03T23:59:52.611402Z")))  # note, shipped_on NULL: absent
    b.add("I", t.insert("public", "order_items", item(1042, 1, "TEA-EARLGREY-250G", 2, "8.95")))
    b.add("I", t.insert("public", "order_items", item(1042, 2, "MUG-STONEWARE-BLUE", 1, "14.5")))
    b.add("I", t.insert("public", "order_items", item(1042, 3, "HONEY-RAW-500G", 3, "8.48")))

    # Update, key unchanged: before-image {}.
    t = task.txn(48213391, "2025-11-03T23:59:58.004117")
    b.add("U", t.update("public", "orders", order(
        1042, 9, "57.84", "paid", "2025-11-03T23:59:52.611402Z"), before={}))

    # --- after midnight UTC: 2025-11-04 ---
    # Update without any before-image key.
    t = task.txn(48213402, "2025-11-04T00:00:03.771960")
    b.add("U", t.update("public", "customers", customer(
        9, "chloe.martin@example.fr", "Chloé Martin", '{"tier": "silver", "since": 2025}',
        True, "2025-11-03T23:59:41.196022Z")))

    t = task.txn(48213415, "2025-11-04T00:00:09.150388")
    b.add("I", t.insert("public", "orders", order(
        1043, 2, "129.00", "pending", "2025-11-04T00:00:09Z", note="Gift wrap, please")))

    # Delete: only the primary-key columns.
    t = task.txn(48213420, "2025-11-04T00:00:11.902655")
    b.add("D", t.delete("public", "order_items", {"order_id": 1042, "line_no": 3}))

    t = task.txn(48213431, "2025-11-04T00:00:15.330571")
    b.add("U", t.update("public", "orders", order(
        1042, 9, "32.40", "paid", "2025-11-03T23:59:52.611402Z",
        note="Honey out of stock, line removed"), before={}))
    return b


# ======================================================================================
# 2. full_load.json
# ======================================================================================

def make_full_load() -> Batch:
    b = Batch("full_load.json", 1,
              "Full load: drop-table + create-table (table-def) per table, then load rows; "
              "awsdms_* records to skip; tab-indented json format, NULLs as null.")
    # IncludeControlDetails + IncludePartitionValue + PartitionIncludeSchemaTable +
    # IncludeNullAndEmpty, default MessageFormat (tabbed json), JSON booleans.
    task = Task("fullload", fmt=TABBED, bools="json", nulls="null")

    def ctl_pk(schema, table):
        # A real capture shows control records keyed "<task-id>.<schema>.<table>" when
        # PartitionIncludeSchemaTable is on (partition-key-value stays the task id).
        return f"{TASK_ID}.{schema}.{table}" if schema else TASK_ID

    def prepare(schema, table, when):
        b.add("control", task.control("drop-table", schema, table, at_time=when),
              pk=ctl_pk(schema, table))
        b.add("control", task.control("create-table", schema, table), pk=ctl_pk(schema, table))

    prepare("public", "customers", "2025-11-03T08:15:02.104233")
    for row in (
        customer(1, "ana.silva@example.com", "Ana Silva", '{"tier": "gold", "since": 2021}',
                 True, "2024-03-14T09:21:44.318204Z"),
        customer(3, "mei.lin@example.net", "Mei Lin", '{"tier": "bronze", "referral": "SPRING25"}',
                 False, "2024-09-30T22:47:13.506118Z"),
        customer(4, "lukas.brandt@example.de", "Lukas Brandt", None, True, "2025-01-07T08:00:00Z"),
    ):
        b.add("L", task.load("public", "customers", row))

    prepare("public", "orders", "2025-11-03T08:15:03.771002")
    for row in (
        order(1001, 1, "42.50", "paid", "2025-10-28T14:02:19.734418Z", shipped_on=None),
        order(1002, 3, "19.99", "shipped", "2025-10-30T09:45:00Z",
              note="Ring the bell twice", shipped_on="2025-10-31"),
        order(1003, 4, "230.00", "pending", "2025-11-02T21:13:57.002391Z"),
    ):
        b.add("L", task.load("public", "orders", row))

    prepare("public", "order_items", "2025-11-03T08:15:04.205917")
    for row in (
        item(1001, 1, "COFFEE-ETHIOPIA-1KG", 1, "34.00"),
        item(1001, 2, "FILTER-PAPER-100", 2, "4.25"),
        item(1002, 1, "TEA-SENCHA-100G", 1, "19.99"),
    ):
        b.add("L", task.load("public", "order_items", row))

    prepare("sales", "refunds", "2025-11-03T08:15:04.918340")
    for row in (
        refund(5000000001, 1002, 19.99, "Damaged in transit",
               bytea(b'{"rma":"RMA-20251101-0007"}')),
        refund(5000000002, 1001, 8.5, None, None),
    ):
        b.add("L", task.load("sales", "refunds", row))

    # SKIP: a load row of DMS's DDL-capture table (the selection rule public.% caught it).
    ddl_audit = {"c_key": 1, "c_time": "2025-10-20T13:02:45.118802Z", "c_user": "app_owner",
                 "c_txn": "48100122", "c_tag": "ALTER TABLE", "c_oid": 16422,
                 "c_name": "orders", "c_schema": "public",
                 "c_ddlqry": "ALTER TABLE public.orders ADD COLUMN shipped_on date"}
    b.add("skipped", task.load("public", "awsdms_ddl_audit", ddl_audit, key=["c_key"],
                               at_time="2025-11-03T08:15:05.330118"))
    # SKIP: at CDC start DMS announces its own table, with an empty schema-name.
    b.add("skipped", task.control("create-table", "", "awsdms_apply_exceptions",
                                  at_time="2025-11-03T08:15:07.046251"))
    return b


# ======================================================================================
# 3. cdc_before_image.json
# ======================================================================================

def make_cdc_before_image() -> Batch:
    b = Batch("cdc_before_image.json", 2,
              "Updates with before-image: {} (key unchanged), old key columns only "
              "(key changed, incl. composite key), the id 7 -> 8 key change, and none at all.")
    # BeforeImageSettings {"EnableBeforeImage": true, "FieldName": "before-image",
    # "ColumnFilter": "pk-only"}; IncludeNullAndEmpty on.
    task = Task("beforeimage", fmt=UNFORMATTED, bools="tf", nulls="null",
                lsn=0x3_6B10A470, prev=(48229987, 1))

    t = task.txn(48230011, "2025-11-04T09:12:03.441902")
    b.add("U", t.update("public", "orders", order(
        1001, 1, "42.50", "shipped", "2025-10-28T14:02:19.734418Z", shipped_on="2025-11-04"),
        before={}))

    # Two updates in one transaction on a composite-key table.
    t = task.txn(48230019, "2025-11-04T09:12:17.085530")
    b.add("U", t.update("public", "order_items", item(1002, 1, "TEA-SENCHA-100G", 3, "19.99"),
                        before={}))
    # Key change (line_no 2 -> 3): before-image holds only the old key columns.
    b.add("U", t.update("public", "order_items", item(1002, 3, "TEA-INFUSER-STEEL", 1, "6.5"),
                        before={"order_id": 1002, "line_no": 2}))

    # PRIMARY-KEY CHANGE: customer renumbered 7 -> 8.
    t = task.txn(48230027, "2025-11-04T09:13:40.662014")
    b.add("U", t.update("public", "customers", customer(
        8, "olafur@example.is", "Ólafur Jónsson", '{"tier": "bronze"}', True,
        "2025-05-19T11:30:08.447120Z"), before={"id": 7}))

    # Old key columns present but the key did NOT change (table has REPLICA IDENTITY FULL,
    # pk-only filter keeps just the key): must not be read as a key change.
    t = task.txn(48230035, "2025-11-04T09:14:02.319876")
    b.add("U", t.update("sales", "refunds", refund(
        5000000001, 1002, 21.49, "Damaged in transit; shipping refunded too",
        bytea(b'{"rma":"RMA-20251101-0007"}')), before={"id": 5000000001}))

    # Updates with no before-image key at all.
    t = task.txn(48230040, "2025-11-04T09:15:26.000418")
    b.add("U", t.update("public", "orders", order(
        1003, 4, "230.00", "pending", "2025-11-02T21:13:57.002391Z",
        note="Customer asked to hold until Friday")))
    t = task.txn(48230052, "2025-11-04T09:16:11.870223")
    b.add("U", t.update("public", "customers", customer(
        3, "mei.lin@example.net", "Mei Lin", '{"tier": "bronze", "referral": "SPRING25"}',
        True, "2024-09-30T22:47:13.506118Z")))

    # Insert and update of the same row in one transaction.
    t = task.txn(48230060, "2025-11-04T09:17:45.129950")
    b.add("I", t.insert("public", "orders", order(
        1044, 5, "88.20", "pending", "2025-11-04T09:17:45.101337Z")))
    b.add("U", t.update("public", "orders", order(
        1044, 5, "88.20", "paid", "2025-11-04T09:17:45.101337Z"), before={}))
    return b


# ======================================================================================
# 4. deletes_pk_only.json
# ======================================================================================

def make_deletes_pk_only() -> Batch:
    b = Batch("deletes_pk_only.json", 3,
              "Deletes carrying only the primary-key columns (incl. a composite key), "
              "and one delete with the other columns as null (IncludeNullAndEmpty).")
    task = Task("deletes", fmt=UNFORMATTED, bools="tf", nulls="omit",
                lsn=0x3_7C4402B0, prev=(48240088, 2))

    t = task.txn(48240101, "2025-11-04T14:03:10.557702")
    b.add("I", t.insert("public", "orders", order(
        1050, 5, "64.00", "pending", "2025-11-04T14:03:10.540118Z", note="Call before delivery")))
    t = task.txn(48240107, "2025-11-04T14:03:55.208446")
    b.add("D", t.delete("public", "orders", {"id": 1050}))

    t = task.txn(48240115, "2025-11-04T14:05:02.913004")
    b.add("D", t.delete("public", "customers", {"id": 4}))

    # One transaction: the lines (composite key) then the order.
    t = task.txn(48240122, "2025-11-04T14:06:31.447210")
    b.add("D", t.delete("public", "order_items", {"order_id": 1003, "line_no": 1}))
    b.add("D", t.delete("public", "order_items", {"order_id": 1003, "line_no": 2}))
    b.add("D", t.delete("public", "orders", {"id": 1003}))

    t = task.txn(48240130, "2025-11-04T14:08:00.000101")
    b.add("D", t.delete("sales", "refunds", {"id": 5000000002}))

    # IncludeNullAndEmpty style: every non-key column present as null.
    t = task.txn(48240144, "2025-11-04T14:09:12.660954")
    b.add("D", t.delete("public", "orders", {"id": 1004}, nulls="null"))
    return b


# ======================================================================================
# 5. nulls_omitted.json
# ======================================================================================

def make_nulls_omitted() -> Batch:
    b = Batch("nulls_omitted.json", 4,
              "One table (public.orders): nullable columns absent, JSON null, empty string "
              "and present; note and shipped_on absent in the first record, present later.")
    task = Task("nulls", fmt=UNFORMATTED, bools="tf", nulls="omit",
                lsn=0x3_8A00F0C0, prev=(48244410, 1))

    # note and shipped_on NULL -> absent (IncludeNullAndEmpty=false). First record.
    t = task.txn(48244421, "2025-11-04T16:40:02.118305")
    b.add("I", t.insert("public", "orders", order(
        1060, 6, "18.75", "pending", "2025-11-04T16:40:02.100954Z")))
    # NULLs as JSON null.
    t = task.txn(48244426, "2025-11-04T16:40:19.442871")
    b.add("I", t.insert("public", "orders", order(
        1061, 2, "240.00", "pending", "2025-11-04T16:40:19.430007Z"), nulls="null"))
    # note present (first time), shipped_on absent.
    t = task.txn(48244430, "2025-11-04T16:40:44.901266")
    b.add("I", t.insert("public", "orders", order(
        1062, 10, "75.10", "paid", "2025-11-04T16:40:44.887412Z",
        note="Leave with the neighbour at no. 14")))
    # Empty string (only visible with IncludeNullAndEmpty), shipped_on null.
    t = task.txn(48244437, "2025-11-04T16:41:03.250097")
    b.add("U", t.update("public", "orders", order(
        1061, 2, "240.00", "paid", "2025-11-04T16:40:19.430007Z", note=""), nulls="null"))
    # shipped_on present with a value for the first time; note absent.
    t = task.txn(48244441, "2025-11-04T16:41:20.006632")
    b.add("U", t.update("public", "orders", order(
        1060, 6, "18.75", "shipped", "2025-11-04T16:40:02.100954Z", shipped_on="2025-11-05")))
    # note cleared to null, shipped_on present.
    t = task.txn(48244448, "2025-11-04T16:41:27.773519")
    b.add("U", t.update("public", "orders", order(
        1062, 10, "75.10", "shipped", "2025-11-04T16:40:44.887412Z",
        note=None, shipped_on="2025-11-05"), nulls="null"))
    # Zero-fraction timestamp; non-ASCII text; nulls absent again.
    t = task.txn(48244452, "2025-11-04T16:41:40.318842")
    b.add("I", t.insert("public", "orders", order(
        1063, 1, "9.99", "pending", "2025-11-04T16:41:40Z",
        note="Second attempt – card declined earlier")))
    return b


# ======================================================================================
# 6. formats_mixed.json
# ======================================================================================

def make_formats_mixed() -> Batch:
    b = Batch("formats_mixed.json", 5,
              "Tab-indented json and json-unformatted in one batch, unknown metadata keys, "
              "metadata-first key order, boolean spellings, KMS records, and a "
              "map-record-to-document row under data._doc.")
    task = Task("formats", fmt=TABBED, bools="tf", nulls="omit",
                lsn=0x3_9D2200A8, prev=(48261902, 3))

    t = task.txn(48261915, "2025-11-05T10:20:11.048117")
    b.add("I", t.insert("public", "customers", customer(
        12, "noah.kim@example.com", "Noah Kim", '{"tier": "gold", "perks": ["free-shipping"]}',
        True, "2025-11-05T10:20:11.031298Z")))                    # tabbed, "t"
    t = task.txn(48261920, "2025-11-05T10:20:24.660370")
    b.add("I", t.insert("public", "customers", customer(
        13, "d.mwangi@example.co.ke", "David Mwangi", '{"tier": "silver"}', True,
        "2025-11-05T10:20:24.652801Z"), fmt=UNFORMATTED, bools="json", meta_first=True))
    t = task.txn(48261926, "2025-11-05T10:20:30.250000")
    b.add("U", t.update("public", "customers", customer(
        12, "noah.kim@example.com", "Noah Kim", '{"tier": "platinum", "perks": ["free-shipping"]}',
        True, "2025-11-05T10:20:11.031298Z"), before={},
        extra_meta={"foo-bar": 1}))                               # unknown key: ignore
    # placed_at with a 2-digit fraction; unknown metadata keys; KMS-encrypted record.
    t = task.txn(48261931, "2025-11-05T10:20:30.252114")
    b.add("I", t.insert("public", "orders", order(
        1070, 12, "310.45", "pending", "2025-11-05T10:20:30.25Z"),
        fmt=UNFORMATTED, extra_meta={"dms-version": "3.6.1", "x-trace": {"hops": [1, 2]}}),
        kms=True)
    # Object mapping map-record-to-document: the row is nested under data._doc.
    t = task.txn(48261940, "2025-11-05T10:21:02.914455")
    b.add("I", t.insert("public", "customers", customer(
        14, "amara.okeke@example.ng", "Amara Okeke", None, True, "2025-11-05T10:21:02.900127Z"),
        fmt=UNFORMATTED, doc=True))
    t = task.txn(48261947, "2025-11-05T10:21:15.377980")
    b.add("U", t.update("public", "orders", order(
        1070, 12, "310.45", "paid", "2025-11-05T10:20:30.25Z"), before={}, meta_first=True),
        kms=True)
    t = task.txn(48261953, "2025-11-05T10:21:39.601233")
    b.add("I", t.insert("sales", "refunds", refund(
        5000000011, 1070, 12.5, "Price match", bytea(b"\x80\x05}\x94."))))
    # Boolean as the string "false" (the documented spelling, as a string).
    t = task.txn(48261960, "2025-11-05T10:22:08.118504")
    b.add("U", t.update("public", "customers", customer(
        13, "d.mwangi@example.co.ke", "David Mwangi", '{"tier": "silver"}', "false",
        "2025-11-05T10:20:24.652801Z"), fmt=UNFORMATTED, bools="json"))
    t = task.txn(48261968, "2025-11-05T10:22:31.045776")
    b.add("D", t.delete("public", "orders", {"id": 1070},
                        extra_meta={"foo-bar": {"nested": [1, 2]}}))  # unknown key: ignore
    return b


# ======================================================================================
# 7. multi_table.json
# ======================================================================================

def make_multi_table() -> Batch:
    b = Batch("multi_table.json", 6,
              "One batch over four tables in two schemas (public, sales), commit times on "
              "2025-11-05 and 2025-11-06, inserts/updates/deletes interleaved.")
    task = Task("multi", fmt=UNFORMATTED, bools="json", nulls="null",
                lsn=0x3_B0E41D28, prev=(48279950, 2))
    P, S = "public", "sales"
    placed = "2025-11-05T23:58:40.512233Z"

    t = task.txn(48280001, "2025-11-05T23:58:12.406551")
    b.add("I", t.insert(P, "customers", customer(
        20, "tomas.novak@example.cz", "Tomáš Novák", '{"tier": "bronze"}', True,
        "2025-11-05T23:58:12.391874Z")))
    t = task.txn(48280009, "2025-11-05T23:58:40.530016")
    b.add("I", t.insert(P, "orders", order(1100, 20, "61.40", "pending", placed)))
    b.add("I", t.insert(P, "order_items", item(1100, 1, "COFFEE-COLOMBIA-500G", 2, "18.7")))
    b.add("I", t.insert(P, "order_items", item(1100, 2, "GRINDER-HAND-CERAMIC", 1, "24.00")))
    t = task.txn(48280016, "2025-11-05T23:59:05.118442")
    b.add("I", t.insert(S, "refunds", refund(
        5000000010, 1090, 23.0, "Wrong size", bytea(b"\x00\x01\xfe\xffRMA"))))
    t = task.txn(48280020, "2025-11-05T23:59:31.884106")
    b.add("U", t.update(P, "orders", order(
        1090, 11, "23.00", "refunded", "2025-11-01T12:00:00Z", shipped_on="2025-11-02"),
        before={}))
    t = task.txn(48280027, "2025-11-05T23:59:58.962300")
    b.add("U", t.update(P, "orders", order(1100, 20, "61.40", "paid", placed), before={}))
    b.add("U", t.update(P, "customers", customer(
        20, "tomas.novak@example.cz", "Tomáš Novák", '{"tier": "silver"}', True,
        "2025-11-05T23:58:12.391874Z"), before={}))
    # --- 2025-11-06 ---
    t = task.txn(48280033, "2025-11-06T00:00:02.075519")
    b.add("D", t.delete(P, "order_items", {"order_id": 1095, "line_no": 1}))
    b.add("D", t.delete(P, "order_items", {"order_id": 1095, "line_no": 2}))
    b.add("U", t.update(P, "orders", order(
        1095, 6, "0.00", "cancelled", "2025-11-04T18:22:09.660112Z",
        note="Customer cancelled by phone"), before={}))
    t = task.txn(48280040, "2025-11-06T00:00:27.341908")
    b.add("U", t.update(S, "refunds", refund(
        5000000010, 1090, 23.0, "Wrong size (exchanged)", bytea(b"\x00\x01\xfe\xffRMA")),
        before={}))
    t = task.txn(48280046, "2025-11-06T00:00:49.770263")
    b.add("I", t.insert(P, "order_items", item(1100, 3, "BEANS-DECAF-250G", 1, "17.9")))
    b.add("U", t.update(P, "orders", order(1100, 20, "79.30", "paid", placed), before={}))
    t = task.txn(48280052, "2025-11-06T00:01:10.204117")
    b.add("D", t.delete(P, "customers", {"id": 15}))   # other columns null (IncludeNullAndEmpty)
    t = task.txn(48280059, "2025-11-06T00:01:33.918825")
    b.add("U", t.update(P, "orders", order(
        1100, 20, "79.30", "shipped", placed, shipped_on="2025-11-06"), before={}))
    return b


# ======================================================================================
# 8. malformed_mixed.json
# ======================================================================================

def kpl_aggregate(partition_key: str, blobs: list[bytes]) -> bytes:
    """A KPL aggregated record: magic F3 89 9A C2, an AggregatedRecord protobuf, its MD5."""
    def varint(n):
        out = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    def field(num, wire, body):
        head = varint(num << 3 | wire)
        return head + (varint(len(body)) + body if wire == 2 else body)

    pb = field(1, 2, partition_key.encode())                      # partition_key_table
    for blob in blobs:
        rec = field(1, 0, varint(0)) + field(3, 2, blob)          # Record{index 0, data}
        pb += field(3, 2, rec)                                    # records
    return b"\xF3\x89\x9A\xC2" + pb + hashlib.md5(pb).digest()


def make_malformed_mixed() -> Batch:
    b = Batch("malformed_mixed.json", 7,
              "Good records between unusable ones (bad base64, not UTF-8, not JSON, truncated, "
              "no metadata, unknown record-type/operation, KPL, empty table-name, NaN), a "
              "string transaction-id (valid) and column-level DDL control records.")
    task = Task("malformed", fmt=UNFORMATTED, bools="tf", nulls="omit",
                lsn=0x3_C7700E40, prev=(48300001, 1))
    placed = "2025-11-06T07:30:04.215560Z"

    t = task.txn(48300012, "2025-11-06T07:30:04.231877")
    good = t.insert("public", "orders", order(1200, 9, "45.00", "pending", placed))
    b.add("I", good)

    # BAD: the data field is not valid base64.
    b.add("quarantined", b64="eyJtZXRhZGF0YSI6e30=!!*", pk="public.orders")

    # BAD: bytes that are not UTF-8 (the same JSON, Latin-1 encoded: "é" is the byte E9).
    t = task.txn(48300015, "2025-11-06T07:30:09.480112")
    latin = t.insert("public", "orders", order(1201, 6, "12.00", "pending", placed,
                                               note="café au lait, sans sucre"))
    b.add("quarantined", payload=_dumps(latin.obj, separators=(",", ":")).encode("latin-1"),
          pk="public.orders", built=latin.built)

    t = task.txn(48300019, "2025-11-06T07:30:14.002954")
    b.add("U", t.update("public", "orders", order(1200, 9, "45.00", "paid", placed), before={}))

    # BAD: text that is not JSON (another producer's heartbeat).
    b.add("quarantined", payload=b"HEARTBEAT orders-api 2025-11-06T07:30:15Z", pk="heartbeat")

    # BAD: an empty record.
    b.add("quarantined", payload=b"", pk="public.orders")

    # BAD: truncated JSON (the message cut off part-way).
    t = task.txn(48300024, "2025-11-06T07:30:21.660380")
    whole = t.insert("public", "order_items", item(1200, 1, "TEA-ASSAM-500G", 3, "15.00"))
    cut = whole.payload()[: len(whole.payload()) * 3 // 5]
    b.add("quarantined", payload=cut, pk="public.order_items", built=whole.built)

    # BAD: JSON without "metadata".
    b.add("quarantined", payload=encode_message(
        {"data": {"id": 1202, "customer_id": 3, "total": D("5.00"), "status": "pending"}},
        UNFORMATTED), pk="public.orders")

    # BAD: unknown record-type "bogus".
    t = task.txn(48300031, "2025-11-06T07:30:29.118007")
    bogus = t.update("public", "orders", order(1200, 9, "45.00", "packed", placed), before={})
    bogus.meta["record-type"] = "bogus"
    b.add("quarantined", bogus)

    # BAD: unknown operation "upsert" on a data record.
    t = task.txn(48300036, "2025-11-06T07:30:33.845561")
    upsert = t.insert("public", "customers", customer(
        21, "ines.costa@example.pt", "Inês Costa", '{"tier": "bronze"}', True,
        "2025-11-06T07:30:33.830002Z"))
    upsert.meta["operation"] = "upsert"
    b.add("quarantined", upsert)

    # BAD: a KPL-aggregated record from another producer.
    b.add("quarantined", payload=kpl_aggregate("clickstream-7", [
        b'{"event":"page_view","path":"/cart"}', b'{"event":"click","target":"checkout"}']),
        pk="clickstream-7")

    # BAD: data record with an empty table-name.
    t = task.txn(48300044, "2025-11-06T07:30:41.390274")
    nameless = t.insert("public", "orders", order(1203, 1, "7.50", "pending", placed))
    nameless.meta["table-name"] = ""
    b.add("quarantined", nameless, pk="public.")

    # BAD: invalid JSON, a NaN value (double precision NaN in sales.refunds.amount).
    t = task.txn(48300049, "2025-11-06T07:30:47.007719")
    b.add("quarantined", t.insert("sales", "refunds", refund(
        5000000020, 1200, Raw("NaN"), "Chargeback, amount pending")))

    # VALID: transaction-id as a string ("accept a string too").
    t = task.txn("48300053", "2025-11-06T07:30:52.554160")
    b.add("U", t.update("public", "orders", order(
        1200, 9, "45.00", "paid", placed, note="Paid by bank transfer"), before={}))

    # VALID control: column-level DDL, payload unknown -> control {} (log it).
    b.add("control", task.control("add-column", "public", "orders",
                                  at_time="2025-11-06T07:30:55.118320"))
    # VALID control (edge): known operation with empty schema-name and table-name.
    b.add("control", task.control("change-columns", "", "",
                                  at_time="2025-11-06T07:30:55.120004"))
    # SKIP: DMS announcing its own table at CDC (re)start.
    b.add("skipped", task.control("create-table", "", "awsdms_apply_exceptions",
                                  at_time="2025-11-06T07:30:56.000371"))

    t = task.txn(48300061, "2025-11-06T07:31:02.775098")
    b.add("D", t.delete("public", "orders", {"id": 1200}))
    return b


# ======================================================================================
# 9. large_bigint.json
# ======================================================================================

def make_large_bigint() -> Batch:
    b = Batch("large_bigint.json", 8,
              "bigint keys: plain 9007199254740993 (2^53+1) and 9223372036854775807, and "
              "scientific notation (1.2345678901234568E+18) as sent without "
              "UseLargeIntegerValue; transaction details off.")
    # No IncludeTransactionDetails: only transaction-id on changes. Tabbed json.
    task = Task("bigint", fmt=TABBED, bools="tf", nulls="omit", tx_details=False,
                lsn=0x3_D0551A00)
    R = ("sales", "refunds")

    t = task.txn(48310002, "2025-11-06T12:05:11.306645")
    b.add("I", t.insert(*R, refund(9007199254740993, 1300, 45.0, "Duplicate charge")))  # plain, > 2^53
    t = task.txn(48310008, "2025-11-06T12:05:19.871203")
    b.add("I", t.insert(*R, refund(dms_sci(1234567890123456789), 1301, 0.1,
                                   "Goodwill credit")))       # 1.2345678901234568E+18 (lossy)
    t = task.txn(48310013, "2025-11-06T12:05:26.452788")
    b.add("I", t.insert(*R, refund(dms_sci(12345678901234567), 1302, 1234.5678,
                                   "Bulk order adjustment",
                                   bytea(b"\xde\xad\xbe\xef"))))  # 17 digits: 1.2345678901234568E+16
    t = task.txn(48310019, "2025-11-06T12:05:40.009154")
    b.add("I", t.insert(*R, refund(9223372036854775807, 1303, 3.75, "Max id test row")))  # i64::MAX, plain
    # i64::MAX in scientific notation: rounds to 2^63, one past i64::MAX.
    t = task.txn(48310024, "2025-11-06T12:05:52.644310")
    b.add("U", t.update(*R, refund(dms_sci(9223372036854775807), 1303, 4.0, "Max id test row (fixed)")))
    t = task.txn(48310030, "2025-11-06T12:06:03.118962")
    b.add("U", t.update(*R, refund(5000000001, 1002, 21.49, "Damaged in transit")))
    # Delete whose only (key) column is in scientific notation.
    t = task.txn(48310037, "2025-11-06T12:06:15.530447")
    b.add("D", t.delete(*R, {"id": dms_sci(1234567890123456789)}))
    return b


# ======================================================================================

MAKERS = [
    make_kinesis_test_input,
    make_full_load,
    make_cdc_before_image,
    make_deletes_pk_only,
    make_nulls_omitted,
    make_formats_mixed,
    make_multi_table,
    make_malformed_mixed,
    make_large_bigint,
]


def check(b: Batch) -> None:
    seqs = [r["kinesis"]["sequenceNumber"] for r in b.records]
    assert all(len(s) == 56 for s in seqs), b.filename
    assert all(x < y for x, y in zip(seqs, seqs[1:])), f"{b.filename}: sequence not ascending"
    assert len({r["eventID"].split(":")[0] for r in b.records}) == 1, b.filename
    arrivals = [r["kinesis"]["approximateArrivalTimestamp"] for r in b.records]
    assert all(x <= y for x, y in zip(arrivals, arrivals[1:])), f"{b.filename}: arrival order"
    assert 5 <= len(b.records) <= 40, b.filename
    for i, (rec, tag) in enumerate(zip(b.records, b.expect)):
        got = classify(rec)
        assert got == tag, f"{b.filename} record {i}: tagged {tag}, classifier says {got}"


def main() -> None:
    expected = {}
    shards = set()
    for make in MAKERS:
        b = make()
        check(b)
        assert b.shard_id not in shards, b.shard_id
        shards.add(b.shard_id)
        with open(os.path.join(HERE, b.filename), "w", encoding="utf-8", newline="\n") as f:
            f.write(b.event_json())
        expected[b.filename] = b.counts()
        c = expected[b.filename]
        print(f"{b.filename:26} records={c['records']:2} rows={c['rows']} control={c['control']} "
              f"skipped={c['skipped']} quarantined={c['quarantined']}")
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
