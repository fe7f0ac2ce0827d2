-- http_send.lua: wrk script for POST /v1/messages (one message a request).
-- Env: HERMOD_KEY (API key), BENCH_DELAY_MS (pause before each request on a
-- connection, to hold a fixed rate; 0 = as fast as possible).
local key = os.getenv("HERMOD_KEY")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local text = string.rep("The quick brown fox jumps over the lazy dog. ", 22)
wrk.method = "POST"
wrk.path = "/v1/messages"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"from":"Bench <bench@bench.example>","to":["rcpt@sink.example"],' ..
  '"subject":"benchmark","text":"' .. text .. '"}'

local accepted, refused = 0, 0
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else refused = refused + 1 end
end
if delay_ms > 0 then
  function delay() return delay_ms end
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f duration_s=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.duration / 1e6))
end
