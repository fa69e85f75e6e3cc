-- wrk script for the bench: the same request rotation as load-worker.ts (one pre-formatted
-- request per x-user-id, sent round-robin), and the summary as one JSON line for load.ts.
-- Usage: wrk ... -s bench/wrk.lua URL -- <users>

local requests = {}
local n, i = 0, 0

function init(args)
  n = tonumber(args[1]) or 64
  for k = 1, n do
    requests[k] = wrk.format(nil, nil, { ["x-user-id"] = "user-" .. k })
  end
end

function request()
  i = i % n + 1
  return requests[i]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"bytes":%d,"p50Us":%d,"p99Us":%d,' ..
      '"status":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
