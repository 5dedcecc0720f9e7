-- Tests of lib/entry.lua: how every entry script starts.
local t = require("testing")
local args = require("args")
local entry = require("entry")

local parser = args.parser{
  usage = "dstack run-script demo [options] NAME",
  summary = "A script for the test.",
  options = {{"--dry-run", help = "print instead"}, {"--all", help = "all of them"}},
}

t.test("--help is answered and nothing else happens", function()
  t.equal(entry.start(parser, {"--help"}), nil)
end)

t.test("positional words are counted by one rule, with one-line errors naming the script", function()
  t.raises(function() entry.start(parser, {"extra"}) end,
    "unexpected argument 'extra': demo takes options only; see --help")
  t.raises(function() entry.start(parser, {}, {min = 1, max = 1, what = "one NAME"}) end,
    "missing argument: demo takes one NAME; usage: dstack run-script demo [options] NAME")
  t.raises(function() entry.start(parser, {"a", "b"}, {max = 1, what = "one NAME"}) end,
    "unexpected argument 'b': demo takes one NAME; see --help")
  local options, rest = entry.start(parser, {"--all", "a", "b", "c"}, {min = 1, max = false})
  t.equal({options.all, rest}, {true, {"a", "b", "c"}})
end)

t.test("--dry-run switches dry-run on", function()
  entry.start(parser, {"--dry-run"})
  t.equal(dstack.is_dry_run(), true)
end)

return t.run()
