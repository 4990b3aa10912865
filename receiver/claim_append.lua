-- Claim a delivery's replay identity and append its event to the stream, as one step; remember
-- the event's idempotency key too, so reconciliation can tell which events arrived.
-- KEYS[1]: the claim key    KEYS[2]: the events stream    KEYS[3]: the idempotency marker
-- ARGV[1]: claim lifetime (ms)    ARGV[2]: marker lifetime (ms)
-- ARGV[3..]: field, value pairs of the stream entry
-- Returns {1, new entry id} when appended, {0, entry id of the original} when claimed before.
-- Reconciliation passes the marker as the claim (KEYS[1] == KEYS[3]): "append unless known".
local original = redis.call('GET', KEYS[1])
if original then
  return {0, original}
end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], id, 'PX', ARGV[1])
if KEYS[3] ~= KEYS[1] then
  redis.call('SET', KEYS[3], id, 'PX', ARGV[2])
end
return {1, id}
