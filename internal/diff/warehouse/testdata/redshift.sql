-- setup
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" VARCHAR(65535) NOT NULL PRIMARY KEY, "key_hash" BIGINT NOT NULL, "hash" BIGINT NOT NULL) DISTKEY("key") SORTKEY("key");
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" VARCHAR(65535) NOT NULL, "key_hash" BIGINT, "hash" BIGINT, "removed" BOOLEAN NOT NULL) DISTKEY("key") SORTKEY("key");
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" BIGINT NOT NULL PRIMARY KEY, "n" BIGINT NOT NULL, "digest" DECIMAL(38, 0) NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" BIGINT NOT NULL, "hash_function" VARCHAR(65535) NOT NULL, "bucket_bits" BIGINT NOT NULL);
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- plan
WITH a AS (
  SELECT (FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) >> 52) AS "__riptide_bucket", count(*) AS "__riptide_n", sum(CAST(FNV_HASH(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE ('V' || CAST(LEN((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS VARCHAR(65535)) || ':' || (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."email" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."email" AS VARCHAR(65535))) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."first name" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."first name" AS VARCHAR(65535))) END)) AS DECIMAL(38, 0))) AS "__riptide_hash"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL
  GROUP BY (FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) >> 52)
),
d AS (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_users___crm_22b2f7ef" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) AS "__riptide_key", FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS "__riptide_key_hash", FNV_HASH(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE ('V' || CAST(LEN((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS VARCHAR(65535)) || ':' || (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."email" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."email" AS VARCHAR(65535))) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."first name" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."first name" AS VARCHAR(65535))) END)) AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  LEFT JOIN (SELECT DISTINCT "__riptide_bucket" FROM d) AS d ON d."__riptide_bucket" = (FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) >> 52)
  WHERE q."account_id" IS NULL OR q."user_id" IS NULL OR d."__riptide_bucket" IS NOT NULL
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "riptide"."snapshot_users___crm_22b2f7ef"
  WHERE ("key_hash" >> 52) IN (SELECT "__riptide_bucket" FROM d)
),
dup AS (
  SELECT "__riptide_key", count(*) AS "__riptide_n" FROM m WHERE "__riptide_key" IS NOT NULL GROUP BY "__riptide_key" HAVING count(*) > 1
),
j AS (
  SELECT CASE
      WHEN m."__riptide_key" IS NULL AND s."key" IS NULL THEN 'null_key'
      WHEN m."__riptide_key" IS NULL THEN 'removed'
      WHEN dup."__riptide_key" IS NOT NULL THEN 'duplicate'
      WHEN s."key" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR(65535)) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR(65535)) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL, NULL, NULL, NULL;

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) AS "__riptide_key", FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS "__riptide_key_hash", FNV_HASH(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE ('V' || CAST(LEN((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS VARCHAR(65535)) || ':' || (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."email" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."email" AS VARCHAR(65535))) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."first name" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."first name" AS VARCHAR(65535))) END)) AS "__riptide_hash", q."account_id", q."user_id", q."email", q."first name", q."plan"
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
j AS (
  SELECT CASE
      WHEN m."__riptide_key" IS NULL AND s."key" IS NULL THEN 'null_key'
      WHEN m."__riptide_key" IS NULL THEN 'removed'
      WHEN dup."__riptide_key" IS NOT NULL THEN 'duplicate'
      WHEN s."key" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR(65535)) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR(65535)) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j;

-- commit point
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";
INSERT INTO "riptide"."stage_users___crm_22b2f7ef" ("key", "key_hash", "hash", "removed") VALUES ('7|42', 81985529216486895, -81985529216486896, FALSE), ('it\'s|a\\|b', 42, 1, FALSE), ('9|1', NULL, NULL, TRUE);
MERGE INTO "riptide"."buckets_users___crm_22b2f7ef" AS t USING (
SELECT b AS "bucket", sum(dn) AS "n", COALESCE(sum(CAST(added AS DECIMAL(38, 0))), 0) - COALESCE(sum(CAST(gone AS DECIMAL(38, 0))), 0) AS "digest" FROM (
  SELECT (s."key_hash" >> 52) AS b, -1 AS dn, NULL AS added, s."hash" AS gone FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef")
  UNION ALL
  SELECT (st."key_hash" >> 52), 1, st."hash", NULL FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed"
) AS x GROUP BY b
) AS s ON t."bucket" = s."bucket"
WHEN MATCHED THEN UPDATE SET "n" = t."n" + s."n", "digest" = t."digest" + s."digest"
WHEN NOT MATCHED THEN INSERT ("bucket", "n", "digest") VALUES (s."bucket", s."n", s."digest");
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" USING "riptide"."stage_users___crm_22b2f7ef" AS s WHERE "riptide"."snapshot_users___crm_22b2f7ef"."key" = s."key";
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash") SELECT "key", "key_hash", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed";

-- merge of staged rows (deferred destinations)
MERGE INTO "riptide"."buckets_users___crm_22b2f7ef" AS t USING (
SELECT b AS "bucket", sum(dn) AS "n", COALESCE(sum(CAST(added AS DECIMAL(38, 0))), 0) - COALESCE(sum(CAST(gone AS DECIMAL(38, 0))), 0) AS "digest" FROM (
  SELECT (s."key_hash" >> 52) AS b, -1 AS dn, NULL AS added, s."hash" AS gone FROM "riptide"."snapshot_users___crm_22b2f7ef" AS s WHERE s."key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef")
  UNION ALL
  SELECT (st."key_hash" >> 52), 1, st."hash", NULL FROM "riptide"."stage_users___crm_22b2f7ef" AS st WHERE NOT st."removed"
) AS x GROUP BY b
) AS s ON t."bucket" = s."bucket"
WHEN MATCHED THEN UPDATE SET "n" = t."n" + s."n", "digest" = t."digest" + s."digest"
WHEN NOT MATCHED THEN INSERT ("bucket", "n", "digest") VALUES (s."bucket", s."n", s."digest");
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" USING "riptide"."stage_users___crm_22b2f7ef" AS s WHERE "riptide"."snapshot_users___crm_22b2f7ef"."key" = s."key";
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash") SELECT "key", "key_hash", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed";
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- reset
DROP TABLE IF EXISTS "riptide"."snapshot_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."stage_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."buckets_users___crm_22b2f7ef";
DROP TABLE IF EXISTS "riptide"."meta_users___crm_22b2f7ef";
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" VARCHAR(65535) NOT NULL PRIMARY KEY, "key_hash" BIGINT NOT NULL, "hash" BIGINT NOT NULL) DISTKEY("key") SORTKEY("key");
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" VARCHAR(65535) NOT NULL, "key_hash" BIGINT, "hash" BIGINT, "removed" BOOLEAN NOT NULL) DISTKEY("key") SORTKEY("key");
CREATE TABLE IF NOT EXISTS "riptide"."buckets_users___crm_22b2f7ef" ("bucket" BIGINT NOT NULL PRIMARY KEY, "n" BIGINT NOT NULL, "digest" DECIMAL(38, 0) NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."meta_users___crm_22b2f7ef" ("format" BIGINT NOT NULL, "hash_function" VARCHAR(65535) NOT NULL, "bucket_bits" BIGINT NOT NULL);

-- meta
SELECT "format", "hash_function", "bucket_bits" FROM "riptide"."meta_users___crm_22b2f7ef";
SELECT 'fnv_hash';

-- rebucket with 14 bits
DELETE FROM "riptide"."buckets_users___crm_22b2f7ef";
INSERT INTO "riptide"."buckets_users___crm_22b2f7ef" ("bucket", "n", "digest")
SELECT ("key_hash" >> 50), count(*), sum(CAST("hash" AS DECIMAL(38, 0))) FROM "riptide"."snapshot_users___crm_22b2f7ef" GROUP BY ("key_hash" >> 50);
DELETE FROM "riptide"."meta_users___crm_22b2f7ef";
INSERT INTO "riptide"."meta_users___crm_22b2f7ef" ("format", "hash_function", "bucket_bits") SELECT 3, 'fnv_hash', 14;

-- fill
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "key_hash", "hash")
SELECT (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')), FNV_HASH((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))), FNV_HASH(('1234abcd5678ef90:' || CASE WHEN (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE ('V' || CAST(LEN((replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) AS VARCHAR(65535)) || ':' || (replace(replace(CAST(q."account_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|') || '|' || replace(replace(CAST(q."user_id" AS VARCHAR(65535)), '\\', '\\\\'), '|', '\\|'))) END || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."email" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."email" AS VARCHAR(65535))) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."first name" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."first name" AS VARCHAR(65535))) END))
FROM (
select account_id, user_id, email, "first name", plan from users where active
) AS q
WHERE q."account_id" IS NOT NULL AND q."user_id" IS NOT NULL;

-- integer key (its own key hash: false)
WITH a AS (
  SELECT (FNV_HASH(CAST(q."id" AS VARCHAR(65535))) >> 44) AS "__riptide_bucket", count(*) AS "__riptide_n", sum(CAST(FNV_HASH(('0000000000000007:' || CASE WHEN CAST(q."id" AS VARCHAR(65535)) IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."id" AS VARCHAR(65535))) END || CASE WHEN q."id" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."id" AS VARCHAR(65535))) END || CASE WHEN q."total" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."total" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."total" AS VARCHAR(65535))) END)) AS DECIMAL(38, 0))) AS "__riptide_hash"
  FROM (
select id, total from orders
  ) AS q
  WHERE q."id" IS NOT NULL
  GROUP BY (FNV_HASH(CAST(q."id" AS VARCHAR(65535))) >> 44)
),
d AS (
  SELECT COALESCE(a."__riptide_bucket", k."bucket") AS "__riptide_bucket"
  FROM a FULL OUTER JOIN "riptide"."buckets_orders" AS k ON k."bucket" = a."__riptide_bucket"
  WHERE COALESCE(a."__riptide_n", 0) <> COALESCE(k."n", 0) OR COALESCE(a."__riptide_hash", 0) <> COALESCE(k."digest", 0)
),
m AS (
  SELECT CAST(q."id" AS VARCHAR(65535)) AS "__riptide_key", FNV_HASH(CAST(q."id" AS VARCHAR(65535))) AS "__riptide_key_hash", FNV_HASH(('0000000000000007:' || CASE WHEN CAST(q."id" AS VARCHAR(65535)) IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."id" AS VARCHAR(65535))) END || CASE WHEN q."id" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."id" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."id" AS VARCHAR(65535))) END || CASE WHEN q."total" IS NULL THEN 'N' ELSE ('V' || CAST(LEN(CAST(q."total" AS VARCHAR(65535))) AS VARCHAR(65535)) || ':' || CAST(q."total" AS VARCHAR(65535))) END)) AS "__riptide_hash", q."id", q."total"
  FROM (
select id, total from orders
  ) AS q
  LEFT JOIN (SELECT DISTINCT "__riptide_bucket" FROM d) AS d ON d."__riptide_bucket" = (FNV_HASH(CAST(q."id" AS VARCHAR(65535))) >> 44)
  WHERE q."id" IS NULL OR d."__riptide_bucket" IS NOT NULL
),
s AS (
  SELECT "key", "key_hash", "hash" FROM "riptide"."snapshot_orders"
  WHERE ("key_hash" >> 44) IN (SELECT "__riptide_bucket" FROM d)
),
dup AS (
  SELECT "__riptide_key", count(*) AS "__riptide_n" FROM m WHERE "__riptide_key" IS NOT NULL GROUP BY "__riptide_key" HAVING count(*) > 1
),
j AS (
  SELECT CASE
      WHEN m."__riptide_key" IS NULL AND s."key" IS NULL THEN 'null_key'
      WHEN m."__riptide_key" IS NULL THEN 'removed'
      WHEN dup."__riptide_key" IS NOT NULL THEN 'duplicate'
      WHEN s."key" IS NULL THEN 'added'
      WHEN s."hash" <> m."__riptide_hash" THEN 'changed'
      ELSE 'unchanged'
    END AS "__riptide_op",
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", CAST(m."__riptide_hash" AS VARCHAR(65535)) AS "__riptide_hash", CAST(COALESCE(m."__riptide_key_hash", s."key_hash") AS VARCHAR(65535)) AS "__riptide_key_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."id", m."total"
  FROM m
  FULL OUTER JOIN s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_key_hash", "__riptide_n", "id", "total" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a."__riptide_n") FROM a), 0) AS BIGINT), NULL, NULL;

-- integer key: key range, bucket range and hash function
SELECT CAST(min("key_hash") AS VARCHAR(65535)), CAST(max("key_hash") AS VARCHAR(65535)) FROM "riptide"."snapshot_orders";
SELECT CAST(min("bucket") AS VARCHAR(65535)), CAST(max("bucket") AS VARCHAR(65535)) FROM "riptide"."buckets_orders";
SELECT 'fnv_hash';

