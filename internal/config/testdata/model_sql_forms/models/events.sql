select tenant_id, event_id from events
