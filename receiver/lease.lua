-- Take up to ARGV[4] due deliveries: push each one's due time to the lease's end and count the
-- attempt, so a crashed worker's deliveries become due again when their lease runs out.
-- KEYS[1]: deliveries zset
-- ARGV[1]: now (ms)   ARGV[2]: lease end (ms)   ARGV[3]: delivery hash key prefix   ARGV[4]: limit
-- Returns a flat list: delivery id, event JSON, attempt number, ...
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local taken = {}
for _, id in ipairs(due) do
  local key = ARGV[3] .. id
  local event = redis.call('HGET', key, 'event')
  if event then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
    local attempt = redis.call('HINCRBY', key, 'attempts', 1)
    taken[#taken + 1] = id
    taken[#taken + 1] = event
    taken[#taken + 1] = attempt
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return taken
