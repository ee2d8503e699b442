-- setup
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" text NOT NULL PRIMARY KEY, "key_hash" bigint NOT NULL, "hash" bigint NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" text NOT NULL, "key_hash" bigint, "hash" bigint, "removed" boolean NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" bigint NOT NULL PRIMARY KEY, "n" bigint NOT NULL, "digest" numeric NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" bigint NOT NULL, "hash_function" text NOT NULL, "bucket_bits" bigint NOT NULL);
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- plan
WITH a AS MATERIALIZED (
  SELECT (CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint) >> 52) AS "__riptide_bucket", count(*) AS "__riptide_n", sum(CAST(CAST(CAST(('x' || substr(md5(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) IS NULL THEN 'N' ELSE ('V' || CAST(length((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) AS text) || ':' || (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16)) AS bit(64)) AS bigint) AS numeric)) AS "__riptide_hash"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL
  GROUP BY (CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint) >> 52)
),
d AS MATERIALIZED (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_users___crm_22b2f7ef" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) AS "__riptide_key", CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_key_hash", CAST(CAST(('x' || substr(md5(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) IS NULL THEN 'N' ELSE ('V' || CAST(length((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) AS text) || ':' || (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  LEFT JOIN (SELECT DISTINCT "__riptide_bucket" FROM d) AS d ON d."__riptide_bucket" = (CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint) >> 52)
  WHERE q."account_id" IS NULL OR q."user_id" IS NULL OR d."__riptide_bucket" IS NOT NULL
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "riptide"."snapshot_users___crm_22b2f7ef"
  WHERE ("key_hash" >> 52) IN (SELECT "__riptide_bucket" FROM d)
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
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS text) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS text) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL, NULL, NULL, NULL;

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) AS "__riptide_key", CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_key_hash", CAST(CAST(('x' || substr(md5(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) IS NULL THEN 'N' ELSE ('V' || CAST(length((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) AS text) || ':' || (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
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
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS text) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS text) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j;

-- commit point
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";
INSERT INTO "riptide"."stage_users___crm_22b2f7ef" ("key", "key_hash", "hash", "removed") VALUES ('7|42', 81985529216486895, -81985529216486896, FALSE), ('it''s|a\|b', 42, 1, FALSE), ('9|1', NULL, NULL, TRUE);
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT (s."key_hash" >> 52) AS "bucket", -count(*) AS "n", 0 - sum(CAST(s."hash" AS numeric)) AS "digest" FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN ('7|42', 'it''s|a\|b', '9|1') GROUP BY (s."key_hash" >> 52)
ON CONFLICT ("bucket") DO UPDATE SET "n" = "buckets_users___crm_22b2f7ef"."n" + excluded."n", "digest" = "buckets_users___crm_22b2f7ef"."digest" + excluded."digest";
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT (st."key_hash" >> 52) AS "bucket", count(*) AS "n", sum(CAST(st."hash" AS numeric)) AS "digest" FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed" GROUP BY (st."key_hash" >> 52)
ON CONFLICT ("bucket") DO UPDATE SET "n" = "buckets_users___crm_22b2f7ef"."n" + excluded."n", "digest" = "buckets_users___crm_22b2f7ef"."digest" + excluded."digest";
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" WHERE "key" IN ('7|42', 'it''s|a\|b', '9|1');
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash") SELECT "key", "key_hash", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed";

-- merge of staged rows (deferred destinations)
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT b AS "bucket", sum(dn) AS "n", COALESCE(sum(CAST(added AS numeric)), 0) - COALESCE(sum(CAST(gone AS numeric)), 0) AS "digest" FROM (
  SELECT (s."key_hash" >> 52) AS b, -1 AS dn, NULL AS added, s."hash" AS gone FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef")
  UNION ALL
  SELECT (st."key_hash" >> 52), 1, st."hash", NULL FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed"
) AS x GROUP BY b
ON CONFLICT ("bucket") DO UPDATE SET "n" = "buckets_users___crm_22b2f7ef"."n" + excluded."n", "digest" = "buckets_users___crm_22b2f7ef"."digest" + excluded."digest";
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
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" text NOT NULL PRIMARY KEY, "key_hash" bigint NOT NULL, "hash" bigint NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" text NOT NULL, "key_hash" bigint, "hash" bigint, "removed" boolean NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" bigint NOT NULL PRIMARY KEY, "n" bigint NOT NULL, "digest" numeric NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" bigint NOT NULL, "hash_function" text NOT NULL, "bucket_bits" bigint NOT NULL);

-- meta
SELECT "format", "hash_function", "bucket_bits" FROM "riptide"."meta_users___crm_22b2f7ef";
SELECT 'md5';

-- rebucket with 14 bits
DELETE FROM "riptide"."buckets_users___crm_22b2f7ef";
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT ("key_hash" >> 50), count(*), sum(CAST("hash" AS numeric)) FROM "riptide"."snapshot_users___crm_22b2f7ef" GROUP BY ("key_hash" >> 50);
DELETE FROM "riptide"."meta_users___crm_22b2f7ef";
INSERT INTO "riptide"."meta_users___crm_22b2f7ef" ("format", "hash_function", "bucket_bits") SELECT 3, 'md5', 14;

-- fill
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash")
SELECT (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')), CAST(CAST(('x' || substr(md5((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))), 1, 16)) AS bit(64)) AS bigint), CAST(CAST(('x' || substr(md5(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) IS NULL THEN 'N' ELSE ('V' || CAST(length((replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) AS text) || ':' || (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16)) AS bit(64)) AS bigint)
FROM (
select account_id, user_id, email, "first name", plan from users where active
) AS q
WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL;

-- integer key (its own key hash: false)
WITH a AS MATERIALIZED (
  SELECT (CAST(CAST(('x' || substr(md5(CAST(q."id" AS text)), 1, 16)) AS bit(64)) AS bigint) >> 44) AS "__riptide_bucket", count(*) AS "__riptide_n", sum(CAST(CAST(CAST(('x' || substr(md5(('0000000000000007:' || CASE WHEN CAST(q."id" AS text) IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."id" AS text)) AS text) || ':' || CAST(q."id" AS text)) END || CASE WHEN q."id" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."id" AS text)) AS text) || ':' || CAST(q."id" AS text)) END || CASE WHEN q."total" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."total" AS text)) AS text) || ':' || CAST(q."total" AS text)) END)), 1, 16)) AS bit(64)) AS bigint) AS numeric)) AS "__riptide_hash"
  FROM (
select id, total from orders
  ) AS q
  WHERE q."id" IS NOT NULL
  GROUP BY (CAST(CAST(('x' || substr(md5(CAST(q."id" AS text)), 1, 16)) AS bit(64)) AS bigint) >> 44)
),
d AS MATERIALIZED (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_orders" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT CAST(q."id" AS text) AS "__riptide_key", CAST(CAST(('x' || substr(md5(CAST(q."id" AS text)), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_key_hash", CAST(CAST(('x' || substr(md5(('0000000000000007:' || CASE WHEN CAST(q."id" AS text) IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."id" AS text)) AS text) || ':' || CAST(q."id" AS text)) END || CASE WHEN q."id" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."id" AS text)) AS text) || ':' || CAST(q."id" AS text)) END || CASE WHEN q."total" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."total" AS text)) AS text) || ':' || CAST(q."total" AS text)) END)), 1, 16)) AS bit(64)) AS bigint) AS "__riptide_hash", q."id", q."total"
  FROM (
select id, total from orders
  ) AS q
  LEFT JOIN (SELECT DISTINCT "__riptide_bucket" FROM d) AS d ON d."__riptide_bucket" = (CAST(CAST(('x' || substr(md5(CAST(q."id" AS text)), 1, 16)) AS bit(64)) AS bigint) >> 44)
  WHERE q."id" IS NULL OR d."__riptide_bucket" IS NOT NULL
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "riptide"."snapshot_orders"
  WHERE ("key_hash" >> 44) IN (SELECT "__riptide_bucket" FROM d)
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
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS text) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS text) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."id", m."total"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "id", "total" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL;

-- integer key: key range, bucket range and hash function
SELECT CAST(min("key_hash") AS text), CAST(max("key_hash") AS text) FROM "riptide"."snapshot_orders";
SELECT CAST(min("bucket") AS text), CAST(max("bucket") AS text) FROM "riptide"."buckets_orders";
SELECT 'md5';

