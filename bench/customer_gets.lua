-- wrk script: GET one customer's health per request, the customer picked at random from a
-- list, and count every answer that is not a 200. Arguments: token, the comma-separated
-- customer ids. done() prints one JSON line the harness reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  customers = {}
  for id in string.gmatch(args[2], "[^,]+") do
    table.insert(customers, id)
  end
  not_ok = 0
end

function request()
  local id = customers[math.random(#customers)]
  return wrk.format("GET", "/v1/customers/" .. id .. "/health")
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do
    refused = refused + thread:get("not_ok")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "not_200": %d, "socket_errors": %d,'
      .. ' "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, refused,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
