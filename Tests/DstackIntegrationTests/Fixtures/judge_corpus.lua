-- judge_corpus: RunOptionsDockerTests' driver. Arguments: OUTPUT ROOT LINE... . Judges each
-- LINE of run options, in each spelling pflag reads, as `run-options` of the project at ROOT
-- (lib/allowances.lua, the path every run takes), and writes JSON to OUTPUT:
--   {kinds = {NAME = "boolean"|"value"}, shorthands = {LETTER = NAME},
--    lines = {{line, spellings = {{text, class, words, message}}}}}
-- class is inside (words: what docker gets, one a line), needs, never or error.
local allowances = require("allowances")
local run_options = require("run_options")

local output, root = dstack.args[1], dstack.args[2]

local function split(text)
  local words = {}
  for word in text:gmatch("%S+") do words[#words + 1] = word end
  return words
end

local letters = {}
for letter, name in pairs(run_options.shorthands) do letters[name] = letter end

-- `text` and its other spellings: every option as `--name=value`, as `--name value`, and
-- with its shorthand as `-x value` and `-x=value` (or `-xvalue`).
local function spellings(text)
  local ok, parsed = pcall(run_options.parse, split(text), "corpus")
  if not ok then return {text} end
  local styles = {{}, {}, {}, {}}
  for _, option in ipairs(parsed) do
    local name, value, letter = option.name, option.value, letters[option.name]
    if type(value) == "boolean" then
      local long = value and ("--" .. name) or ("--" .. name .. "=false")
      local short = letter and ("-" .. letter .. (value and "" or "=false")) or long
      for index, word in ipairs({long, "--" .. name .. "=" .. tostring(value), short, short}) do
        local style = styles[index]
        style[#style + 1] = word
      end
    else
      local attached = letter and value ~= "" and value:sub(1, 1) ~= "=" and ("-" .. letter .. value) or nil
      local forms = {
        {"--" .. name .. "=" .. value}, {"--" .. name, value},
        letter and value ~= "" and {"-" .. letter, value} or {"--" .. name .. "=" .. value},
        letter and value ~= "" and {attached or ("-" .. letter .. "=" .. value)} or {"--" .. name .. "=" .. value},
      }
      for index, words in ipairs(forms) do table.move(words, 1, #words, #styles[index] + 1, styles[index]) end
    end
  end
  local seen, texts = {[text] = true}, {text}
  for _, style in ipairs(styles) do
    local joined = table.concat(style, " ")
    if not seen[joined] then
      seen[joined] = true
      texts[#texts + 1] = joined
    end
  end
  return texts
end

local where = {file = dstack.fs.join(root, "docker", "Dockerfile"), setting = "run-options", root = root}
local lines = {}
for index = 3, #dstack.args do
  local results = {}
  for _, text in ipairs(spellings(dstack.args[index])) do
    local ok, result = pcall(allowances.options, text, where)
    local class = ok and "inside" or result:find("asks for options that reach the host", 1, true) and "needs"
      or result:find("dstack never passes", 1, true) and "never" or "error"
    results[#results + 1] = {text = text, class = class, words = ok and table.concat(result, "\n") or nil,
      message = not ok and result or nil}
  end
  lines[#lines + 1] = {line = dstack.args[index], spellings = results}
end
local kinds = {}
for name, kind in pairs(run_options.kinds) do kinds[name] = kind end
assert(dstack.fs.write(output, dstack.json.encode({kinds = kinds, shorthands = run_options.shorthands, lines = lines})))
