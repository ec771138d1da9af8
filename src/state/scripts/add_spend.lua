-- Adds ARGV[1] USD to every counter in KEYS, atomically. A counter created
-- here gets ARGV[1 + i] ms to live; an existing one keeps its expiry (PTTL
-- -1 means none yet: works on Redis < 7, which lacks PEXPIRE NX).
-- Returns the new totals as strings, in order.
local totals = {}
for i, key in ipairs(KEYS) do
  totals[i] = redis.call('INCRBYFLOAT', key, ARGV[1])
  if redis.call('PTTL', key) == -1 then
    redis.call('PEXPIRE', key, ARGV[i + 1])
  end
end
return totals
