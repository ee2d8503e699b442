-- setup
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" VARCHAR NOT NULL PRIMARY KEY, "key_hash" UBIGINT NOT NULL, "hash" UBIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" VARCHAR NOT NULL, "key_hash" UBIGINT, "hash" UBIGINT, "removed" BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" BIGINT NOT NULL PRIMARY KEY, "n" BIGINT NOT NULL, "digest" UBIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" BIGINT NOT NULL, "hash_function" VARCHAR NOT NULL, "bucket_bits" BIGINT NOT NULL);
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- plan
SET preserve_insertion_order = false;
WITH a AS MATERIALIZED (
  SELECT CAST((hash(q."account_id", q."user_id") >> 52) AS BIGINT) AS "__riptide_bucket", count(*) AS "__riptide_n", bit_xor(hash('1234abcd5678ef90', q."account_id", q."user_id", q."email", q."first name")) AS "__riptide_hash"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL
  GROUP BY CAST((hash(q."account_id", q."user_id") >> 52) AS BIGINT)
),
d AS MATERIALIZED (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_users___crm_22b2f7ef" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT (replace(replace(CAST(q."account_id" AS VARCHAR), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR), '\', '\\'), '|', '\|')) AS "__riptide_key", hash(q."account_id", q."user_id") AS "__riptide_key_hash", hash('1234abcd5678ef90', q."account_id", q."user_id", q."email", q."first name") AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q."account_id" IS NULL OR q."user_id" IS NULL OR CAST((hash(q."account_id", q."user_id") >> 52) AS BIGINT) IN (SELECT "__riptide_bucket" FROM d)
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "riptide"."snapshot_users___crm_22b2f7ef"
  WHERE CAST(("key_hash" >> 52) AS BIGINT) IN (SELECT "__riptide_bucket" FROM d)
),
dup AS (
  SELECT "__riptide_key", count(*) AS "__riptide_n" FROM m WHERE "__riptide_key" IS NOT NULL GROUP BY "__riptide_key" HAVING count(*) > 1
),
j AS MATERIALIZED (
  SELECT CASE
      WHEN m."__riptide_key" IS NULL AND s."key" IS NULL THEN 'null_key'
      WHEN m."__riptide_key" IS NULL THEN 'removed'
      WHEN dup."__riptide_key" IS NOT NULL THEN 'duplicate'
      WHEN s."key" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL, NULL, NULL, NULL;

-- plan (full resync, schema ops_riptide)
SET preserve_insertion_order = false;
WITH m AS (
  SELECT (replace(replace(CAST(q."account_id" AS VARCHAR), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR), '\', '\\'), '|', '\|')) AS "__riptide_key", hash(q."account_id", q."user_id") AS "__riptide_key_hash", hash('1234abcd5678ef90', q."account_id", q."user_id", q."email", q."first name") AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "ops_riptide"."snapshot_users___crm_22b2f7ef"
),
dup AS (
  SELECT "__riptide_key", count(*) AS "__riptide_n" FROM m WHERE "__riptide_key" IS NOT NULL GROUP BY "__riptide_key" HAVING count(*) > 1
),
j AS MATERIALIZED (
  SELECT CASE
      WHEN m."__riptide_key" IS NULL AND s."key" IS NULL THEN 'null_key'
      WHEN m."__riptide_key" IS NULL THEN 'removed'
      WHEN dup."__riptide_key" IS NOT NULL THEN 'duplicate'
      WHEN s."key" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j;

-- commit point
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";
INSERT INTO "riptide"."stage_users___crm_22b2f7ef" ("key", "key_hash", "hash", "removed") VALUES ('7|42', 81985529216486895, 18364758544493064720, FALSE), ('it''s|a\|b', 42, 1, FALSE), ('9|1', NULL, NULL, TRUE);
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT CAST((s."key_hash" >> 52) AS BIGINT) AS "bucket", -count(*) AS "n", xor(0, bit_xor(s."hash")) AS "digest" FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN ('7|42', 'it''s|a\|b', '9|1') GROUP BY CAST((s."key_hash" >> 52) AS BIGINT)
ON CONFLICT ("bucket") DO UPDATE SET "n" = "n" + excluded."n", "digest" = xor("digest", excluded."digest");
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT CAST((st."key_hash" >> 52) AS BIGINT) AS "bucket", count(*) AS "n", bit_xor(st."hash") AS "digest" FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed" GROUP BY CAST((st."key_hash" >> 52) AS BIGINT)
ON CONFLICT ("bucket") DO UPDATE SET "n" = "n" + excluded."n", "digest" = xor("digest", excluded."digest");
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" WHERE "key" IN ('7|42', 'it''s|a\|b', '9|1');
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash") SELECT "key", "key_hash", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed";

-- merge of staged rows (deferred destinations)
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT b AS "bucket", sum(dn) AS "n", xor(COALESCE(bit_xor(added), 0), COALESCE(bit_xor(gone), 0)) AS "digest" FROM (
  SELECT CAST((s."key_hash" >> 52) AS BIGINT) AS b, -1 AS dn, NULL AS added, s."hash" AS gone FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef")
  UNION ALL
  SELECT CAST((st."key_hash" >> 52) AS BIGINT), 1, st."hash", NULL FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed"
) AS x GROUP BY b
ON CONFLICT ("bucket") DO UPDATE SET "n" = "n" + excluded."n", "digest" = xor("digest", excluded."digest");
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" WHERE "key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE "removed");
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash") SELECT "key", "key_hash", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed"
ON CONFLICT ("key") DO UPDATE SET "key_hash" = excluded."key_hash", "hash" = excluded."hash";
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- reset
DROP TABLE IF EXISTS "riptide"."snapshot_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."stage_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."buckets_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."meta_users___crm_22b2f7ef";
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" VARCHAR NOT NULL PRIMARY KEY, "key_hash" UBIGINT NOT NULL, "hash" UBIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" VARCHAR NOT NULL, "key_hash" UBIGINT, "hash" UBIGINT, "removed" BOOLEAN NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" BIGINT NOT NULL PRIMARY KEY, "n" BIGINT NOT NULL, "digest" UBIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" BIGINT NOT NULL, "hash_function" VARCHAR NOT NULL, "bucket_bits" BIGINT NOT NULL);

-- meta
SELECT "format", "hash_function", "bucket_bits" FROM "riptide"."meta_users___crm_22b2f7ef";
SELECT 'duckdb hash() ' || version();

-- rebucket with 14 bits
DELETE FROM "riptide"."buckets_users___crm_22b2f7ef";
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT CAST(("key_hash" >> 50) AS BIGINT), count(*), bit_xor("hash") FROM "riptide"."snapshot_users___crm_22b2f7ef" GROUP BY CAST(("key_hash" >> 50) AS BIGINT);
DELETE FROM "riptide"."meta_users___crm_22b2f7ef";
INSERT INTO "riptide"."meta_users___crm_22b2f7ef" ("format", "hash_function", "bucket_bits") SELECT 3, 'duckdb hash() ' || version(), 14;

-- fill
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash")
SELECT (replace(replace(CAST(q."account_id" AS VARCHAR), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR), '\', '\\'), '|', '\|')), hash(q."account_id", q."user_id"), hash('1234abcd5678ef90', q."account_id", q."user_id", q."email", q."first name")
FROM (
select account_id, user_id, email, "first name", plan from users where active
) AS q
WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL;

-- integer key (its own key hash: true)
SET preserve_insertion_order = false;
WITH a AS MATERIALIZED (
  SELECT ((CAST(q."id" AS BIGINT) >> 44) + 524288) AS "__riptide_bucket", count(*) AS "__riptide_n", bit_xor(hash('0000000000000007', q."id", q."id", q."total")) AS "__riptide_hash"
  FROM (
select id, total from orders
  ) AS q
  WHERE q."id" IS NOT NULL
  GROUP BY ((CAST(q."id" AS BIGINT) >> 44) + 524288)
),
d AS MATERIALIZED (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_orders" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT CAST(q."id" AS VARCHAR) AS "__riptide_key", CAST(CAST(q."id" AS HUGEINT) + 9223372036854775808 AS UBIGINT) AS "__riptide_key_hash", hash('0000000000000007', q."id", q."id", q."total") AS "__riptide_hash", q."id", q."total"
  FROM (
select id, total from orders
  ) AS q
  WHERE q."id" IS NULL OR ((CAST(q."id" AS BIGINT) >> 44) + 524288) IN (SELECT "__riptide_bucket" FROM d)
),
s AS (
  SELECT "key_hash", "hash" FROM "riptide"."snapshot_orders"
  WHERE CAST(("key_hash" >> 44) AS BIGINT) IN (SELECT "__riptide_bucket" FROM d)
),
dup AS (
  SELECT "__riptide_key_hash", count(*) AS "__riptide_n" FROM m WHERE "__riptide_key_hash" IS NOT NULL GROUP BY "__riptide_key_hash" HAVING count(*) > 1
),
j AS MATERIALIZED (
  SELECT CASE
      WHEN m."__riptide_key_hash" IS NULL AND s."key_hash" IS NULL THEN 'null_key'
      WHEN m."__riptide_key_hash" IS NULL THEN 'removed'
      WHEN dup."__riptide_key_hash" IS NOT NULL THEN 'duplicate'
      WHEN s."key_hash" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", CAST(CAST(s."key_hash" AS HUGEINT) - 9223372036854775808 AS VARCHAR)) AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."id", m."total"
  FROM m
  FULL OUTER JOIN s ON s."key_hash" = m."__riptide_key_hash"
  LEFT JOIN dup ON dup."__riptide_key_hash" = m."__riptide_key_hash"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "id", "total" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL;

-- integer key: key range, bucket range and hash function
SELECT CAST(min("key_hash") AS VARCHAR), CAST(max("key_hash") AS VARCHAR) FROM "riptide"."snapshot_orders";
SELECT CAST(min("bucket") AS VARCHAR), CAST(max("bucket") AS VARCHAR) FROM "riptide"."buckets_orders";
SELECT ('duckdb hash() ' || version() || ', integer key');

