-- setup
CREATE DATABASE IF NOT EXISTS `riptide`;
CREATE TABLE IF NOT EXISTS `riptide`.`snapshot_users___crm_22b2f7ef` (`key` String, `hash` String) ENGINE = MergeTree ORDER BY `key`;
CREATE TABLE IF NOT EXISTS `riptide`.`stage_users___crm_22b2f7ef` (`key` String, `hash` Nullable(String), `removed` Bool) ENGINE = MergeTree ORDER BY `key`;
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;

-- plan
WITH m AS (
  SELECT concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, substring(lower(hex(MD5(concat('1234abcd5678ef90:', CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END)))), 1, 16) AS `__riptide_hash`, q.*
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
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
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, m.`__riptide_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN `riptide`.`snapshot_users___crm_22b2f7ef` AS s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j WHERE `__riptide_op` <> 'unchanged'
UNION ALL
SELECT 'unchanged', NULL, NULL, count(*), NULL, NULL, NULL, NULL, NULL FROM j WHERE `__riptide_op` = 'unchanged'
SETTINGS join_use_nulls = 1;

-- plan (full resync, schema ops_riptide)
WITH m AS (
  SELECT concat(replaceAll(replaceAll(toString(q.`account_id`), '\\', '\\\\'), '|', '\\|'), '|', replaceAll(replaceAll(toString(q.`user_id`), '\\', '\\\\'), '|', '\\|')) AS `__riptide_key`, substring(lower(hex(MD5(concat('1234abcd5678ef90:', CASE WHEN q.`email` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`email`))), ':', toString(q.`email`)) END, CASE WHEN q.`first name` IS NULL THEN 'N' ELSE concat('V', toString(length(toString(q.`first name`))), ':', toString(q.`first name`)) END)))), 1, 16) AS `__riptide_hash`, q.*
  FROM (
select account_id, user_id, email, "first name", plan from users where active
  ) AS q
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
    COALESCE(m.`__riptide_key`, s.`key`) AS `__riptide_key`, m.`__riptide_hash`, COALESCE(dup.`__riptide_n`, 1) AS `__riptide_n`, m.`account_id`, m.`user_id`, m.`email`, m.`first name`, m.`plan`
  FROM m
  FULL OUTER JOIN `ops_riptide`.`snapshot_users___crm_22b2f7ef` AS s ON s.`key` = m.`__riptide_key`
  LEFT JOIN dup ON dup.`__riptide_key` = m.`__riptide_key`
)
SELECT `__riptide_op`, `__riptide_key`, `__riptide_hash`, `__riptide_n`, `account_id`, `user_id`, `email`, `first name`, `plan` FROM j
SETTINGS join_use_nulls = 1;

-- commit point
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;
INSERT INTO `riptide`.`stage_users___crm_22b2f7ef` (`key`, `hash`, `removed`) VALUES ('7|42', '0123456789abcdef', false), ('it\'s|a\\|b', 'fedcba9876543210', false), ('9|1', NULL, true);
DELETE FROM `riptide`.`snapshot_users___crm_22b2f7ef` WHERE `key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`);
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `hash`) SELECT `key`, assumeNotNull(`hash`) FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE NOT `removed`;

-- merge of staged rows (deferred destinations)
DELETE FROM `riptide`.`snapshot_users___crm_22b2f7ef` WHERE `key` IN (SELECT `key` FROM `riptide`.`stage_users___crm_22b2f7ef`);
INSERT INTO `riptide`.`snapshot_users___crm_22b2f7ef` (`key`, `hash`) SELECT `key`, assumeNotNull(`hash`) FROM `riptide`.`stage_users___crm_22b2f7ef` WHERE NOT `removed`;
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;

-- reset
TRUNCATE TABLE `riptide`.`stage_users___crm_22b2f7ef`;
TRUNCATE TABLE `riptide`.`snapshot_users___crm_22b2f7ef`;

