-- Token bucket state shared by take.lua and adjust.lua (prepended to each).
-- Mirrors src/state/bucket.rs operation for operation, so the memory and the
-- Redis store compute the same floats. Redis' clock (TIME) is the only clock:
-- gateway instances with skewed clocks still agree.
--
-- KEYS[1]: the bucket, a hash {tokens, ts}. ARGV[1]: limit, ARGV[2]: window
-- in ms (>= 1), ARGV[3]: amount or delta.

local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- bucket::refill: an absent bucket is full; never refill backwards.
local tokens = limit
local saved = redis.call('HMGET', key, 'tokens', 'ts')
if saved[1] and saved[2] then
  local elapsed = math.max(0, now - tonumber(saved[2]))
  tokens = math.min(limit, tonumber(saved[1]) + elapsed * limit / window)
end

-- Shard::store: a full bucket equals an absent one; otherwise keep it until
-- it has refilled (Rate::ms_until_full), plus a window of margin.
local function store(left)
  if left >= limit then
    redis.call('DEL', key)
    return
  end
  redis.call('HSET', key, 'tokens', string.format('%.17g', left), 'ts', string.format('%.0f', now))
  local full_ms = 0
  if limit > 0 then
    full_ms = math.ceil((limit - left) * window / limit)
  end
  redis.call('PEXPIRE', key, string.format('%.0f', full_ms + window))
end
