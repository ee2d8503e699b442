-- setup
CREATE DATABASE IF NOT EXISTS `riptide`;
CREATE TABLE IF NOT EXISTS `riptide`.`snapshot_users___crm_22b2f7ef` (`key` String, `key_hash` UInt64, `hash` UInt64) ENGINE = MergeTree ORDER BY `key`;
CREATE TABLE IF NOT EXISTS `riptide`.`stage_users___crm_22b2f7ef` (`key` String, `key_hash` Nullable(UInt64), `hash` Nullable(UInt64), `removed` Bool) ENGINE = MergeTree ORDER BY `key`;
CREATE TABLE IF NOT EXISTS `riptide`.`buckets_users___crm_22b2f7ef` (`bucket` Int64, `n` Int64, `digest` Int128) ENGINE = SummingMergeTree ORDER BY `bucket`;
CREATE TABLE IF NOT EXISTS `riptide`.`meta_users___crm_22b2f7ef` (`format` Int64, `hash_function` String, `bucket_bits` Int64) ENGINE = MergeTree ORDER BY tuple();
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;

-- plan
WITH a AS (
  SELECT bitShiftRight(sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))), 52) AS `__riptide_bucket`, count(*) AS `__riptide_n`, sum(toInt128(sipHash64(concat('1234abcd5678ef90:', CASE WHEN concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE concat('V', toString(length(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')))), ':', concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END)))) AS `__riptide_hash`
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q.`account_id` IS NOT NULL AND q.`user_id` IS NOT NULL
  GROUP BY bitShiftRight(sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))), 52)
),
d AS (
  SELECT COALESCE(a.`__riptide_bucket`, k.`bucket`) AS `__riptide_bucket`
  FROM a FULL OUTER JOIN (SELECT `bucket`, sum(`n`) AS `n`, sum(`digest`) AS `digest` FROM `riptide`.`buckets_users___crm_22b2f7ef` GROUP BY `bucket`) AS k ON k.`bucket` = a.`__riptide_bucket`
  WHERE COALESCE(a.`__riptide_n`, 0) <> COALESCE(k.`n`, 0) OR COALESCE(a.`__riptide_hash`, 0) <> COALESCE(k.`digest`, 0)
),
m AS (
  SELECT concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) AS `__riptide_key_hash`, sipHash64(concat('1234abcd5678ef90:', CASE WHEN concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE concat('V', toString(length(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')))), ':', concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END)) AS `__riptide_hash`, q.`account_id`, q.`user_id`, q.`email`, q.`first name`, q.`plan`
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  LEFT JOIN (SELECT DISTINCT `__riptide_bucket` FROM d) AS d ON d.`__riptide_bucket` = bitShiftRight(sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))), 52)
  WHERE q.`account_id` IS NULL OR q.`user_id` IS NULL OR d.`__riptide_bucket` IS NOT NULL
),
s AS (
  SELECT `key`, `key_hash`, `hash` FROM `riptide`.`snapshot_users___crm_22b2f7ef`
  WHERE bitShiftRight(`key_hash`, 52) IN (SELECT `__riptide_bucket` FROM d)
),
dup AS (
  SELECT `__riptide_key`, count(*) AS `__riptide_n` FROM m WHERE `__riptide_key` IS NOT NULL GROUP BY `__riptide_key` HAVING count(*) > 1
),
j AS (
  SELECT CASE
      WHEN m.`__riptide_key` IS NULL AND s.`key` IS NULL THEN 'null_key'
      WHEN m.`__riptide_key` IS NULL THEN 'removed'
      WHEN dup.`__riptide_key` IS NOT NULL THEN 'duplicate'
      WHEN s.`key` IS NULL THEN 'added'
      WHEN s.`hash` <> m.`__riptide_hash` THEN 'changed'
      ELSE 'unchanged'
    END AS `__riptide_op`,
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, toString(m.`__riptide_hash`) AS `__riptide_hash`, toString(COALESCE(m.`__riptide_key_hash`, s.`key_hash`)) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j WHERE `__riptide_op` <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a.`__riptide_n`) FROM a), 0) AS BIGINT), NULL, NULL, NULL, NULL, NULL
SETTINGS join_use_nulls = 1;

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) AS `__riptide_key_hash`, sipHash64(concat('1234abcd5678ef90:', CASE WHEN concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE concat('V', toString(length(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')))), ':', concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END)) AS `__riptide_hash`, q.`account_id`, q.`user_id`, q.`email`, q.`first name`, q.`plan`
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
),
s AS (
  SELECT `key`, `key_hash`, `hash` FROM `ops_riptide`.`snapshot_users___crm_22b2f7ef`
),
dup AS (
  SELECT `__riptide_key`, count(*) AS `__riptide_n` FROM m WHERE `__riptide_key` IS NOT NULL GROUP BY `__riptide_key` HAVING count(*) > 1
),
j AS (
  SELECT CASE
      WHEN m.`__riptide_key` IS NULL AND s.`key` IS NULL THEN 'null_key'
      WHEN m.`__riptide_key` IS NULL THEN 'removed'
      WHEN dup.`__riptide_key` IS NOT NULL THEN 'duplicate'
      WHEN s.`key` IS NULL THEN 'added'
      WHEN s.`hash` <> m.`__riptide_hash` THEN 'changed'
      ELSE 'unchanged'
    END AS `__riptide_op`,
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, toString(m.`__riptide_hash`) AS `__riptide_hash`, toString(COALESCE(m.`__riptide_key_hash`, s.`key_hash`)) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j
SETTINGS join_use_nulls = 1;

-- commit point
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;
INSERT INTO `riptide`.`stage_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`, `removed`) VALUES ('7|42', 81985529216486895, 18364758544493064720, false), ('it\'s|a\\|b', 42, 1, false), ('9|1', NULL, NULL, true);
INSERT INTO `riptide`.`buckets_users___crm_22b2f7ef` (`bucket`, `n`, `digest`)
SELECT b AS `bucket`, sum(dn) AS `n`, COALESCE(sum(toInt128(added)), 0) - COALESCE(sum(toInt128(gone)), 0) AS `digest` FROM (
  SELECT bitShiftRight(s.`key_hash`, 52) AS b, -1 AS dn, NULL AS added, s.`hash` AS gone FROM `riptide`.`snapshot_users___crm_22b2f7ef` AS s WHERE s.`key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`)
  UNION ALL
  SELECT bitShiftRight(st.`key_hash`, 52), 1, st.`hash`, NULL FROM `riptide`.`stage_users___crm_22b2f7ef` AS st WHERE NOT st.`removed`
) AS x GROUP BY b;
DELETE FROM `riptide`.`snapshot_users___crm_22b2f7ef` WHERE `key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`);
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`) SELECT `key`, assumeNotNull(`key_hash`), assumeNotNull(`hash`) FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE NOT `removed`;

-- merge of staged rows (deferred destinations)
INSERT INTO `riptide`.`buckets_users___crm_22b2f7ef` (`bucket`, `n`, `digest`)
SELECT b AS `bucket`, sum(dn) AS `n`, COALESCE(sum(toInt128(added)), 0) - COALESCE(sum(toInt128(gone)), 0) AS `digest` FROM (
  SELECT bitShiftRight(s.`key_hash`, 52) AS b, -1 AS dn, NULL AS added, s.`hash` AS gone FROM `riptide`.`snapshot_users___crm_22b2f7ef` AS s WHERE s.`key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`)
  UNION ALL
  SELECT bitShiftRight(st.`key_hash`, 52), 1, st.`hash`, NULL FROM `riptide`.`stage_users___crm_22b2f7ef` AS st WHERE NOT st.`removed`
) AS x GROUP BY b;
DELETE FROM `riptide`.`snapshot_users___crm_22b2f7ef` WHERE `key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`);
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`) SELECT `key`, assumeNotNull(`key_hash`), assumeNotNull(`hash`) FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE NOT `removed`;
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;

-- reset
DROP TABLE IF EXISTS `riptide`.`snapshot_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`stage_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`buckets_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`meta_users___crm_22b2f7ef`;
CREATE DATABASE IF NOT EXISTS `riptide`;
CREATE TABLE IF NOT EXISTS `riptide`.`snapshot_users___crm_22b2f7ef` (`key` String, `key_hash` UInt64, `hash` UInt64) ENGINE = MergeTree ORDER BY `key`;
CREATE TABLE IF NOT EXISTS `riptide`.`stage_users___crm_22b2f7ef` (`key` String, `key_hash` Nullable(UInt64), `hash` Nullable(UInt64), `removed` Bool) ENGINE = MergeTree ORDER BY `key`;
CREATE TABLE IF NOT EXISTS `riptide`.`buckets_users___crm_22b2f7ef` (`bucket` Int64, `n` Int64, `digest` Int128) ENGINE = SummingMergeTree ORDER BY `bucket`;
CREATE TABLE IF NOT EXISTS `riptide`.`meta_users___crm_22b2f7ef` (`format` Int64, `hash_function` String, `bucket_bits` Int64) ENGINE = MergeTree ORDER BY tuple();

-- meta
SELECT `format`, `hash_function`, `bucket_bits` FROM `riptide`.`meta_users___crm_22b2f7ef`;
SELECT 'sipHash64';

-- rebucket with 14 bits
TRUNCATE TABLE `riptide`.`buckets_users___crm_22b2f7ef`;
INSERT INTO `riptide`.`buckets_users___crm_22b2f7ef` (`bucket`, `n`, `digest`)
SELECT bitShiftRight(`key_hash`, 50), count(*), sum(toInt128(`hash`)) FROM `riptide`.`snapshot_users___crm_22b2f7ef` GROUP BY bitShiftRight(`key_hash`, 50);
TRUNCATE TABLE `riptide`.`meta_users___crm_22b2f7ef`;
INSERT INTO `riptide`.`meta_users___crm_22b2f7ef` (`format`, `hash_function`, `bucket_bits`) SELECT 3, 'sipHash64', 14;

-- fill
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`)
SELECT concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')), sipHash64(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))), sipHash64(concat('1234abcd5678ef90:', CASE WHEN concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE concat('V', toString(length(concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')))), ':', concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END))
FROM (
select account_id, user_id, email, "first name", plan from users where active
) AS q
WHERE q.`account_id` IS NOT NULL AND q.`user_id` IS NOT NULL;

-- integer key (its own key hash: false)
WITH a AS (
  SELECT bitShiftRight(sipHash64(toString(q.`id`)), 44) AS `__riptide_bucket`, count(*) AS `__riptide_n`, sum(toInt128(sipHash64(concat('0000000000000007:', CASE WHEN toString(q.`id`) IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`id`))), ':', toString(q.`id`)) END, CASE WHEN q.`id` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`id`))), ':', toString(q.`id`)) END, CASE WHEN q.`total` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`total`))), ':', toString(q.`total`)) END)))) AS `__riptide_hash`
  FROM (
select id, total from orders
  ) AS q
  WHERE q.`id` IS NOT NULL
  GROUP BY bitShiftRight(sipHash64(toString(q.`id`)), 44)
),
d AS (
  SELECT COALESCE(a.`__riptide_bucket`, k.`bucket`) AS `__riptide_bucket`
  FROM a FULL OUTER JOIN (SELECT `bucket`, sum(`n`) AS `n`, sum(`digest`) AS `digest` FROM `riptide`.`buckets_orders` GROUP BY `bucket`) AS k ON k.`bucket` = a.`__riptide_bucket`
  WHERE COALESCE(a.`__riptide_n`, 0) <> COALESCE(k.`n`, 0) OR COALESCE(a.`__riptide_hash`, 0) <> COALESCE(k.`digest`, 0)
),
m AS (
  SELECT toString(q.`id`) AS `__riptide_key`, sipHash64(toString(q.`id`)) AS `__riptide_key_hash`, sipHash64(concat('0000000000000007:', CASE WHEN toString(q.`id`) IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`id`))), ':', toString(q.`id`)) END, CASE WHEN q.`id` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`id`))), ':', toString(q.`id`)) END, CASE WHEN q.`total` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`total`))), ':', toString(q.`total`)) END)) AS `__riptide_hash`, q.`id`, q.`total`
  FROM (
select id, total from orders
  ) AS q
  LEFT JOIN (SELECT DISTINCT `__riptide_bucket` FROM d) AS d ON d.`__riptide_bucket` = bitShiftRight(sipHash64(toString(q.`id`)), 44)
  WHERE q.`id` IS NULL OR d.`__riptide_bucket` IS NOT NULL
),
s AS (
  SELECT `key`, `key_hash`, `hash` FROM `riptide`.`snapshot_orders`
  WHERE bitShiftRight(`key_hash`, 44) IN (SELECT `__riptide_bucket` FROM d)
),
dup AS (
  SELECT `__riptide_key`, count(*) AS `__riptide_n` FROM m WHERE `__riptide_key` IS NOT NULL GROUP BY `__riptide_key` HAVING count(*) > 1
),
j AS (
  SELECT CASE
      WHEN m.`__riptide_key` IS NULL AND s.`key` IS NULL THEN 'null_key'
      WHEN m.`__riptide_key` IS NULL THEN 'removed'
      WHEN dup.`__riptide_key` IS NOT NULL THEN 'duplicate'
      WHEN s.`key` IS NULL THEN 'added'
      WHEN s.`hash` <> m.`__riptide_hash` THEN 'changed'
      ELSE 'unchanged'
    END AS `__riptide_op`,
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, toString(m.`__riptide_hash`) AS `__riptide_hash`, toString(COALESCE(m.`__riptide_key_hash`, s.`key_hash`)) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`id`, m.`total`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `id`, `total` FROM j WHERE `__riptide_op` <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a.`__riptide_n`) FROM a), 0) AS BIGINT), NULL, NULL
SETTINGS join_use_nulls = 1;

-- integer key: key range, bucket range and hash function
SELECT toString(min(`key_hash`)), toString(max(`key_hash`)) FROM `riptide`.`snapshot_orders`;
SELECT toString(min(`bucket`)), toString(max(`bucket`)) FROM `riptide`.`buckets_orders`;
SELECT 'sipHash64';

