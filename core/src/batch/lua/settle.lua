-- KEYS: batch.
return {'OK', settle(KEYS[1])}
