-- wrk driver for scripts/bench.
--   wrk ... -s load.lua URL -- REQUESTS_FILE PATH HOST
-- REQUESTS_FILE: one request per line, "<bearer token>\t<JSON body>". Each thread
-- pre-formats every request once, then rotates through them from its own offset, so
-- the load is a mix of viewers and workspaces. Responses whose body carries a GraphQL
-- "errors" key are counted (a benchmark of error responses is worthless), and 429 and
-- 503 answers (rate limited, overloaded) on their own. done() prints one line
-- "BENCH_JSON {...}" with the latency distribution in microseconds.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local requests = {}
local index = 0
bad = 0
limited = 0
unavailable = 0

function init(args)
  local file, path, host = args[1], args[2], args[3]
  for line in io.lines(file) do
    local token, body = line:match("^([^\t]*)\t(.*)$")
    if body then
      local headers = {
        ["Host"] = host,
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token,
      }
      requests[#requests + 1] = wrk.format("POST", path, headers, body)
    end
  end
  if #requests == 0 then
    error("no requests in " .. file)
  end
  index = ((tid or 0) * 7919) % #requests
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function response(status, headers, body)
  if status ~= 200 or (body and string.find(body, '"errors"', 1, true)) then
    bad = bad + 1
    if status == 429 then
      limited = limited + 1
    elseif status == 503 then
      unavailable = unavailable + 1
    end
  end
end

function done(summary, latency, _)
  local errors_seen, limited_seen, unavailable_seen = 0, 0, 0
  for _, thread in ipairs(threads) do
    errors_seen = errors_seen + (thread:get("bad") or 0)
    limited_seen = limited_seen + (thread:get("limited") or 0)
    unavailable_seen = unavailable_seen + (thread:get("unavailable") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"status_errors":%d,' ..
    '"timeouts":%d,"error_responses":%d,"status_429":%d,"status_503":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, errors_seen, limited_seen,
    unavailable_seen))
end
