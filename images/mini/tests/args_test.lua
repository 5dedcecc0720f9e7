-- Tests of lib/args.lua: the command-line parser every script uses.
local t = require("testing")
local args = require("args")

local function parser(extra)
  local spec = {
    usage = "dstack run-script example [options]",
    summary = "An example.",
    options = {
      {"--name", value = "NAME", help = "a name"},
      {"--keep", value = "N", integer = true, help = "how many"},
      {"--test-option", value = "OPTION", repeated = true, help = "repeatable"},
      {"--no-test", help = "a flag"},
      {"--verbose", short = "-v", help = "a flag with a short name"},
    },
  }
  for key, value in pairs(extra or {}) do spec[key] = value end
  return args.parser(spec)
end

t.test("options, flags and positional arguments", function()
  local options, rest, help, passed = parser():parse({"--name", "a", "x", "--keep=3", "--no-test", "-v", "y"})
  t.equal(options, {name = "a", keep = 3, no_test = true, verbose = true})
  t.equal(rest, {"x", "y"})
  t.equal(help, false)
  t.equal(passed, {})
end)

t.test("repeated options collect in order; -- ends the options", function()
  local options, rest = parser():parse({"--test-option", "--a", "--test-option=--b", "--", "--name", "z"})
  t.equal(options, {test_option = {"--a", "--b"}})
  t.equal(rest, {"--name", "z"})
end)

t.test("-h and --help ask for help, and the help lists every option", function()
  t.equal(select(3, parser():parse({"--name", "a", "-h"})), true)
  t.equal(select(3, parser():parse({"--help"})), true)
  local help = parser{epilog = "More."}:help()
  t.contains(help, "usage: dstack run-script example [options]\n\nAn example.\n\noptions:\n")
  t.contains(help, "  --name NAME              a name\n")
  t.contains(help, "  --verbose, -v            a flag with a short name\n")
  t.contains(help, "  -h, --help               show this help\n\nMore.")
end)

t.test("mistakes name the option and point to --help", function()
  local p = parser()
  t.raises(function() p:parse({"--name"}) end, "--name: needs a value (NAME); see --help")
  t.raises(function() p:parse({"--no-test=yes"}) end, "--no-test: takes no value; see --help")
  t.raises(function() p:parse({"--keep", "two"}) end, "--keep: expects a whole number, got 'two'")
  t.raises(function() p:parse({"--keep=-1"}) end, "--keep: expects a whole number, got '-1'")
  t.raises(function() p:parse({"--colour"}) end, "--colour: unknown option; see --help")
end)

t.test("pass_through keeps unknown options with their values, in order", function()
  local p = parser{pass_through = true, pass_through_values = {["--build-arg"] = true}}
  local options, rest, _, passed = p:parse({"--no-cache", "--build-arg", "A=1", "--name", "n", "--target=dev", "ctx"})
  t.equal(options, {name = "n"})
  t.equal(rest, {"ctx"})
  t.equal(passed, {"--no-cache", "--build-arg", "A=1", "--target=dev"})
  t.raises(function() p:parse({"--build-arg"}) end, "--build-arg: needs a value; see --help")
end)

t.test("stop_at_positional leaves everything from the first positional argument alone", function()
  local options, rest = parser{stop_at_positional = true}:parse({"--name", "n", "image", "--name", "-v"})
  t.equal(options, {name = "n"})
  t.equal(rest, {"image", "--name", "-v"})
end)

return t.run()
