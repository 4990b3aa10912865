-- Create one delivery per routed handler for an events entry, once, and acknowledge the entry.
-- KEYS[1]: events stream   KEYS[2]: deliveries zset   KEYS[3]: the entry's fan-out mark
-- KEYS[4..]: one delivery hash per routed handler
-- ARGV[1]: consumer group   ARGV[2]: entry id   ARGV[3]: now (ms)   ARGV[4]: mark lifetime (ms)
-- ARGV[5]: event JSON       ARGV[6..]: delivery ids, in the order of KEYS[4..]
-- Returns the number of deliveries created (0 when the entry was fanned out before).
local created = 0
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[4]) then
  for i = 4, #KEYS do
    redis.call('HSET', KEYS[i], 'event', ARGV[5], 'attempts', 0, 'created_ms', ARGV[3])
    redis.call('ZADD', KEYS[2], ARGV[3], ARGV[i + 2])
    created = created + 1
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return created
