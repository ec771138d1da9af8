-- bucket::take. ARGV[3]: amount, ARGV[4]: epsilon.
-- Returns {taken (0 or 1), tokens left as a string}; a denial writes nothing.
local amount = tonumber(ARGV[3])
local epsilon = tonumber(ARGV[4])
if tokens + epsilon < amount then
  return {0, string.format('%.17g', tokens)}
end
tokens = tokens - amount
store(tokens)
return {1, string.format('%.17g', tokens)}
