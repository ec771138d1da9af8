-- quota::Quota::short_until and take, fleet-wide: the same rule as one
-- instance alone — the lowest count heard in the window, less the requests
-- in flight, must cover the request — with every instance's requests in
-- flight counted. Redis' clock (TIME) only.
--
-- KEYS[1]: the backend's hash (see quota_observe.lua). KEYS[2]: its
-- leases, the requests in flight: a sorted set of "id:tokens", each scored
-- by when it lapses (ms on Redis' clock: a lease whose instance died stops
-- counting at the request's deadline). ARGV[1]: the request's estimated
-- tokens; ARGV[2]: its lease, "id:tokens"; ARGV[3]: the most the lease
-- may last, ms.
-- Returns {taken (1 or 0), short for ms (0 when taken), heard (0: the
-- fleet knows nothing of this backend), then per kind (requests, tokens):
-- left (less what is in flight), limit, reset in ms; -1 where no live
-- window is known}.
local need = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {1, 0, 0, -1, -1, -1, -1, -1, -1}
end

-- In flight: the leases that have not lapsed, and their tokens.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local flying, flying_tokens = 0, 0
for _, lease in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  flying = flying + 1
  local sep = string.find(lease, ':', 1, true)
  if sep then
    flying_tokens = flying_tokens + (tonumber(string.sub(lease, sep + 1)) or 0)
  end
end

-- A kind's {remaining, limit, reset at} if its window is still ahead.
local s = redis.call('HMGET', KEYS[1], 'rrem', 'rlim', 'rat', 'trem', 'tlim', 'tat')
local function live(i)
  if s[i] and s[i + 1] and s[i + 2] and tonumber(s[i + 2]) > now then
    return {tonumber(s[i]), tonumber(s[i + 1]), tonumber(s[i + 2])}
  end
  return nil
end
local req = live(1)
local tok = live(4)

-- Short until the later reset of a kind that cannot cover the request
-- (tokens: unless the estimate is more than the whole window holds, which
-- only the provider can judge).
local until_at = 0
if req and req[1] - flying < 1 then
  until_at = math.max(until_at, req[3])
end
if tok and tok[1] - flying_tokens < need and (tok[2] < 0 or need <= tok[2]) then
  until_at = math.max(until_at, tok[3])
end

local taken = 0
if until_at == 0 then
  taken = 1
  local lasts = tonumber(ARGV[3])
  redis.call('ZADD', KEYS[2], now + lasts, ARGV[2])
  flying = flying + 1
  flying_tokens = flying_tokens + need
  -- The set lasts as long as its longest lease.
  if redis.call('PTTL', KEYS[2]) < lasts then
    redis.call('PEXPIRE', KEYS[2], lasts)
  end
end

local out = {taken, math.max(0, until_at - now), 1}
local function put(w, in_flight)
  if w then
    table.insert(out, math.max(0, w[1] - in_flight))
    table.insert(out, w[2])
    table.insert(out, w[3] - now)
  else
    table.insert(out, -1)
    table.insert(out, -1)
    table.insert(out, -1)
  end
end
put(req, flying)
put(tok, flying_tokens)
return out
