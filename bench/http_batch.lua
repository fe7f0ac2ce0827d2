-- http_batch.lua: wrk script for POST /v1/messages/batch. Env: HERMOD_KEY,
-- BENCH_BATCH (messages a request, at most 500).
local key = os.getenv("HERMOD_KEY")
local n = tonumber(os.getenv("BENCH_BATCH") or "100")
local text = string.rep("The quick brown fox jumps over the lazy dog. ", 22)
local one = '{"from":"Bench <bench@bench.example>","to":["rcpt@sink.example"],' ..
  '"subject":"benchmark","text":"' .. text .. '"}'
local parts = {}
for i = 1, n do parts[i] = one end
wrk.method = "POST"
wrk.path = "/v1/messages/batch"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messages":[' .. table.concat(parts, ",") .. ']}'

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f duration_s=%.2f batch=%d\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.duration / 1e6, n))
end
