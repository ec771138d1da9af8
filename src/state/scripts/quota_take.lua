-- quota::Quota::take, fleet-wide: spends one request and the request's
-- token estimate from what the fleet knows is left of a backend's quota,
-- unless that cannot cover it until the reset. Redis' clock (TIME) only.
--
-- KEYS[1]: the backend's hash (see quota_observe.lua). ARGV[1]: the
-- request's estimated tokens.
-- Returns {taken (1 or 0), short for ms (0 when taken), then per kind
-- (requests, tokens): remaining, limit, reset in ms}; -1 where nothing
-- live is known (all -1: the fleet knows nothing of this backend).
local key = KEYS[1]
local need = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local s = redis.call('HMGET', key, 'rrem', 'rlim', 'rat', 'trem', 'tlim', 'tat')

-- A kind's {remaining, limit, reset at} if its window is still ahead.
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
if req and req[1] < 1 then
  until_at = math.max(until_at, req[3])
end
if tok and tok[1] < need and (tok[2] < 0 or need <= tok[2]) then
  until_at = math.max(until_at, tok[3])
end

local taken = 0
if until_at == 0 then
  taken = 1
  if req then
    req[1] = req[1] - 1
    redis.call('HSET', key, 'rrem', string.format('%d', req[1]))
  end
  if tok then
    tok[1] = math.max(0, tok[1] - need)
    redis.call('HSET', key, 'trem', string.format('%d', tok[1]))
  end
end

local out = {taken, math.max(0, until_at - now)}
for _, w in ipairs({req or false, tok or false}) do
  if w then
    table.insert(out, w[1])
    table.insert(out, w[2])
    table.insert(out, w[3] - now)
  else
    table.insert(out, -1)
    table.insert(out, -1)
    table.insert(out, -1)
  end
end
return out
