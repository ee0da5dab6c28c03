-- wrk script: POST one CloudEvent per request, each with a unique id, and count every
-- answer that is not a 202. Arguments: token, the body before the id, the body after it,
-- the id prefix (unique per run). done() prints one JSON line the harness reads.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token, before, after, prefix = args[1], args[2], args[3], args[4]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/cloudevents+json"
  wrk.headers["Authorization"] = "Bearer " .. token
  sent, not_accepted = 0, 0
end

function request()
  sent = sent + 1
  local body = before .. prefix .. "-" .. tid .. "-" .. sent .. after
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 202 then
    not_accepted = not_accepted + 1
  end
end

function done(summary, latency, requests)
  local refused = 0
  for _, thread in ipairs(threads) do
    refused = refused + thread:get("not_accepted")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "not_202": %d, "socket_errors": %d,'
      .. ' "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, refused,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
