-- setup
CREATE SCHEMA IF NOT EXISTS `riptide`;
CREATE TABLE IF NOT EXISTS `riptide`.`snapshot_users___crm_22b2f7ef` (`key` STRING NOT NULL, `key_hash` INT64 NOT NULL, `hash` INT64 NOT NULL, PRIMARY KEY (`key`) NOT ENFORCED);
CREATE TABLE IF NOT EXISTS `riptide`.`stage_users___crm_22b2f7ef` (`key` STRING NOT NULL, `key_hash` INT64, `hash` INT64, `removed` BOOL NOT NULL);
CREATE TABLE IF NOT EXISTS `riptide`.`buckets_users___crm_22b2f7ef` (`bucket` INT64 NOT NULL, `n` INT64 NOT NULL, `digest` BIGNUMERIC NOT NULL, PRIMARY KEY (`bucket`) NOT ENFORCED);
CREATE TABLE IF NOT EXISTS `riptide`.`meta_users___crm_22b2f7ef` (`format` INT64 NOT NULL, `hash_function` STRING NOT NULL, `bucket_bits` INT64 NOT NULL);
DELETE FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE TRUE;

-- plan
WITH a AS (
  SELECT (FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) >> 52) AS `__riptide_bucket`, count(*) AS `__riptide_n`, SUM(CAST(FARM_FINGERPRINT(CONCAT('1234abcd5678ef90:', CASE WHEN CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS STRING), ':', CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`email` AS STRING)) AS STRING), ':', CAST(q.`email` AS STRING)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`first name` AS STRING)) AS STRING), ':', CAST(q.`first name` AS STRING)) END)) AS BIGNUMERIC)) AS `__riptide_hash`
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  WHERE q.`account_id` IS NOT NULL AND q.`user_id` IS NOT NULL
  GROUP BY (FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) >> 52)
),
d AS (
  SELECT COALESCE(a.`__riptide_bucket`, k.`bucket`) AS `__riptide_bucket`
  FROM a FULL OUTER JOIN `riptide`.`buckets_users___crm_22b2f7ef` AS k ON k.`bucket` = a.`__riptide_bucket`
  WHERE COALESCE(a.`__riptide_n`, 0) <> COALESCE(k.`n`, 0) OR COALESCE(a.`__riptide_hash`, 0) <> COALESCE(k.`digest`, 0)
),
m AS (
  SELECT CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS `__riptide_key_hash`, FARM_FINGERPRINT(CONCAT('1234abcd5678ef90:', CASE WHEN CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS STRING), ':', CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`email` AS STRING)) AS STRING), ':', CAST(q.`email` AS STRING)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`first name` AS STRING)) AS STRING), ':', CAST(q.`first name` AS STRING)) END)) AS `__riptide_hash`, q.`account_id`, q.`user_id`, q.`email`, q.`first name`, q.`plan`
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
  LEFT JOIN (SELECT DISTINCT `__riptide_bucket` FROM d) AS d ON d.`__riptide_bucket` = (FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) >> 52)
  WHERE q.`account_id` IS NULL OR q.`user_id` IS NULL OR d.`__riptide_bucket` IS NOT NULL
),
s AS (
  SELECT `key`, `key_hash`, `hash` FROM `riptide`.`snapshot_users___crm_22b2f7ef`
  WHERE (`key_hash` >> 52) IN (SELECT `__riptide_bucket` FROM d)
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
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, CAST(m.`__riptide_hash` AS STRING) AS `__riptide_hash`, CAST(COALESCE(m.`__riptide_key_hash`, s.`key_hash`) AS STRING) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j WHERE `__riptide_op` <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a.`__riptide_n`) FROM a), 0) AS BIGINT), NULL, NULL, NULL, NULL, NULL;

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS `__riptide_key_hash`, FARM_FINGERPRINT(CONCAT('1234abcd5678ef90:', CASE WHEN CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS STRING), ':', CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`email` AS STRING)) AS STRING), ':', CAST(q.`email` AS STRING)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`first name` AS STRING)) AS STRING), ':', CAST(q.`first name` AS STRING)) END)) AS `__riptide_hash`, q.`account_id`, q.`user_id`, q.`email`, q.`first name`, q.`plan`
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
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, CAST(m.`__riptide_hash` AS STRING) AS `__riptide_hash`, CAST(COALESCE(m.`__riptide_key_hash`, s.`key_hash`) AS STRING) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j;

-- commit point
DELETE FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE TRUE;
INSERT INTO `riptide`.`stage_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`, `removed`) VALUES ('7|42', 81985529216486895, -81985529216486896, FALSE), ('it\'s|a\\|b', 42, 1, FALSE), ('9|1', NULL, NULL, TRUE);
MERGE INTO `riptide`.`buckets_users___crm_22b2f7ef` AS t USING (
SELECT b AS `bucket`, sum(dn) AS `n`, COALESCE(SUM(CAST(added AS BIGNUMERIC)), 0) - COALESCE(SUM(CAST(gone AS BIGNUMERIC)), 0) AS `digest` FROM (
  SELECT (s.`key_hash` >> 52) AS b, -1 AS dn, NULL AS added, s.`hash` AS gone FROM `riptide`.`snapshot_users___crm_22b2f7ef` AS s WHERE s.`key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`)
  UNION ALL
  SELECT (st.`key_hash` >> 52), 1, st.`hash`, NULL FROM `riptide`.`stage_users___crm_22b2f7ef` AS st WHERE NOT st.`removed`
) AS x GROUP BY b
) AS s ON t.`bucket` = s.`bucket`
WHEN MATCHED THEN UPDATE SET `n` = t.`n` + s.`n`, `digest` = t.`digest` + s.`digest`
WHEN NOT MATCHED THEN INSERT (`bucket`, `n`, `digest`) VALUES (s.`bucket`, s.`n`, s.`digest`);
MERGE INTO `riptide`.`snapshot_users___crm_22b2f7ef` AS t USING `riptide`.`stage_users___crm_22b2f7ef` AS s ON t.`key` = s.`key`
WHEN MATCHED AND s.`removed` THEN DELETE
WHEN MATCHED THEN UPDATE SET `key_hash` = s.`key_hash`, `hash` = s.`hash`
WHEN NOT MATCHED AND NOT s.`removed` THEN INSERT (`key`, `key_hash`, `hash`) VALUES (s.`key`, s.`key_hash`, s.`hash`);

-- merge of staged rows (deferred destinations)
MERGE INTO `riptide`.`buckets_users___crm_22b2f7ef` AS t USING (
SELECT b AS `bucket`, sum(dn) AS `n`, COALESCE(SUM(CAST(added AS BIGNUMERIC)), 0) - COALESCE(SUM(CAST(gone AS BIGNUMERIC)), 0) AS `digest` FROM (
  SELECT (s.`key_hash` >> 52) AS b, -1 AS dn, NULL AS added, s.`hash` AS gone FROM `riptide`.`snapshot_users___crm_22b2f7ef` AS s WHERE s.`key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`)
  UNION ALL
  SELECT (st.`key_hash` >> 52), 1, st.`hash`, NULL FROM `riptide`.`stage_users___crm_22b2f7ef` AS st WHERE NOT st.`removed`
) AS x GROUP BY b
) AS s ON t.`bucket` = s.`bucket`
WHEN MATCHED THEN UPDATE SET `n` = t.`n` + s.`n`, `digest` = t.`digest` + s.`digest`
WHEN NOT MATCHED THEN INSERT (`bucket`, `n`, `digest`) VALUES (s.`bucket`, s.`n`, s.`digest`);
MERGE INTO `riptide`.`snapshot_users___crm_22b2f7ef` AS t USING `riptide`.`stage_users___crm_22b2f7ef` AS s ON t.`key` = s.`key`
WHEN MATCHED AND s.`removed` THEN DELETE
WHEN MATCHED THEN UPDATE SET `key_hash` = s.`key_hash`, `hash` = s.`hash`
WHEN NOT MATCHED AND NOT s.`removed` THEN INSERT (`key`, `key_hash`, `hash`) VALUES (s.`key`, s.`key_hash`, s.`hash`);
DELETE FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE TRUE;

-- reset
DROP TABLE IF EXISTS `riptide`.`snapshot_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`stage_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`buckets_users___crm_22b2f7ef`;
DROP TABLE IF EXISTS `riptide`.`meta_users___crm_22b2f7ef`;
CREATE SCHEMA IF NOT EXISTS `riptide`;
CREATE TABLE IF NOT EXISTS `riptide`.`snapshot_users___crm_22b2f7ef` (`key` STRING NOT NULL, `key_hash` INT64 NOT NULL, `hash` INT64 NOT NULL, PRIMARY KEY (`key`) NOT ENFORCED);
CREATE TABLE IF NOT EXISTS `riptide`.`stage_users___crm_22b2f7ef` (`key` STRING NOT NULL, `key_hash` INT64, `hash` INT64, `removed` BOOL NOT NULL);
CREATE TABLE IF NOT EXISTS `riptide`.`buckets_users___crm_22b2f7ef` (`bucket` INT64 NOT NULL, `n` INT64 NOT NULL, `digest` BIGNUMERIC NOT NULL, PRIMARY KEY (`bucket`) NOT ENFORCED);
CREATE TABLE IF NOT EXISTS `riptide`.`meta_users___crm_22b2f7ef` (`format` INT64 NOT NULL, `hash_function` STRING NOT NULL, `bucket_bits` INT64 NOT NULL);

-- meta
SELECT `format`, `hash_function`, `bucket_bits` FROM `riptide`.`meta_users___crm_22b2f7ef`;
SELECT 'farm_fingerprint';

-- rebucket with 14 bits
DELETE FROM `riptide`.`buckets_users___crm_22b2f7ef` WHERE TRUE;
INSERT INTO `riptide`.`buckets_users___crm_22b2f7ef` (`bucket`, `n`, `digest`)
SELECT (`key_hash` >> 50), count(*), SUM(CAST(`hash` AS BIGNUMERIC)) FROM `riptide`.`snapshot_users___crm_22b2f7ef` GROUP BY (`key_hash` >> 50);
DELETE FROM `riptide`.`meta_users___crm_22b2f7ef` WHERE TRUE;
INSERT INTO `riptide`.`meta_users___crm_22b2f7ef` (`format`, `hash_function`, `bucket_bits`) SELECT 3, 'farm_fingerprint', 14;

-- fill
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `key_hash`, `hash`)
SELECT CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')), FARM_FINGERPRINT(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))), FARM_FINGERPRINT(CONCAT('1234abcd5678ef90:', CASE WHEN CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|')) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) AS STRING), ':', CONCAT(REPLACE(REPLACE(CAST(q.`account_id` AS STRING), '\\', '\\\\'), '|', '\\|'), '|', REPLACE(REPLACE(CAST(q.`user_id` AS STRING), '\\', '\\\\'), '|', '\\|'))) END, CASE WHEN q.`email` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`email` AS STRING)) AS STRING), ':', CAST(q.`email` AS STRING)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`first name` AS STRING)) AS STRING), ':', CAST(q.`first name` AS STRING)) END))
FROM (
select account_id, user_id, email, "first name", plan from users where active
) AS q
WHERE q.`account_id` IS NOT NULL AND q.`user_id` IS NOT NULL;

-- integer key (its own key hash: false)
WITH a AS (
  SELECT (FARM_FINGERPRINT(CAST(q.`id` AS STRING)) >> 44) AS `__riptide_bucket`, count(*) AS `__riptide_n`, SUM(CAST(FARM_FINGERPRINT(CONCAT('0000000000000007:', CASE WHEN CAST(q.`id` AS STRING) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`id` AS STRING)) AS STRING), ':', CAST(q.`id` AS STRING)) END, CASE WHEN q.`id` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`id` AS STRING)) AS STRING), ':', CAST(q.`id` AS STRING)) END, CASE WHEN q.`total` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`total` AS STRING)) AS STRING), ':', CAST(q.`total` AS STRING)) END)) AS BIGNUMERIC)) AS `__riptide_hash`
  FROM (
select id, total from orders
  ) AS q
  WHERE q.`id` IS NOT NULL
  GROUP BY (FARM_FINGERPRINT(CAST(q.`id` AS STRING)) >> 44)
),
d AS (
  SELECT COALESCE(a.`__riptide_bucket`, k.`bucket`) AS `__riptide_bucket`
  FROM a FULL OUTER JOIN `riptide`.`buckets_orders` AS k ON k.`bucket` = a.`__riptide_bucket`
  WHERE COALESCE(a.`__riptide_n`, 0) <> COALESCE(k.`n`, 0) OR COALESCE(a.`__riptide_hash`, 0) <> COALESCE(k.`digest`, 0)
),
m AS (
  SELECT CAST(q.`id` AS STRING) AS `__riptide_key`, FARM_FINGERPRINT(CAST(q.`id` AS STRING)) AS `__riptide_key_hash`, FARM_FINGERPRINT(CONCAT('0000000000000007:', CASE WHEN CAST(q.`id` AS STRING) IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`id` AS STRING)) AS STRING), ':', CAST(q.`id` AS STRING)) END, CASE WHEN q.`id` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`id` AS STRING)) AS STRING), ':', CAST(q.`id` AS STRING)) END, CASE WHEN q.`total` IS NULL THEN 'N' ELSE CONCAT('V', CAST(length(CAST(q.`total` AS STRING)) AS STRING), ':', CAST(q.`total` AS STRING)) END)) AS `__riptide_hash`, q.`id`, q.`total`
  FROM (
select id, total from orders
  ) AS q
  LEFT JOIN (SELECT DISTINCT `__riptide_bucket` FROM d) AS d ON d.`__riptide_bucket` = (FARM_FINGERPRINT(CAST(q.`id` AS STRING)) >> 44)
  WHERE q.`id` IS NULL OR d.`__riptide_bucket` IS NOT NULL
),
s AS (
  SELECT `key`, `key_hash`, `hash` FROM `riptide`.`snapshot_orders`
  WHERE (`key_hash` >> 44) IN (SELECT `__riptide_bucket` FROM d)
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
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, CAST(m.`__riptide_hash` AS STRING) AS `__riptide_hash`, CAST(COALESCE(m.`__riptide_key_hash`, s.`key_hash`) AS STRING) AS `__riptide_key_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`id`, m.`total`
  FROM m
  FULL OUTER JOIN s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_key_hash`, `__riptide_n`, `id`, `total` FROM j WHERE `__riptide_op` <> 'unchanged'
UNION ALL
SELECT 'keyed', NULL, NULL, NULL, CAST(COALESCE((SELECT sum(a.`__riptide_n`) FROM a), 0) AS BIGINT), NULL, NULL;

-- integer key: key range, bucket range and hash function
SELECT CAST(min(`key_hash`) AS STRING), CAST(max(`key_hash`) AS STRING) FROM `riptide`.`snapshot_orders`;
SELECT CAST(min(`bucket`) AS STRING), CAST(max(`bucket`) AS STRING) FROM `riptide`.`buckets_orders`;
SELECT 'farm_fingerprint';

