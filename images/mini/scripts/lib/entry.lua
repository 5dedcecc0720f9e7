-- entry: how every entry script starts, by one rule: its arguments parsed (lib/args.lua),
-- `--help` answered, `--dry-run` switched on, and its positional words counted.
--
--   local options, rest, passed = entry.start(parser, dstack.args, {max = 1, what = "one NAME or IMAGE"})
--   if not options then return 0 end   -- the help was printed
local M = {}

-- Parses `argv` with `parser`; returns the options, the positional words and the words
-- passed through (to docker), or nil after printing the help. `count` bounds the positional
-- words: `min` (default 0), `max` (default 0; false for no limit) and `what` they are, for
-- the one-line errors ("one NAME or IMAGE"; default: options only).
function M.start(parser, argv, count)
  local options, rest, wants_help, passed = parser:parse(argv)
  if wants_help then
    print(parser:help())
    return nil
  end
  if options.dry_run then dstack.enable_dry_run() end
  count = count or {}
  local script = parser.spec.usage:match("^dstack run%-script (%S+)") or "this script"
  local takes = script .. " takes " .. (count.what or "options only")
  if #rest < (count.min or 0) then error("missing argument: " .. takes .. "; usage: " .. parser.spec.usage, 0) end
  local max = count.max == nil and 0 or count.max
  if max and #rest > max then
    error("unexpected argument '" .. rest[max + 1] .. "': " .. takes .. "; see --help", 0)
  end
  return options, rest, passed
end

return M
