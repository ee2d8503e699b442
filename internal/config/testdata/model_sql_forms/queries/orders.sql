-- ${NOT_EXPANDED} stays as written: SQL files are not interpolated.
select tenant_id, order_id, total
from orders
where note <> '${literal}';

