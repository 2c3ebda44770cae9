#!/usr/bin/env python3
"""Generate the hostile / malformed Lambda Kinesis events in test-input/bad/.

    python3 test-input/bad/make_bad.py        (from anywhere)

Each case file is one Lambda Kinesis event (or, for the document-level cases, something that
is not one). Most files mix bad records with good DMS records so a test sees that the rest of
the event is still processed. Messages are built with the helpers of ../make_samples.py
(imported, not copied), so they look exactly like the good samples.

Every record is tagged with its expected outcome when it is built:

    "L" "I" "U" "D"   a data row (load / insert / update / delete)
    "control"         a control-log entry
    "skipped"         a DMS-internal table (awsdms_*)
    <reason code>     quarantined with that reason (bad_kinesis_record, invalid_base64,
                      kpl_aggregated, not_utf8, not_json, no_metadata, unknown_record_type,
                      unknown_operation, bad_table_name, bad_row, bad_value)

expected.json is computed from those tags. Every tag is then cross-checked against emulate(),
an independent re-implementation of the classification in src/kinesis.rs, src/dms.rs and
src/pipeline.rs (with an empty schema registry, i.e. types inferred from the batch itself)
that decodes the bytes actually written. If the two disagree the script fails.

Deterministic (no clock, no random module): a second run rewrites every file byte for byte.
Python 3.11, standard library only.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ next to make_samples.py
sys.path.insert(0, os.path.dirname(HERE))
import make_samples as ms  # noqa: E402

UNFORMATTED = ms.UNFORMATTED
D = ms.D
Raw = ms.Raw

ROW_TAGS = ("L", "I", "U", "D")
REASONS = (
    "bad_kinesis_record", "invalid_base64", "kpl_aggregated", "not_utf8", "not_json",
    "no_metadata", "unknown_record_type", "unknown_operation", "bad_table_name", "bad_row",
    "bad_value",
)
TAGS = ROW_TAGS + ("control", "skipped") + REASONS

NOT_KINESIS = "not a Lambda Kinesis event"
DEPTH = 5000  # serde_json's recursion limit is 128


# ======================================================================================
# Building events
# ======================================================================================

class Case:
    """One event file built from records, each tagged with its expected outcome."""

    def __init__(self, filename: str, shard_no: int, purpose: str):
        self.filename = filename
        self.purpose = purpose
        self.batch = ms.Batch(filename, shard_no, purpose)
        self.tags: list[str] = []
        self.expected_error: str | None = None

    @property
    def records(self) -> list[dict]:
        return self.batch.records

    def add(self, tag: str, msg: ms.Msg | None = None, *, payload: bytes | None = None,
            b64: str | None = None, pk: str | None = None, built=None) -> dict:
        """Append one Kinesis record (see make_samples.Batch.add) and return it, so a case
        can then damage its envelope."""
        assert tag in TAGS, tag
        if msg is None and built is None:
            built = ms.at("2025-11-07T09:00:00")  # raw payloads: the arrival still rises
        self.batch.add("quarantined", msg, payload=payload, b64=b64, pk=pk, built=built)
        self.tags.append(tag)
        return self.records[-1]

    def document(self) -> bytes:
        return self.batch.event_json().encode("utf-8")

    def expected(self) -> dict:
        if self.expected_error is not None:
            return {"error": self.expected_error}
        reasons: dict[str, int] = {}
        for t in self.tags:
            if t in REASONS:
                reasons[t] = reasons.get(t, 0) + 1
        out = {
            "records": len(self.tags),
            "rows": sum(self.tags.count(t) for t in ROW_TAGS),
            "control": self.tags.count("control"),
            "skipped": self.tags.count("skipped"),
            "quarantined": sum(reasons.values()),
            "reasons": dict(sorted(reasons.items())),
        }
        assert out["records"] == out["rows"] + out["control"] + out["skipped"] + out["quarantined"]
        return out


class DocCase:
    """A file whose content is fixed bytes (the document itself is the subject)."""

    def __init__(self, filename: str, content: bytes, purpose: str, *, error: str | None,
                 records: list[dict] | None = None):
        self.filename = filename
        self.purpose = purpose
        self.content = content
        self.expected_error = error
        self.tags: list[str] = []
        self.records = records or []

    def document(self) -> bytes:
        return self.content

    def expected(self) -> dict:
        if self.expected_error is not None:
            return {"error": self.expected_error}
        return {"records": 0, "rows": 0, "control": 0, "skipped": 0, "quarantined": 0,
                "reasons": {}}


def good_order(t: ms.Txn, oid: int, status="pending", note=None, **kw) -> ms.Msg:
    """A valid insert into public.orders; kw goes to make_samples.Txn.change."""
    return t.insert("public", "orders", ms.order(
        oid, 9, "45.00", status, "2025-11-07T09:00:00.104233Z", note=note), **kw)


def simple_row(t: ms.Txn, schema: str, table: str, rid: int, note: str, **kw) -> ms.Msg:
    return t.insert(schema, table, {"id": rid, "note": note}, **kw)


def make_missing_fields_types() -> Case:
    """The document-level type error: a normal batch, then one record's envelope damaged."""
    c = Case("missing_fields_types.json", 116,
             "approximateArrivalTimestamp given as a string on one record of two.")
    task = ms.Task("bad-types", fmt=UNFORMATTED, lsn=0x4_10000000)
    t = task.txn(48500001, "2025-11-07T11:00:00.100000")
    c.add("I", good_order(t, 3001))
    t = task.txn(48500002, "2025-11-07T11:00:01.200000")
    rec = c.add("I", good_order(t, 3002))
    rec["kinesis"]["approximateArrivalTimestamp"] = str(rec["kinesis"]["approximateArrivalTimestamp"])
    c.expected_error = "invalid type: string"
    c.tags = []  # the whole document is rejected: no record outcome
    return c


# --------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------

def make_invalid_base64() -> Case:
    c = Case("invalid_base64.json", 101, "kinesis.data that is not base64 (`@@@not-base64!!`) "
             "between two good inserts.")
    task = ms.Task("bad-b64", fmt=UNFORMATTED, lsn=0x4_01000000)
    t = task.txn(48400101, "2025-11-07T09:00:01.000000")
    c.add("I", good_order(t, 2001))
    c.add("invalid_base64", b64="@@@not-base64!!", pk="public.orders", built=task.last_built)
    t = task.txn(48400102, "2025-11-07T09:00:02.000000")
    c.add("I", good_order(t, 2002))
    return c


def make_truncated_json() -> Case:
    c = Case("truncated_json.json", 102, "A DMS message cut in the middle (first half of its "
             "bytes), after a good insert.")
    task = ms.Task("bad-trunc", fmt=UNFORMATTED, lsn=0x4_02000000)
    t = task.txn(48400201, "2025-11-07T09:01:00.000000")
    c.add("I", good_order(t, 2011))
    t = task.txn(48400202, "2025-11-07T09:01:01.000000")
    whole = good_order(t, 2012)
    p = whole.payload()
    c.add("not_json", payload=p[: len(p) // 2], pk="public.orders", built=whole.built)
    t = task.txn(48400203, "2025-11-07T09:01:02.000000")
    c.add("U", t.update("public", "orders", ms.order(
        2011, 9, "45.00", "paid", "2025-11-07T09:00:00.104233Z"), before={}))
    return c


def make_not_utf8() -> Case:
    c = Case("not_utf8.json", 103, "A DMS insert whose `note` string holds the bytes FF FE "
             "(not UTF-8), between good inserts.")
    task = ms.Task("bad-utf8", fmt=UNFORMATTED, lsn=0x4_03000000)
    t = task.txn(48400301, "2025-11-07T09:02:00.000000")
    c.add("I", good_order(t, 2021))
    t = task.txn(48400302, "2025-11-07T09:02:01.000000")
    m = good_order(t, 2022, note="caf@@BAD@@ au lait")
    payload = m.payload()
    assert payload.count(b"@@BAD@@") == 1
    c.add("not_utf8", payload=payload.replace(b"@@BAD@@", b"\xff\xfe"), pk="public.orders",
          built=m.built)
    t = task.txn(48400303, "2025-11-07T09:02:02.000000")
    c.add("I", good_order(t, 2023))
    return c


def make_deep_nesting() -> Case:
    deep = Raw("[" * DEPTH + "]" * DEPTH)
    c = Case("deep_nesting.json", 104,
             f"Arrays nested {DEPTH} deep: as the whole `data` value (bad_row: not an object), "
             "inside a column value, inside the before-image and under an unknown metadata key "
             "(all three VALID rows: serde_json skips/captures raw values without recursing), "
             "and as `transaction-id` (not_json: wrong type).")
    task = ms.Task("bad-deep", fmt=UNFORMATTED, lsn=0x4_04000000)
    t = task.txn(48400401, "2025-11-07T09:03:00.000000")
    c.add("I", good_order(t, 2031))
    # data itself is the deep array: captured as a raw value, then "not a JSON object".
    t = task.txn(48400402, "2025-11-07T09:03:01.000000")
    m = simple_row(t, "public", "events", 1, "x")
    m.obj["data"] = deep
    c.add("bad_row", m)
    # A column value nested 5000 deep: kept as a (minified) string column.
    t = task.txn(48400403, "2025-11-07T09:03:02.000000")
    c.add("I", t.insert("public", "events", {"id": 2, "doc": deep}))
    # The before-image nested 5000 deep: kept as cdc_before.
    t = task.txn(48400404, "2025-11-07T09:03:03.000000")
    c.add("U", t.update("public", "events", {"id": 2, "doc": "flat"}, before=deep))
    # An unknown metadata key nested 5000 deep: ignored.
    t = task.txn(48400405, "2025-11-07T09:03:04.000000")
    c.add("I", t.insert("public", "events", {"id": 3, "doc": "ok"},
                        extra_meta={"x-deep": deep}))
    # transaction-id nested 5000 deep: a metadata field of the wrong type.
    t = task.txn(48400406, "2025-11-07T09:03:05.000000")
    m = t.insert("public", "events", {"id": 4, "doc": "ok"})
    m.meta["transaction-id"] = deep
    c.add("not_json", m)
    return c


def make_huge_value() -> Case:
    size = 1 << 20  # 1,048,576 characters
    unit = "The quick brown fox jumps over the lazy dog. 0123456789\n"
    body = (unit * (size // len(unit) + 1))[:size]
    assert len(body) == size
    c = Case("huge_value.json", 105, "A VALID insert into public.documents whose text column "
             "`body` is 1,048,576 characters (1 MB), after a good order insert.")
    task = ms.Task("bad-huge", fmt=UNFORMATTED, lsn=0x4_05000000)
    t = task.txn(48400501, "2025-11-07T09:04:00.000000")
    c.add("I", good_order(t, 2041))
    t = task.txn(48400502, "2025-11-07T09:04:01.000000")
    c.add("I", t.insert("public", "documents", {"id": 1, "title": "big", "body": body}))
    return c


def make_nan_infinity() -> Case:
    c = Case("nan_infinity.json", 106,
             "Raw `NaN`, `Infinity` and `-Infinity` tokens in data (invalid JSON), plus two "
             "contrasts: the string \"NaN\" in a double column (VALID) and `1e999` (valid JSON, "
             "overflows a double: bad_value).")
    task = ms.Task("bad-nan", fmt=UNFORMATTED, lsn=0x4_06000000)
    R = ("sales", "refunds")
    t = task.txn(48400601, "2025-11-07T09:05:00.000000")
    c.add("I", t.insert(*R, ms.refund(5000000101, 2051, 12.5, "ok")))
    for i, token in enumerate(("NaN", "Infinity", "-Infinity")):
        t = task.txn(48400602 + i, f"2025-11-07T09:05:0{1 + i}.000000")
        c.add("not_json", t.insert(*R, ms.refund(5000000102 + i, 2051, Raw(token), token)))
    t = task.txn(48400610, "2025-11-07T09:05:10.000000")
    c.add("I", t.insert(*R, ms.refund(5000000110, 2051, "NaN", "string NaN")))
    t = task.txn(48400611, "2025-11-07T09:05:11.000000")
    c.add("bad_value", t.insert(*R, ms.refund(5000000111, 2051, Raw("1e999"), "overflow")))
    return c


def make_duplicate_keys() -> Case:
    c = Case("duplicate_keys.json", 107,
             "(a) `metadata` twice at the top level, (b) `operation` twice inside metadata, "
             "(c) column `id` twice in data (table already seen in the batch, and a new table), "
             "(d) columns `cdc_op` and `src_cdc_op` (VALID: written as `src_cdc_op` and `src_cdc_op_<hash>`), "
             "(e) `data` twice, and (f) an unknown metadata key twice (VALID: ignored).")
    task = ms.Task("bad-dup", fmt=UNFORMATTED, lsn=0x4_07000000)

    def splice(m: ms.Msg, old: bytes, new: bytes) -> bytes:
        p = m.payload()
        assert p.count(old) == 1, (old, p)
        return p.replace(old, new)

    t = task.txn(48400701, "2025-11-07T09:06:00.000000")
    c.add("I", good_order(t, 2061))
    # (a) top-level "metadata" twice.
    t = task.txn(48400702, "2025-11-07T09:06:01.000000")
    m = good_order(t, 2062)
    md = ms._dumps(m.meta, separators=(",", ":")).encode()
    c.add("not_json", payload=splice(m, b'"metadata":', b'"metadata":' + md + b',"metadata":'),
          pk="public.orders", built=m.built)
    # (b) "operation" twice inside metadata.
    t = task.txn(48400703, "2025-11-07T09:06:02.000000")
    m = good_order(t, 2063)
    c.add("not_json", payload=splice(m, b'"operation":"insert"',
                                     b'"operation":"insert","operation":"update"'),
          pk="public.orders", built=m.built)
    # (c) column "id" twice; public.orders already has an "id" column in this batch.
    t = task.txn(48400704, "2025-11-07T09:06:03.000000")
    m = good_order(t, 2064)
    c.add("bad_row", payload=splice(m, b'{"id":2064,', b'{"id":2064,"id":2065,'),
          pk="public.orders", built=m.built)
    # (c') the same on a table first seen in this record.
    t = task.txn(48400705, "2025-11-07T09:06:04.000000")
    m = simple_row(t, "public", "dup_fresh", 1, "x")
    c.add("bad_row", payload=splice(m, b'{"id":1,', b'{"id":1,"id":2,'),
          pk="public.dup_fresh", built=m.built)
    # (d) a source column named like a lineage column, next to its renamed form: both kept.
    t = task.txn(48400706, "2025-11-07T09:06:05.000000")
    c.add("I", t.insert("public", "lineage_clash",
                              {"id": 1, "cdc_op": "x", "src_cdc_op": "y"}))
    # (e) top-level "data" twice.
    t = task.txn(48400707, "2025-11-07T09:06:06.000000")
    m = good_order(t, 2067)
    c.add("not_json", payload=splice(m, b'"data":', b'"data":{"id":1},"data":'),
          pk="public.orders", built=m.built)
    # (f) an unknown metadata key twice: serde ignores unknown keys, duplicates included.
    t = task.txn(48400708, "2025-11-07T09:06:07.000000")
    m = good_order(t, 2068, extra_meta={"x-hop": 1})
    c.add("I", payload=splice(m, b'"x-hop":1', b'"x-hop":1,"x-hop":2'),
          pk="public.orders", built=m.built)
    return c


def make_wrong_metadata_types() -> Case:
    c = Case("wrong_metadata_types.json", 108,
             "metadata fields of the wrong JSON type: record-type 5, operation {}, "
             "transaction-id 1.5, schema-name [\"public\"]; and transaction-id "
             "9223372036854775808 (one past i64).")
    task = ms.Task("bad-types-md", fmt=UNFORMATTED, lsn=0x4_08000000)
    t = task.txn(48400801, "2025-11-07T09:07:00.000000")
    c.add("I", good_order(t, 2071))
    for i, (field, value) in enumerate((
            ("record-type", 5), ("operation", {"name": "insert"}),
            ("transaction-id", Raw("1.5")), ("schema-name", ["public"]),
            ("transaction-id", Raw("9223372036854775808")))):
        t = task.txn(48400802 + i, f"2025-11-07T09:07:0{1 + i}.000000")
        m = good_order(t, 2072 + i)
        m.meta[field] = value
        c.add("not_json", m, pk="public.orders")
    t = task.txn(48400810, "2025-11-07T09:07:10.000000")
    c.add("I", good_order(t, 2080))
    return c


def make_unknown_ops() -> Case:
    c = Case("unknown_ops.json", 109,
             "record-type `bogus`; a data record with operation `upsert`; a control record "
             "with operation `truncate-table`; a record without record-type.")
    task = ms.Task("bad-ops", fmt=UNFORMATTED, lsn=0x4_09000000)
    t = task.txn(48400901, "2025-11-07T09:08:00.000000")
    c.add("I", good_order(t, 2081))
    t = task.txn(48400902, "2025-11-07T09:08:01.000000")
    m = good_order(t, 2082)
    m.meta["record-type"] = "bogus"
    c.add("unknown_record_type", m)
    t = task.txn(48400903, "2025-11-07T09:08:02.000000")
    m = good_order(t, 2083)
    m.meta["operation"] = "upsert"
    c.add("unknown_operation", m)
    c.add("unknown_operation", task.control("truncate-table", "public", "orders",
                                            at_time="2025-11-07T09:08:03.000000"))
    t = task.txn(48400905, "2025-11-07T09:08:04.000000")
    m = good_order(t, 2085)
    del m.meta["record-type"]
    c.add("unknown_record_type", m)
    c.add("control", task.control("drop-table", "public", "orders",
                                  at_time="2025-11-07T09:08:05.000000"))
    return c


def make_empty_names() -> Case:
    c = Case("empty_names.json", 110,
             "Data records with an empty schema-name, an empty table-name, and neither key.")
    task = ms.Task("bad-names", fmt=UNFORMATTED, lsn=0x4_0A000000)
    t = task.txn(48401001, "2025-11-07T09:09:00.000000")
    c.add("I", good_order(t, 2091))
    for i, (schema, table) in enumerate((("", "orders"), ("public", ""), (None, None))):
        t = task.txn(48401002 + i, f"2025-11-07T09:09:0{1 + i}.000000")
        m = good_order(t, 2092 + i)
        for key, v in (("schema-name", schema), ("table-name", table)):
            if v is None:
                del m.meta[key]
            else:
                m.meta[key] = v
        c.add("bad_table_name", m, pk=f"{schema or ''}.{table or ''}")
    return c


HOSTILE = [  # (schema, table) pairs that must become rows, each its own table
    ("../../etc", "passwd"),
    ("public", "a/b"),
    ("with space", "with space"),
    ("ünïcødé", "ünïcødé"),
    ("public", "ctl\u0001\u001f"),
    ("..", ".."),
    (".", "."),
    ("public", "dt=2020-01-01"),
    ("%2F", "%2F"),
    ("public", "long_" + "x" * 195),                       # 200 bytes
    ("public", "nl\n; DROP TABLE cdc.public__orders; --"),  # a newline in a name
    ("_quarantine", "orders"),                             # a reserved top-level folder
]


def make_hostile_names() -> Case:
    c = Case("hostile_names.json", 111,
             "VALID rows in tables with hostile names: `../../etc`, `a/b`, `with space`, "
             "`ünïcødé`, `ctl\\u0001\\u001f`, `..`, `.`, `dt=2020-01-01`, `%2F`, a 200-byte "
             "name, a name with a newline, schema `_quarantine`; then a 300-byte table name "
             "and a 256-byte (128-character) one, both over 255 bytes: bad_table_name.")
    task = ms.Task("bad-hostile", fmt=UNFORMATTED, lsn=0x4_0B000000)
    assert len(HOSTILE[9][1].encode()) == 200
    for i, (schema, table) in enumerate(HOSTILE):
        t = task.txn(48401101 + i, f"2025-11-07T09:10:{i:02d}.000000")
        c.add("I", simple_row(t, schema, table, i + 1, f"hostile #{i + 1}"))
    for i, table in enumerate(("long_" + "y" * 295, "é" * 128)):
        assert len(table.encode()) in (300, 256)
        t = task.txn(48401140 + i, f"2025-11-07T09:10:{40 + i}.000000")
        c.add("bad_table_name", simple_row(t, "public", table, 100 + i, "too long"))
    return c


def make_kpl_magic() -> Case:
    c = Case("kpl_magic.json", 112, "A KPL-aggregated record (F3 89 9A C2, an AggregatedRecord "
             "protobuf, MD5) between good inserts.")
    task = ms.Task("bad-kpl", fmt=UNFORMATTED, lsn=0x4_0C000000)
    t = task.txn(48401201, "2025-11-07T09:11:00.000000")
    c.add("I", good_order(t, 2121))
    c.add("kpl_aggregated", payload=ms.kpl_aggregate("clickstream-9", [
        b'{"event":"page_view","path":"/"}', b'{"event":"click","target":"buy"}']),
        pk="clickstream-9", built=task.last_built)
    t = task.txn(48401202, "2025-11-07T09:11:01.000000")
    c.add("I", good_order(t, 2122))
    return c


def make_missing_fields() -> Case:
    c = Case("missing_fields.json", 113,
             "Kinesis records without sequenceNumber, without data, without eventID, with "
             "sequenceNumber `12ab`; also without / with null approximateArrivalTimestamp, "
             "without any `kinesis` object, with an empty shard id (`:<seq>`) and with a "
             "130-digit sequenceNumber. Every payload is a valid DMS insert.")
    task = ms.Task("bad-missing", fmt=UNFORMATTED, lsn=0x4_0D000000)
    t = task.txn(48401301, "2025-11-07T09:12:00.000000")
    c.add("I", good_order(t, 2131))

    def damaged(oid: int, how) -> None:
        tt = task.txn(48401300 + oid - 2130, f"2025-11-07T09:12:{oid - 2130:02d}.000000")
        rec = c.add("bad_kinesis_record", good_order(tt, oid))
        how(rec)

    damaged(2132, lambda r: r["kinesis"].pop("sequenceNumber"))
    damaged(2133, lambda r: r["kinesis"].pop("data"))
    damaged(2134, lambda r: r.pop("eventID"))

    def letters(r):
        r["kinesis"]["sequenceNumber"] = "12ab"
        r["eventID"] = r["eventID"].split(":")[0] + ":12ab"
    damaged(2135, letters)
    damaged(2136, lambda r: r["kinesis"].pop("approximateArrivalTimestamp"))
    damaged(2137, lambda r: r["kinesis"].__setitem__("approximateArrivalTimestamp", None))
    damaged(2138, lambda r: r.pop("kinesis"))
    damaged(2139, lambda r: r.__setitem__("eventID", ":" + r["eventID"].split(":")[1]))

    def too_long(r):
        seq = "7" * 130
        r["kinesis"]["sequenceNumber"] = seq
        r["eventID"] = r["eventID"].split(":")[0] + ":" + seq
    damaged(2140, too_long)
    t = task.txn(48401320, "2025-11-07T09:12:20.000000")
    c.add("U", t.update("public", "orders", ms.order(
        2131, 9, "45.00", "paid", "2025-11-07T09:00:00.104233Z"), before={}))
    return c


def make_data_not_object() -> Case:
    c = Case("data_not_object.json", 114,
             "Data records whose `data` is a string, is missing, is null, is an array; and a "
             "delete whose `data` is `{}` (VALID: a row with no columns).")
    task = ms.Task("bad-data", fmt=UNFORMATTED, lsn=0x4_0E000000)
    t = task.txn(48401401, "2025-11-07T09:13:00.000000")
    c.add("I", good_order(t, 2141))
    for i, value in enumerate(("id=2142", ms.ABSENT, None, [2142, "x"])):
        t = task.txn(48401402 + i, f"2025-11-07T09:13:0{1 + i}.000000")
        m = good_order(t, 2142 + i)
        if value is ms.ABSENT:
            del m.obj["data"]
        else:
            m.obj["data"] = value
        c.add("bad_row", m)
    t = task.txn(48401410, "2025-11-07T09:13:10.000000")
    m = t.delete("public", "orders", {"id": 2141})
    m.obj["data"] = {}
    c.add("D", m)
    return c


def make_document_cases() -> list[DocCase]:
    return [
        DocCase("empty_records.json", b'{"Records": []}\n',
                "An event with an empty Records array: 0 records, success.", error=None),
        DocCase("not_kinesis.json",
                b'{"Records":[{"messageId":"1","body":"x","eventSource":"aws:sqs"}]}\n',
                "An SQS event: no record has a `kinesis` object.",
                error='no record has a "kinesis" object'),
        DocCase("not_json_document.json", b"this is not json\n",
                "The file is not JSON at all.", error=NOT_KINESIS),
    ]


# ======================================================================================
# Independent emulation of src/kinesis.rs, src/dms.rs and src/pipeline.rs
# ======================================================================================

class Obj:
    """A JSON object with its pairs in order and duplicates kept."""

    def __init__(self, pairs):
        self.pairs = pairs

    def has(self, k) -> bool:
        return any(kk == k for kk, _ in self.pairs)

    def get(self, k, default=None):
        for kk, v in self.pairs:
            if kk == k:
                return v
        return default

    def dup(self, names) -> str | None:
        seen = set()
        for k, _ in self.pairs:
            if k in names:
                if k in seen:
                    return k
                seen.add(k)
        return None


class Num:
    """A JSON number exactly as written."""

    def __init__(self, text: str):
        self.text = text

    def is_integer_syntax(self) -> bool:
        return not any(ch in self.text for ch in ".eE")


def _reject(name):
    raise ValueError(f"invalid JSON token {name}")


def load(text: str):
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * DEPTH + 1000))
    try:
        return json.loads(text, object_pairs_hook=Obj, parse_float=Num, parse_int=Num,
                          parse_constant=_reject)
    finally:
        sys.setrecursionlimit(limit)


class DocError(Exception):
    pass


I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1
SEQ_WIDTH = 129
MAX_NAME_BYTES = 255
LINEAGE = {"cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id",
           "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_arrival_ts", "cdc_before"}
CONTROL_OPS = ms.CONTROL_OPS
DATA_OPS = ms.DATA_OPS
KPL = b"\xF3\x89\x9A\xC2"


def json_type(v) -> str:
    if isinstance(v, str):
        return "string"
    if isinstance(v, Num):
        return "integer" if v.is_integer_syntax() else "floating point"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, Obj):
        return "map"
    if isinstance(v, list):
        return "sequence"
    return "null"


def emulate(doc: bytes) -> list[str]:
    """Outcome tags of every record of a document, or DocError (kinesis::parse_event)."""
    prefix = f"{NOT_KINESIS}: expected a JSON object"
    try:
        top = load(doc.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise DocError(f"{prefix}; {e}")
    if not isinstance(top, Obj):
        raise DocError(f"{prefix}; invalid type: {json_type(top)}")
    if top.dup({"Records"}):
        raise DocError(f"{prefix}; duplicate field `Records`")
    recs = top.get("Records")
    if recs is None:
        raise DocError(f'{NOT_KINESIS}: the JSON object has no "Records" array')
    if not isinstance(recs, list):
        raise DocError(f"{prefix}; invalid type: {json_type(recs)}")
    envelopes = []
    for r in recs:
        if not isinstance(r, Obj):
            raise DocError(f"{prefix}; invalid type: {json_type(r)}")
        if (d := r.dup({"kinesis", "eventID"})):
            raise DocError(f"{prefix}; duplicate field `{d}`")
        k, eid = r.get("kinesis"), r.get("eventID")
        if eid is not None and not isinstance(eid, str):
            raise DocError(f"{prefix}; invalid type: {json_type(eid)}, expected a string")
        fields = {}
        if k is not None:
            if not isinstance(k, Obj):
                raise DocError(f"{prefix}; invalid type: {json_type(k)}")
            names = {"partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp"}
            if (d := k.dup(names)):
                raise DocError(f"{prefix}; duplicate field `{d}`")
            for f in ("partitionKey", "sequenceNumber", "data"):
                v = k.get(f)
                if v is not None and not isinstance(v, str):
                    raise DocError(f"{prefix}; invalid type: {json_type(v)}, expected a string")
                fields[f] = v
            a = k.get("approximateArrivalTimestamp")
            if a is not None and not isinstance(a, Num):
                raise DocError(f'{prefix}; invalid type: {json_type(a)} "{a}", expected f64')
            fields["arrival"] = a
        envelopes.append((k is not None, eid, fields))
    if envelopes and not any(has_k for has_k, _, _ in envelopes):
        raise DocError(f'{NOT_KINESIS}: no record has a "kinesis" object '
                       "(is this an SQS, SNS or DynamoDB event?)")
    tables: dict[tuple[str, str], dict[str, str | None]] = {}
    return [record_outcome(eid, f, tables) for _, eid, f in envelopes]


def arrival_ok(a: Num | None) -> bool:
    if a is None:
        return False
    us = float(a.text) * 1_000_000.0
    return math.isfinite(us) and abs(round(us)) < 9.0e18


def record_outcome(eid, f: dict, tables) -> str:
    seq = f.get("sequenceNumber")
    if seq is None or not seq or len(seq) > SEQ_WIDTH or not re.fullmatch(r"[0-9]+", seq):
        return "bad_kinesis_record"
    shard = None if eid is None else eid.split(":")[0]
    if shard is None or shard == "" or not arrival_ok(f.get("arrival")) or f.get("data") is None:
        return "bad_kinesis_record"
    data = f["data"]
    try:
        raw = base64.b64decode(data, validate=True)
        if base64.b64encode(raw).decode("ascii") != data:  # canonical padding, no trailing bits
            raise ValueError("not canonical")
    except ValueError:
        return "invalid_base64"
    if raw.startswith(KPL):
        return "kpl_aggregated"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "not_utf8"
    try:
        msg = load(text)
    except (ValueError, RecursionError):
        return "not_json"
    if not isinstance(msg, Obj) or msg.dup({"metadata", "data", "control", "before-image"}):
        return "not_json"
    if not msg.has("metadata"):
        return "no_metadata"
    md = msg.get("metadata")
    if not isinstance(md, Obj):
        assert not isinstance(md, list), "serde reads a metadata array positionally: not emulated"
        return "not_json"
    str_fields = ("timestamp", "record-type", "operation", "partition-key-type", "schema-name",
                  "table-name", "commit-timestamp", "stream-position")
    id_fields = ("transaction-id", "transaction-record-id")
    if md.dup(set(str_fields + id_fields)):
        return "not_json"
    for k in str_fields:
        v = md.get(k)
        if v is not None and not isinstance(v, str):
            return "not_json"
    for k in id_fields:
        v = md.get(k)
        if v is None:
            continue
        if isinstance(v, Num):
            if not v.is_integer_syntax() or not I64_MIN <= int(v.text) <= I64_MAX:
                return "not_json"
        elif isinstance(v, str):
            s = v.strip()
            if not re.fullmatch(r"[+-]?[0-9]+", s) or not I64_MIN <= int(s) <= I64_MAX:
                return "not_json"
        else:
            return "not_json"
    rtype = md.get("record-type")
    op = md.get("operation") or ""
    schema, table = md.get("schema-name") or "", md.get("table-name") or ""
    if rtype == "control":
        if table.startswith("awsdms_"):
            return "skipped"
        return "control" if op in CONTROL_OPS else "unknown_operation"
    if rtype != "data":
        return "unknown_record_type"
    if op not in DATA_OPS:
        return "unknown_operation"
    if table.startswith("awsdms_"):
        return "skipped"
    if not schema or not table:
        return "bad_table_name"
    if len(schema.encode()) > MAX_NAME_BYTES or len(table.encode()) > MAX_NAME_BYTES:
        return "bad_table_name"
    if not msg.has("data"):
        return "bad_row"
    row = msg.get("data")
    if not isinstance(row, Obj):
        return "bad_row"
    if len(row.pairs) == 1 and row.pairs[0][0] == "_doc" and isinstance(row.pairs[0][1], Obj):
        row = row.pairs[0][1]
    cols = tables.setdefault((schema, table), {})
    new_cols: dict[str, str | None] = {}
    opened: dict[str, str] = {}
    known_refs: list[str] = []
    for name, value in row.pairs:
        if name in LINEAGE:
            name = "src_" + name
        if name == "":
            return "bad_row"
        if name in cols:
            ty = cols[name]
            if ty is None:
                ty = infer(value)
                if ty is not None:
                    opened[name] = ty
            known_refs.append(name)
        else:
            if name in new_cols:
                return "bad_row"
            ty = infer(value)
            new_cols[name] = ty
        if ty is not None and not converts(value, ty):
            return "bad_value"
    if len(set(known_refs)) != len(known_refs):
        return "bad_row"
    cols.update(opened)
    cols.update(new_cols)
    return DATA_OPS[op]


def infer(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, Num):
        return "double"
    return "string"


def is_json_number(s: str) -> bool:
    return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", s) is not None


def converts(v, ty: str) -> bool:
    if v is None or ty == "string":
        return True
    if ty == "boolean":
        return isinstance(v, bool) or (isinstance(v, str) and v.lower() in ("t", "f", "true", "false"))
    if ty == "double":
        if isinstance(v, Num):
            return math.isfinite(float(v.text))
        if isinstance(v, str):
            if v in ("NaN", "Infinity", "-Infinity"):
                return True
            return is_json_number(v) and math.isfinite(float(v))
        return False
    raise AssertionError(ty)


# ======================================================================================
# Output
# ======================================================================================

def readme(cases, expected) -> str:
    def outcome(name: str) -> str:
        e = expected[name]
        if "error" in e:
            return f'whole document rejected (error contains `{e["error"]}`)'
        parts = [f'{e["records"]} records: {e["rows"]} rows']
        if e["control"]:
            parts.append(f'{e["control"]} control')
        if e["skipped"]:
            parts.append(f'{e["skipped"]} skipped')
        q = ", ".join(f"{k} {n}" for k, n in e["reasons"].items())
        parts.append(f'{e["quarantined"]} quarantined' + (f" ({q})" if q else ""))
        return ", ".join(parts)

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = "\n".join(f"| `{c.filename}` | {cell(c.purpose)} | {outcome(c.filename)} |"
                     for c in cases)
    return f"""# test-input/bad: hostile and malformed events

Each `*.json` file here is one input for cdc-sink: a Lambda Kinesis event (`{{"Records": [...]}}`)
whose records carry base64 AWS DMS messages (see the AWS DMS Kinesis target format (summarised in the main README)), or, for the
document-level cases, something that is not such an event. Except where the document itself is
the subject, every file mixes the bad records with at least one good DMS record, so a test can
see that the rest of the event is still processed. Each file uses its own shard id
(`shardId-000000000101` and up) and, where it has records, rising 56-digit sequence numbers.

All files are generated. Do not edit them by hand. Regenerate them (from any directory) with:

```sh
python3 test-input/bad/make_bad.py
```

Python 3.11, standard library only. The script imports the message and envelope helpers of
`test-input/make_samples.py`, so that file must stay next to `bad/`. It is deterministic: a
second run rewrites every file, this README and `expected.json` byte for byte.

| file | what it exercises | expected outcome |
|---|---|---|
{rows}

The "6 MB event" case of the corpus (an event at Lambda's 6 MB payload limit) is not committed
here: it is produced at test time by the workload generator (`cdc-sink generate`), to keep the
repository small.

## expected.json

For each file, either a whole-document error:

```json
{{"error": "<substring of the error message>"}}
```

or the outcome of every record:

```json
{{"records": N, "rows": N, "control": N, "skipped": N, "quarantined": N, "reasons": {{"<reason_code>": N}}}}
```

`rows` counts data rows of all operations; `reasons` counts quarantined records per reason code
(`bad_kinesis_record`, `invalid_base64`, `kpl_aggregated`, `not_utf8`, `not_json`, `no_metadata`,
`unknown_record_type`, `unknown_operation`, `bad_table_name`, `bad_row`, `bad_value`) and sums to
`quarantined`. The counts assume column types are inferred from the batch (an empty schema
registry, as `build_batch(.., &InferOnly)`). The good records use the same tables and column
types as `test-input/` (public.orders, sales.refunds), so a registry filled by replaying
`test-input/` first should not change them (not verified).

The script tags each record with its outcome while building it and writes the counts from the
tags. It then re-derives every tag with `emulate()`, an independent re-implementation of the
classification in `src/kinesis.rs`, `src/dms.rs` and `src/pipeline.rs` that decodes the bytes it
wrote, and fails if the two disagree.

## How records are classified (from the code)

- The document must deserialize as `{{"Records": [...]}}` with the right JSON types for the fields
  cdc-sink reads (`kinesis` an object; `eventID`, `kinesis.partitionKey`,
  `kinesis.sequenceNumber`, `kinesis.data` strings; `kinesis.approximateArrivalTimestamp` a
  number). A wrong type anywhere rejects the whole document (`not a Lambda Kinesis event`), so
  `missing_fields_types.json` fails as a whole while the missing fields of
  `missing_fields.json` are per-record quarantines (`bad_kinesis_record`). A non-empty
  `Records` where no record has a `kinesis` object is also a document error; `{{"Records": []}}`
  is a successful empty batch. `cdc-sink replay` stops at the first file that fails this way
  (files before it are already written), so replay the error files on their own.
- The DMS message is read by serde_json without building a tree: `data`, `control` and the
  before-image are captured as raw JSON and unknown keys are skipped, both without recursion.
  So deep nesting is **not** a parse error: arrays nested {DEPTH} deep inside a column value,
  the before-image or an unknown metadata key are valid rows (the column value becomes a
  10,000-character string); only `data` itself being an array is refused, as `bad_row`.
- `NaN`, `Infinity` and `-Infinity` are not JSON: `not_json`. The string `"NaN"` in a double
  column is a valid NaN; `1e999` is valid JSON but overflows a double: `bad_value`.
- Duplicate top-level keys (`metadata`, `data`, `control`, before-image) and duplicate known
  metadata fields are `not_json`; a duplicate unknown metadata key is ignored. A duplicate
  column in `data` is `bad_row`. A column named like a lineage column (`cdc_op`) next to its
  renamed form (`src_cdc_op`) is a valid row: the second gets a hash suffix (README, names).
- Wrong metadata types (record-type 5, operation {{}}, transaction-id 1.5 or beyond i64,
  schema-name []) are `not_json`.
- A missing record-type is `unknown_record_type`; an unknown data or control operation is
  `unknown_operation`.
- Empty or missing schema/table names on data records, and names over 255 **bytes**, are
  `bad_table_name`. Other hostile names are valid and are escaped into one key segment.
  Two of them are there to show a weakness rather than a defence: the schema `_quarantine`
  puts a data object under `_quarantine/orders/...`, next to the quarantine logs
  (`_quarantine/dt=.../*.jsonl`), so anything that lists `_quarantine/` sees a Parquet file;
  and the table name with a newline is copied unescaped into the `-- schema.table` comment
  line of the Athena DDL (`cdc-sink athena`), so the text after the newline becomes SQL.
"""


def main() -> None:
    cases = [
        make_invalid_base64(),
        make_truncated_json(),
        make_not_utf8(),
        make_deep_nesting(),
        make_huge_value(),
        make_nan_infinity(),
        make_duplicate_keys(),
        make_wrong_metadata_types(),
        make_unknown_ops(),
        make_empty_names(),
        make_hostile_names(),
        make_kpl_magic(),
        *make_document_cases(),
        make_missing_fields(),
        make_missing_fields_types(),
        make_data_not_object(),
    ]
    names = [c.filename for c in cases]
    assert len(set(names)) == len(names)
    shards = [c.batch.shard_id for c in cases if isinstance(c, Case)]
    assert len(set(shards)) == len(shards)

    expected = {}
    for c in cases:
        doc = c.document()
        e = c.expected()
        # Cross-check the tags against the emulation of the Rust code.
        try:
            got = emulate(doc)
        except DocError as err:
            assert c.expected_error is not None, f"{c.filename}: unexpected document error {err}"
            assert c.expected_error in str(err), f"{c.filename}: {err!r} lacks {c.expected_error!r}"
        else:
            assert c.expected_error is None, f"{c.filename}: expected a document error"
            assert got == c.tags, f"{c.filename}: tagged {c.tags}, emulation says {got}"
        # Sequence numbers rise and each file is one shard (where records carry them).
        seqs = [r["kinesis"]["sequenceNumber"] for r in c.records
                if isinstance(r.get("kinesis"), dict) and "sequenceNumber" in r["kinesis"]
                and len(r["kinesis"]["sequenceNumber"]) == 56]
        assert seqs == sorted(seqs), c.filename
        assert len({r["eventID"].split(":")[0] for r in c.records
                    if r.get("eventID", ":").split(":")[0]}) <= 1, c.filename
        with open(os.path.join(HERE, c.filename), "wb") as f:
            f.write(doc)
        expected[c.filename] = e
        if "error" in e:
            print(f"{c.filename:28} error: {e['error']}")
        else:
            print(f"{c.filename:28} records={e['records']:2} rows={e['rows']:2} "
                  f"control={e['control']} skipped={e['skipped']} quarantined={e['quarantined']:2} "
                  f"{e['reasons']}")
    with open(os.path.join(HERE, "expected.json"), "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(expected, indent=2) + "\n")
    with open(os.path.join(HERE, "README.md"), "w", encoding="utf-8", newline="\n") as f:
        f.write(readme(cases, expected))


if __name__ == "__main__":
    main()
