-- wrk script for bench/tools/instructions.sh: POST /state with the bench's 256 bodies (two alternating summaries per
-- check, as in bench/httpbroker.ts), so no shortcut for re-posted identical events can apply.
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local bodies = {}
for i = 0, 255 do
  local k = math.floor(i / 2)
  local state = (k % 7 == 0) and "WARNING" or "OK"
  bodies[i] = string.format(
    '{"entity":"host-%d.example.com","check":"check-%d","state":"%s","summary":"%d ms round trip","tags":"apps,prod","ttl":300}',
    k % 5000, k % 20, state, 3 + (i % 2))
end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 256])
end
