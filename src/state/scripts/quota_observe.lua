-- quota::Quota::observe, fleet-wide: what an answer's headers said of its
-- backend's quota, merged into what the fleet knows. Redis' clock (TIME)
-- is the only clock: a reset arrives as milliseconds from now.
--
-- KEYS[1]: the backend's hash {rrem, rlim, rat, trem, tlim, tat} (requests,
-- tokens: remaining, limit (-1: not said), reset at, ms on Redis' clock).
-- ARGV[1]: how close two resets are to be one window, in ms; then per kind
-- (requests from ARGV[2], tokens from ARGV[6]): said (1 or 0), remaining,
-- limit, reset in ms.
local key = KEYS[1]
local same = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- Within the window the fleet knows, the lower count wins: the fleet's
-- count has been taken from by requests this answer does not know of. A
-- reset further off is a new window, which replaces it.
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

-- Kept until the later of its windows has reset.
local ats = redis.call('HMGET', key, 'rat', 'tat')
local last = now
for _, at in ipairs(ats) do
  if at then
    last = math.max(last, tonumber(at))
  end
end
redis.call('PEXPIRE', key, string.format('%d', last - now + 1000))
return 1
