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
--     pass_through = true,  -- unknown options are kept, in order, in `rest`
--   }
--   local options, rest = parser:parse(dstack.args)
--
-- Options take their value as `--name x` or `--name=x`; flags are true when given.
-- `--` ends option parsing. With pass_through, unknown options (and their values) are
-- returned in `rest`; otherwise they are an error. Positional arguments go to `rest`.
-- Parse errors are raised as "OPTION: problem (see --help)".
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
-- `repeated = true`), the remaining arguments, and whether help was asked for.
function Parser:parse(argv)
  local options, rest = {}, {}
  local i = 1
  while i <= #argv do
    local word = argv[i]
    if word == "--" then
      table.move(argv, i + 1, #argv, #rest + 1, rest)
      break
    end
    local name, inline = word:match("^(%-%-[^=]+)=(.*)$")
    name = name or word
    local option = word:sub(1, 1) == "-" and self.by_name[name]
    if word == "-h" or word == "--help" then
      return options, rest, true
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
    elseif word:sub(1, 1) == "-" and #word > 1 and not self.spec.pass_through then
      error(word .. ": unknown option; see --help", 0)
    else
      rest[#rest + 1] = word
    end
    i = i + 1
  end
  return options, rest, false
end

return M
