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

MERGE INTO "cdc_lake"."public__orders__2024__67783667_state" AS "t"
USING (
  SELECT "id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_deleted"
  FROM (
    SELECT *, row_number() OVER (PARTITION BY "id", "line" ORDER BY coalesce("cdc_commit_ts", "cdc_dms_ts") DESC NULLS LAST, "cdc_txn_id" DESC NULLS LAST, "cdc_txn_record_id" DESC NULLS LAST, "cdc_stream_position" DESC NULLS LAST, "cdc_seq" DESC NULLS LAST, "cdc_shard" DESC NULLS LAST) AS "cdc_rank"
    FROM (
      SELECT CASE WHEN "cdc_old_key" THEN CAST(json_extract_scalar("cdc_before", '$.id') AS integer) ELSE "id" END AS "id", CASE WHEN "cdc_old_key" THEN CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) ELSE "line" END AS "line", CASE WHEN "cdc_old_key" THEN NULL ELSE "total" END AS "total", CASE WHEN "cdc_old_key" THEN NULL ELSE "we`ird ""col""" END AS "we`ird ""col""", CASE WHEN "cdc_old_key" THEN NULL ELSE "placed_at" END AS "placed_at", "cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_old_key" OR "cdc_op" = 'D' AS "cdc_deleted"
      FROM (
        SELECT *, row_number() OVER (PARTITION BY "cdc_shard", "cdc_seq" ORDER BY "cdc_seq") AS "cdc_copy"
        FROM "cdc_lake"."public__orders__2024__67783667"
        WHERE "dt" >= '2025-11-01'
      ) AS "changes"
      CROSS JOIN (VALUES FALSE, TRUE) AS "ends" ("cdc_old_key")
      WHERE "cdc_copy" = 1
        AND (NOT "cdc_old_key" OR ("cdc_op" = 'U' AND CAST(json_extract_scalar("cdc_before", '$.id') AS integer) IS NOT NULL AND CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) IS NOT NULL AND (CAST(json_extract_scalar("cdc_before", '$.id') AS integer) <> "id" OR CAST(json_extract_scalar("cdc_before", '$.line') AS bigint) <> "line")))
    ) AS "versions"
  ) AS "ranked"
  WHERE "cdc_rank" = 1
) AS "s"
ON "t"."id" = "s"."id" AND "t"."line" = "s"."line"
WHEN MATCHED AND ((coalesce("s"."cdc_commit_ts", "s"."cdc_dms_ts") > coalesce("t"."cdc_commit_ts", "t"."cdc_dms_ts") OR (coalesce("s"."cdc_commit_ts", "s"."cdc_dms_ts") IS NOT NULL AND coalesce("t"."cdc_commit_ts", "t"."cdc_dms_ts") IS NULL)) OR (coalesce("s"."cdc_commit_ts", "s"."cdc_dms_ts") IS NOT DISTINCT FROM coalesce("t"."cdc_commit_ts", "t"."cdc_dms_ts") AND (("s"."cdc_txn_id" > "t"."cdc_txn_id" OR ("s"."cdc_txn_id" IS NOT NULL AND "t"."cdc_txn_id" IS NULL)) OR ("s"."cdc_txn_id" IS NOT DISTINCT FROM "t"."cdc_txn_id" AND (("s"."cdc_txn_record_id" > "t"."cdc_txn_record_id" OR ("s"."cdc_txn_record_id" IS NOT NULL AND "t"."cdc_txn_record_id" IS NULL)) OR ("s"."cdc_txn_record_id" IS NOT DISTINCT FROM "t"."cdc_txn_record_id" AND (("s"."cdc_stream_position" > "t"."cdc_stream_position" OR ("s"."cdc_stream_position" IS NOT NULL AND "t"."cdc_stream_position" IS NULL)) OR ("s"."cdc_stream_position" IS NOT DISTINCT FROM "t"."cdc_stream_position" AND (("s"."cdc_seq" > "t"."cdc_seq" OR ("s"."cdc_seq" IS NOT NULL AND "t"."cdc_seq" IS NULL)) OR ("s"."cdc_seq" IS NOT DISTINCT FROM "t"."cdc_seq" AND (("s"."cdc_shard" > "t"."cdc_shard" OR ("s"."cdc_shard" IS NOT NULL AND "t"."cdc_shard" IS NULL))))))))))))) THEN
  UPDATE SET "total" = "s"."total", "we`ird ""col""" = "s"."we`ird ""col""", "placed_at" = "s"."placed_at", "cdc_op" = "s"."cdc_op", "cdc_commit_ts" = "s"."cdc_commit_ts", "cdc_dms_ts" = "s"."cdc_dms_ts", "cdc_txn_id" = "s"."cdc_txn_id", "cdc_txn_record_id" = "s"."cdc_txn_record_id", "cdc_stream_position" = "s"."cdc_stream_position", "cdc_shard" = "s"."cdc_shard", "cdc_seq" = "s"."cdc_seq", "cdc_deleted" = "s"."cdc_deleted"
WHEN NOT MATCHED THEN
  INSERT ("id", "line", "total", "we`ird ""col""", "placed_at", "cdc_op", "cdc_commit_ts", "cdc_dms_ts", "cdc_txn_id", "cdc_txn_record_id", "cdc_stream_position", "cdc_shard", "cdc_seq", "cdc_deleted")
  VALUES ("s"."id", "s"."line", "s"."total", "s"."we`ird ""col""", "s"."placed_at", "s"."cdc_op", "s"."cdc_commit_ts", "s"."cdc_dms_ts", "s"."cdc_txn_id", "s"."cdc_txn_record_id", "s"."cdc_stream_position", "s"."cdc_shard", "s"."cdc_seq", "s"."cdc_deleted");

DELETE FROM "cdc_lake"."public__orders__2024__67783667_state" WHERE "cdc_deleted" AND coalesce("cdc_commit_ts", "cdc_dms_ts") < CAST(current_date - INTERVAL '7' DAY AS timestamp);

OPTIMIZE "cdc_lake"."public__orders__2024__67783667_state" REWRITE DATA USING BIN_PACK;

VACUUM "cdc_lake"."public__orders__2024__67783667_state";

