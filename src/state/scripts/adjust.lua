-- bucket::adjust. ARGV[3]: delta (> 0 charges, may go into debt; < 0 refunds,
-- capped at the limit). Returns the tokens left as a string.
tokens = math.min(limit, tokens - tonumber(ARGV[3]))
store(tokens)
return string.format('%.17g', tokens)
