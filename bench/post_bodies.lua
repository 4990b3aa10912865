-- wrk script: POST the bodies in BODIES_FILE (one JSON document per line), each thread its own
-- slice, so that no body is sent twice; print a JSON summary at the end.
local bodies_file = os.getenv("BODIES_FILE")
-- With DELAY_MS set, each connection pauses that long between requests: a steady offered load
-- instead of saturation, for latency at a realistic rate.
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  local total = tonumber(os.getenv("THREADS"))
  local index = 0
  for line in io.lines(bodies_file) do
    if index % total == id then
      bodies[#bodies + 1] = line
    end
    index = index + 1
  end
  position = 0
  non2xx = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  position = position + 1
  if position > #bodies then
    position = 1
  end
  return wrk.format(nil, nil, nil, bodies[position])
end

function delay()
  return delay_ms
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p99_ms": %.3f, "non2xx": %d, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
