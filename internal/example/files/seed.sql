-- The example warehouse: 100 customers. `riptide init` runs this into
-- warehouse.duckdb.
CREATE OR REPLACE TABLE customers AS
SELECT
    i AS id,
    lower(first_name) || '.' || lower(last_name) || i || '@example.com' AS email,
    first_name,
    last_name,
    ['free', 'pro', 'team'][1 + i % 3] AS plan,
    CAST(round((i * 37.5) % 1000, 2) AS DECIMAL(12, 2)) AS lifetime_value,
    TIMESTAMPTZ '2024-01-01 09:00:00+00' + to_days(i * 3) AS signed_up_at
FROM (
    SELECT
        i,
        ['ada', 'grace', 'alan', 'edsger', 'barbara', 'donald', 'margaret', 'ken'][1 + i % 8] AS first_name,
        ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton', 'Thompson'][1 + (i * 7) % 8] AS last_name
    FROM range(1, 101) t(i)
);
