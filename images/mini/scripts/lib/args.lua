-- args: command-line parsing for dstack scripts.
--
--   local args = require("args")
--   local parser = args.parser{
--     usage = "dstack run-script build [options] [docker build options]",
--     summary = "Builds the project's image.",
--     options = {
--       {"--name", value = "NAME", help = "image name"},
--       {"--push", help = "push the new tag"},
--     },
--     pass_through = true,  -- unknown options are kept, in order, in `passed`
--     pass_through_values = {["-v"] = true},  -- unknown options whose value is the next word
--     stop_at_positional = true,  -- the first positional argument ends option parsing
--   }
--   local options, rest, wants_help, passed = parser:parse(dstack.args)
--
-- Options take their value as `--name x` or `--name=x`; flags are true when given.
-- `--` ends option parsing. With pass_through, unknown options (with their values: the
-- `=value` part, or the next word for those in pass_through_values) are returned in
-- `passed`; otherwise they are an error. Positional arguments go to `rest`; with
-- stop_at_positional, the first one and everything after it do.
-- Parse errors are raised as "OPTION: problem; see --help".
local M = {}

local Parser = {}
Parser.__index = Parser

function M.parser(spec)
  local parser = setmetatable({spec = spec, by_name = {}}, Parser)
  for _, option in ipairs(spec.options) do
    parser.by_name[option[1]] = option
    if option.short then parser.by_name[option.short] = option end
  end
  return parser
end

-- The key an option is stored under: "--no-test" becomes "no_test".
local function key(option)
  return (option[1]:gsub("^%-+", ""):gsub("%-", "_"))
end

function Parser:help()
  local lines = {"usage: " .. self.spec.usage, "", self.spec.summary, "", "options:"}
  for _, option in ipairs(self.spec.options) do
    local names = option[1] .. (option.short and (", " .. option.short) or "")
    if option.value then names = names .. " " .. option.value end
    lines[#lines + 1] = string.format("  %-24s %s", names, option.help)
  end
  lines[#lines + 1] = string.format("  %-24s %s", "-h, --help", "show this help")
  if self.spec.epilog then
    lines[#lines + 1] = ""
    lines[#lines + 1] = self.spec.epilog
  end
  return table.concat(lines, "\n")
end

-- Returns the options table (keys like `no_test`, repeated options as lists when
-- `repeated = true`), the positional arguments, whether help was asked for, and the
-- passed-through options.
function Parser:parse(argv)
  local options, rest, passed = {}, {}, {}
  local values = self.spec.pass_through_values or {}
  local i = 1
  while i <= #argv do
    local word = argv[i]
    if word == "--" or (self.spec.stop_at_positional and word:sub(1, 1) ~= "-") then
      table.move(argv, word == "--" and i + 1 or i, #argv, #rest + 1, rest)
      break
    end
    local name, inline = word:match("^(%-%-[^=]+)=(.*)$")
    name = name or word
    local option = word:sub(1, 1) == "-" and self.by_name[name]
    if word == "-h" or word == "--help" then
      return options, rest, true, passed
    elseif option then
      local value = true
      if option.value then
        if inline then
          value = inline
        else
          i = i + 1
          value = argv[i]
          if value == nil then error(name .. ": needs a value (" .. option.value .. "); see --help", 0) end
        end
      elseif inline then
        error(name .. ": takes no value; see --help", 0)
      end
      if option.integer then
        local number = math.tointeger(tonumber(value))
        if not number or number < 0 then error(name .. ": expects a whole number, got '" .. value .. "'", 0) end
        value = number
      end
      if option.repeated then
        local list = options[key(option)] or {}
        list[#list + 1] = value
        options[key(option)] = list
      else
        options[key(option)] = value
      end
    elseif word:sub(1, 1) == "-" and #word > 1 then
      if not self.spec.pass_through then error(word .. ": unknown option; see --help", 0) end
      passed[#passed + 1] = word
      if values[word] then
        i = i + 1
        if argv[i] == nil then error(word .. ": needs a value; see --help", 0) end
        passed[#passed + 1] = argv[i]
      end
    else
      rest[#rest + 1] = word
    end
    i = i + 1
  end
  return options, rest, false, passed
end

return M
