-- cdc-sink Athena DDL for database cdc_lake, lake at s3://lake/cdc
-- Run each statement on its own (aws athena start-query-execution takes one at a time).

CREATE DATABASE IF NOT EXISTS `cdc_lake`;

-- "public"."Orders \"2024\"" (registry version 3)
CREATE EXTERNAL TABLE IF NOT EXISTS `cdc_lake`.`public__orders__2024__67783667` (
  `id` int,
  `line` bigint,
  `total` decimal(10,2),
  `we``ird "col"` string,
  `placed_at` timestamp,
  `cdc_op` string,
  `cdc_commit_ts` timestamp,
  `cdc_dms_ts` timestamp,
  `cdc_txn_id` bigint,
  `cdc_txn_record_id` bigint,
  `cdc_stream_position` string,
  `cdc_shard` string,
  `cdc_seq` string,
  `cdc_arrival_ts` timestamp,
  `cdc_before` string
)
PARTITIONED BY (`dt` string, `hr` string)
STORED AS PARQUET
LOCATION 's3://lake/cdc/public/Orders %222024%22/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2020-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'projection.hr.type'='integer',
  'projection.hr.range'='0,23',
  'projection.hr.digits'='2',
  'storage.location.template'='s3://lake/cdc/public/Orders %222024%22/dt=${dt}/hr=${hr}/',
  'parquet.compression'='SNAPPY'
);

-- State of "public"."Orders \"2024\"" (registry version 3): one row per key, tombstones for deleted keys.
CREATE TABLE IF NOT EXISTS `cdc_lake`.`public__orders__2024__67783667_state` (
  `id` int,
  `line` bigint,
  `total` decimal(10,2),
  `we``ird "col"` string,
  `placed_at` timestamp,
  `cdc_op` string,
  `cdc_commit_ts` timestamp,
  `cdc_dms_ts` timestamp,
  `cdc_txn_id` bigint,
  `cdc_txn_record_id` bigint,
  `cdc_stream_position` string,
  `cdc_shard` string,
  `cdc_seq` string,
  `cdc_deleted` boolean
)
LOCATION 's3://lake/cdc/_state/public/Orders %222024%22/'
TBLPROPERTIES (
  'table_type'='ICEBERG',
  'format'='parquet',
  'write_compression'='zstd'
);

CREATE OR REPLACE VIEW "cdc_lake"."public__orders__2024__67783667_changes" AS
SELECT "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_before", "cdc_dms_ts", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_arrival_ts", "dt", "hr"
FROM (
  SELECT *, row_number() OVER (PARTITION BY "cdc_shard", "cdc_seq" ORDER BY "cdc_arrival_ts") AS "cdc_copy"
  FROM "cdc_lake"."public__orders__2024__67783667"
) AS "all_copies"
WHERE "cdc_copy" = 1;

CREATE OR REPLACE VIEW "cdc_lake"."public__orders__2024__67783667_current_history" AS
WITH "versions" AS (
  -- Each change is a version of the row with its key; a delete ends the row.
  SELECT "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_before", "cdc_dms_ts", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_arrival_ts", "cdc_op" = 'D' AS "cdc_gone"
  FROM "cdc_lake"."public__orders__2024__67783667_changes"
  UNION ALL
  -- An update that changed the primary key also ends the row under its old key.
  SELECT CAST(json_extract_scalar("cdc_before", '$.id') AS integer) AS "id", CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) AS "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_before", "cdc_dms_ts", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_arrival_ts", TRUE AS "cdc_gone"
  FROM "cdc_lake"."public__orders__2024__67783667_changes"
  WHERE "cdc_op" = 'U' AND CAST(json_extract_scalar("cdc_before", '$.id') AS integer) IS NOT NULL AND CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) IS NOT NULL AND (CAST(json_extract_scalar("cdc_before", '$.id') AS integer) <> "id" OR CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) <> "line")
)
SELECT "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq"
FROM (
  SELECT *, row_number() OVER (
    PARTITION BY "id", "line"
    -- Source order: commit time (DMS time for full-load rows), transaction, position.
    ORDER BY coalesce("cdc_commit_ts", "cdc_dms_ts") DESC, "cdc_txn_id" DESC NULLS LAST,
      "cdc_txn_record_id" DESC NULLS LAST, "cdc_stream_position" DESC NULLS LAST, "cdc_seq" DESC
  ) AS "cdc_rank"
  FROM "versions"
) AS "ranked"
WHERE "cdc_rank" = 1 AND NOT "cdc_gone";

CREATE OR REPLACE VIEW "cdc_lake"."public__orders__2024__67783667_current" AS
SELECT "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq"
FROM (
  SELECT *, row_number() OVER (PARTITION BY "id", "line" ORDER BY coalesce("cdc_commit_ts", "cdc_dms_ts") DESC NULLS LAST, "cdc_txn_id" DESC NULLS LAST, "cdc_txn_record_id" DESC NULLS LAST, "cdc_stream_position" DESC NULLS LAST, "cdc_seq" DESC NULLS LAST, "cdc_shard" DESC NULLS LAST) AS "cdc_rank"
  FROM (
    -- Merged: one row per key, tombstones included (an older change must not win).
    SELECT "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_deleted"
    FROM "cdc_lake"."public__orders__2024__67783667_state"
    UNION ALL
    -- Not yet merged, or merged again: the change lake's last 2 days and today.
    SELECT CASE WHEN "cdc_old_key" THEN CAST(json_extract_scalar("cdc_before", '$.id') AS integer) ELSE "id" END AS "id", CASE WHEN "cdc_old_key" THEN CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) ELSE "line" END AS "line", CASE WHEN "cdc_old_key" THEN NULL ELSE "total" END AS "total", CASE WHEN "cdc_old_key" THEN NULL ELSE "we`ird ""col""" END AS "we`ird ""col""", CASE WHEN "cdc_old_key" THEN NULL ELSE "placed_at" END AS "placed_at", "cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_old_key" OR "cdc_op" = 'D' AS "cdc_deleted"
    FROM (
      SELECT *, row_number() OVER (PARTITION BY "cdc_shard", "cdc_seq" ORDER BY "cdc_seq") AS "cdc_copy"
      FROM "cdc_lake"."public__orders__2024__67783667"
      WHERE "dt" >= date_format(current_date - INTERVAL '2' DAY, '%Y-%m-%d')
    ) AS "changes"
    CROSS JOIN (VALUES FALSE, TRUE) AS "ends" ("cdc_old_key")
    WHERE "cdc_copy" = 1
      AND (NOT "cdc_old_key" OR ("cdc_op" = 'U' AND CAST(json_extract_scalar("cdc_before", '$.id') AS integer) IS NOT NULL AND CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) IS NOT NULL AND (CAST(json_extract_scalar("cdc_before", '$.id') AS integer) <> "id" OR CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) <> "line")))
  ) AS "versions"
) AS "ranked"
WHERE "cdc_rank" = 1 AND NOT "cdc_deleted";

-- "audit"."log" (registry version 1)
CREATE EXTERNAL TABLE IF NOT EXISTS `cdc_lake`.`audit__log` (
  `msg` string,
  `cdc_op` string,
  `cdc_commit_ts` timestamp,
  `cdc_dms_ts` timestamp,
  `cdc_txn_id` bigint,
  `cdc_txn_record_id` bigint,
  `cdc_stream_position` string,
  `cdc_shard` string,
  `cdc_seq` string,
  `cdc_arrival_ts` timestamp,
  `cdc_before` string
)
PARTITIONED BY (`dt` string, `hr` string)
STORED AS PARQUET
LOCATION 's3://lake/cdc/audit/log/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.dt.type'='date',
  'projection.dt.format'='yyyy-MM-dd',
  'projection.dt.range'='2020-01-01,NOW',
  'projection.dt.interval'='1',
  'projection.dt.interval.unit'='DAYS',
  'projection.hr.type'='integer',
  'projection.hr.range'='0,23',
  'projection.hr.digits'='2',
  'storage.location.template'='s3://lake/cdc/audit/log/dt=${dt}/hr=${hr}/',
  'parquet.compression'='SNAPPY'
);

CREATE OR REPLACE VIEW "cdc_lake"."audit__log_changes" AS
SELECT "cdc_op", "cdc_commit_ts", "cdc_txn_id", "cdc_txn_record_id", "msg", "cdc_before", "cdc_dms_ts", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_arrival_ts", "dt", "hr"
FROM (
  SELECT *, row_number() OVER (PARTITION BY "cdc_shard", "cdc_seq" ORDER BY "cdc_arrival_ts") AS "cdc_copy"
  FROM "cdc_lake"."audit__log"
) AS "all_copies"
WHERE "cdc_copy" = 1;

-- No view "cdc_lake"."audit__log_current": "audit"."log" has no known primary key (DMS sends it in the create-table
-- table-def, or set one with `cdc-sink schema set`). Without a key, the current state
-- of a row cannot be told from the change history; query "cdc_lake"."audit__log_changes" instead.
