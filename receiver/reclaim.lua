-- Take over events entries a dead consumer read but never acknowledged, and acknowledge those
-- deleted meanwhile (Redis 7 names them apart; Redis 6.2 hands their ids over like the others).
-- KEYS[1]: events stream
-- ARGV[1]: group   ARGV[2]: this consumer   ARGV[3]: minimum idle time (ms)   ARGV[4]: count
-- Returns {number deleted while pending, {{id, {field, value, ...}}, ...}}.
local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0',
                         'COUNT', ARGV[4], 'JUSTID')
local deleted = 0
if reply[3] then
  deleted = #reply[3]
end
local live = {}
for _, id in ipairs(reply[2]) do
  local found = redis.call('XRANGE', KEYS[1], id, id)
  if #found == 0 then
    redis.call('XACK', KEYS[1], ARGV[1], id)
    deleted = deleted + 1
  else
    live[#live + 1] = found[1]
  end
end
return {deleted, live}
