-- Claim a delivery's replay identity and append its event to the stream, as one step.
-- KEYS[1]: the claim key    KEYS[2]: the events stream
-- ARGV[1]: claim lifetime in milliseconds    ARGV[2..]: field, value pairs of the stream entry
-- Returns {1, new entry id} when appended, {0, entry id of the original} when claimed before.
local original = redis.call('GET', KEYS[1])
if original then
  return {0, original}
end
local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[1], id, 'PX', ARGV[1])
return {1, id}
