-- quota::Quota::observe, fleet-wide: what an answer's headers said of its
-- backend's quota, merged into what the fleet knows. Redis' clock (TIME)
-- is the only clock: a reset arrives as milliseconds from now.
--
-- KEYS[1]: the backend's hash {rrem, rlim, rat, trem, tlim, tat} (requests,
-- tokens: remaining, limit (-1: not said), reset at, ms on Redis' clock).
-- KEYS[2]: its leases (see quota_take.lua).
-- ARGV[1]: how close two resets are to be one window, in ms; then per kind
-- (requests from ARGV[2], tokens from ARGV[6]): said (1 or 0), remaining,
-- limit, reset in ms; ARGV[10]: the lease of the request this answered, or
-- empty. It goes in the same step as its answer's count comes: in two, the
-- request would count twice (in flight and in the count) or, the other way
-- round, not at all, for a moment.
local key = KEYS[1]
local same = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- Within the window the fleet knows, the lower count wins: answers arrive
-- out of order, and an earlier one knows of fewer requests. Another reset
-- is another window, which replaces it.
local function learn(kind, i)
  if ARGV[i] ~= '1' then
    return
  end
  local rem = tonumber(ARGV[i + 1])
  local at = now + tonumber(ARGV[i + 3])
  local saved = redis.call('HMGET', key, kind .. 'rem', kind .. 'at')
  if saved[1] and saved[2] then
    local known_at = tonumber(saved[2])
    if known_at > now and math.abs(known_at - at) <= same then
      rem = math.min(rem, tonumber(saved[1]))
    end
  end
  redis.call('HSET', key, kind .. 'rem', string.format('%d', rem),
    kind .. 'lim', ARGV[i + 2], kind .. 'at', string.format('%d', at))
end
learn('r', 2)
learn('t', 6)

-- Kept a minute past the later of its windows' resets: while it exists
-- the fleet has heard of the backend, and counts its requests in flight.
local ats = redis.call('HMGET', key, 'rat', 'tat')
local last = now
for _, at in ipairs(ats) do
  if at then
    last = math.max(last, tonumber(at))
  end
end
redis.call('PEXPIRE', key, string.format('%d', last - now + 60000))
if ARGV[10] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[10])
end
return 1
