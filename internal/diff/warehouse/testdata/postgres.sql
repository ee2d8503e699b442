-- setup
CREATE SCHEMA IF NOT EXISTS "riptide";
CREATE TABLE IF NOT EXISTS "riptide"."snapshot_users___crm_22b2f7ef" ("key" text NOT NULL PRIMARY KEY, "hash" text NOT NULL);
CREATE TABLE IF NOT EXISTS "riptide"."stage_users___crm_22b2f7ef" ("key" text NOT NULL, "hash" text, "removed" boolean NOT NULL);
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- plan
WITH m AS (
  SELECT (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) AS "__riptide_key", substr(md5(('1234abcd5678ef90:' || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16) AS "__riptide_hash", q.*
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
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
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", m."__riptide_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN "riptide"."snapshot_users___crm_22b2f7ef" AS s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j WHERE "__riptide_op" <> 'unchanged'
UNION ALL
SELECT 'unchanged', NULL, NULL, count(*), NULL, NULL, NULL, NULL, NULL FROM j WHERE "__riptide_op" = 'unchanged';

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT (replace(replace(CAST(q."account_id" AS text), '\', '\\'), '|', '\|') || '|' || replace(replace(CAST(q."user_id" AS text), '\', '\\'), '|', '\|')) AS "__riptide_key", substr(md5(('1234abcd5678ef90:' || CASE WHEN q."email" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."email" AS text)) AS text) || ':' || CAST(q."email" AS text)) END || CASE WHEN q."first name" IS NULL THEN 'N' ELSE ('V' || CAST(length(CAST(q."first name" AS text)) AS text) || ':' || CAST(q."first name" AS text)) END)), 1, 16) AS "__riptide_hash", q.*
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
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
    COALESCE(m."__riptide_key", s."key") AS "__riptide_key", m."__riptide_hash", COALESCE(dup."__riptide_n", 1) AS "__riptide_n", m."account_id", m."user_id", m."email", m."first name", m."plan"
  FROM m
  FULL OUTER JOIN "ops_riptide"."snapshot_users___crm_22b2f7ef" AS s ON s."key" = m."__riptide_key"
  LEFT JOIN dup ON dup."__riptide_key" = m."__riptide_key"
)
SELECT "__riptide_op", "__riptide_key", "__riptide_hash", "__riptide_n", "account_id", "user_id", "email", "first name", "plan" FROM j;

-- commit point
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";
INSERT INTO "riptide"."stage_users___crm_22b2f7ef" ("key", "hash", "removed") VALUES ('7|42', '0123456789abcdef', FALSE), ('it''s|a\|b', 'fedcba9876543210', FALSE), ('9|1', NULL, TRUE);
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" WHERE "key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE "removed");
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "hash") SELECT "key", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed"
ON CONFLICT ("key") DO UPDATE SET "hash" = excluded."hash";

-- merge of staged rows (deferred destinations)
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef" WHERE "key" IN (SELECT "key" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE "removed");
INSERT INTO "riptide"."snapshot_users___crm_22b2f7ef" ("key", "hash") SELECT "key", "hash" FROM "riptide"."stage_users___crm_22b2f7ef" WHERE NOT "removed"
ON CONFLICT ("key") DO UPDATE SET "hash" = excluded."hash";
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";

-- reset
DELETE FROM "riptide"."stage_users___crm_22b2f7ef";
DELETE FROM "riptide"."snapshot_users___crm_22b2f7ef";

