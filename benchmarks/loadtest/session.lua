-- session.lua: wrk script for make bench's HTTP load test (BenchmarkLoad).
--
--   wrk -t T -c C -d D -s session.lua URL -- SESSIONS WRITE_PCT
--
-- Every wrk thread logs SESSIONS sessions in (GET /login, keeping the
-- cookie each response sets in a jar), then sends a mix of requests, each
-- carrying one of its sessions' cookies in turn: WRITE_PCT% GET /write
-- (reads and changes the session) and the rest GET /read (reads it).
-- wrk's Lua API does not say which connection a response came on, so the
-- jar belongs to the thread; with SESSIONS at least the thread's
-- connections, every connection starts with a login of its own and the
-- sessions are spread over the connections, as browsers would.
--
-- done() prints one line for the driver:
--   LOAD requests=N duration_us=N errors=N non2xx=N p50_us=N p90_us=N p99_us=N max_us=N

local jar = {}        -- cookie header values, "name=value"
local want = 64       -- sessions to keep
local pending = 0     -- logins sent, not answered yet
local next_i = 0
local write_pct = 20

function init(args)
   want = tonumber(args[1]) or want
   write_pct = tonumber(args[2]) or write_pct
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 1000003)
end

function request()
   if #jar + pending < want then
      pending = pending + 1
      return wrk.format("GET", "/login")
   end
   if #jar == 0 then
      -- Only when more connections than sessions are waiting for their
      -- first answer: log in one more.
      pending = pending + 1
      return wrk.format("GET", "/login")
   end
   next_i = next_i % #jar + 1
   local path = "/read"
   if math.random(100) <= write_pct then
      path = "/write"
   end
   return wrk.format("GET", path, { ["Cookie"] = jar[next_i] })
end

function response(status, headers, body)
   if headers["X-Login"] then
      pending = pending - 1
      local sc = headers["Set-Cookie"]
      if status == 200 and sc then
         jar[#jar + 1] = sc:match("^([^;]+)")
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "LOAD requests=%d duration_us=%d errors=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
      summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
