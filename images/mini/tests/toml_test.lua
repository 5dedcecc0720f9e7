-- Tests of lib/toml.lua: the toml-test cases in lib/toml_cases.lua (LuaModuleTests runs this
-- file on the whole suite too, with lib/toml_suite.lua in its place), and what pyproject.toml needs.
local t = require("testing")
local toml = require("toml")
local cases = require("toml_cases")

-- A date or time as toml-test writes it: T and Z in capitals, ' ' made T, and the fraction of a
-- second without trailing zeros (toml-test writes .600 where the document says .6).
local function moment(text)
  text = text:gsub("[ t]", "T"):gsub("z", "Z")
  return (text:gsub("%.(%d+)", function(digits)
    digits = digits:gsub("0+$", "")
    return digits == "" and "" or "." .. digits
  end))
end

-- The Lua value toml.lua gives for a typed toml-test value; dates and times as `moment` writes them.
local function expected_value(typed)
  if typed.type and type(typed.value) == "string" then
    local kind, text = typed.type, typed.value
    if kind == "string" then return text end
    if kind == "integer" then return math.tointeger(tonumber(text)) end
    if kind == "bool" then return text == "true" end
    if kind == "float" then
      if text:match("nan$") then return 0 / 0 end
      if text:match("inf$") then return text:sub(1, 1) == "-" and -math.huge or math.huge end
      return tonumber(text) + 0.0
    end
    return {date = moment(text)}
  end
  local result = {}
  for key, value in pairs(typed) do result[key] = expected_value(value) end
  return result
end

-- `data` with every date and time as {date = TEXT} (as `moment` writes it).
local function dates_marked(data, expected)
  if type(expected) ~= "table" then return data end
  if expected.date then return type(data) == "string" and {date = moment(data)} or data end
  if type(data) ~= "table" then return data end
  local result = {}
  for key, value in pairs(data) do result[key] = dates_marked(value, expected[key]) end
  return result
end

t.test("reads every valid toml-test case as toml-test expects", function()
  local failures = {}
  for _, case in ipairs(cases.valid) do
    local name, text, json = table.unpack(case)
    local expected = expected_value(assert(dstack.json.decode(json)))
    local ok, problem = pcall(function()
      local data, refused = toml.parse(text)
      t.equal(refused, nil, name)
      t.equal(dates_marked(data, expected), expected, name)
    end)
    if not ok then failures[#failures + 1] = problem end
  end
  t.equal(failures, {}, #failures .. " of " .. #cases.valid)
end)

t.test("refuses every invalid toml-test case with its line", function()
  local failures = {}
  for _, case in ipairs(cases.invalid) do
    local name, text = table.unpack(case)
    local ok, data, problem = pcall(toml.parse, text)
    if not ok then
      failures[#failures + 1] = name .. " raised " .. tostring(data) .. " instead of returning nil and a message"
    elseif data ~= nil then
      failures[#failures + 1] = name .. " was read"
    elseif not (type(problem) == "string" and problem:match("^line %d+: .")) then
      failures[#failures + 1] = name .. ": " .. tostring(problem)
    end
  end
  t.equal(failures, {}, #failures .. " of " .. #cases.invalid)
end)

t.test("a pyproject.toml", function()
  local data = assert(toml.parse([[
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "my-app"
version = "0.1.0"
dependencies = [
  "requests>=2.31",  # HTTP
]
optional-dependencies.test = ["pytest"]

[tool.dstack]
parent = "team/py3"
]]))
  t.equal(data.project.name, "my-app")
  t.equal(data.project.dependencies, {"requests>=2.31"})
  t.equal(data.project["optional-dependencies"], {test = {"pytest"}})
  t.equal(data.tool.dstack, {parent = "team/py3"})
end)

t.test("numbers keep their kind: integers, floats, other bases", function()
  local data = assert(toml.parse("a = 1_000\nb = 3e2\nc = 9.0\nd = 0xff\ne = 0o17\nf = 0b101\ng = -0.0\nh = -inf"))
  t.equal(data, {a = 1000, b = 300.0, c = 9.0, d = 255, e = 15, f = 5, g = -0.0, h = -math.huge})
end)

t.test("dates and times stay the text they were written as", function()
  local data = assert(toml.parse("a = 1979-05-27T07:32:00Z\nb = 1979-05-27 07:32:00.5+01:00\nc = 1979-05-27\nd = 07:32:00"))
  t.equal(data, {a = "1979-05-27T07:32:00Z", b = "1979-05-27 07:32:00.5+01:00", c = "1979-05-27", d = "07:32:00"})
end)

t.test("what it does not support is refused with its line", function()
  for text, message in pairs({
    ['a = 1\nb = "\\e"'] = 'line 2: invalid escape \\e (TOML 1.1, not supported)',
    ['a = 1\nb = "\\x41"'] = 'line 2: invalid escape \\x (TOML 1.1, not supported)',
    ["a = 1\n\nb = 07:32"] = "line 3: invalid time (TOML 1.0 times have seconds)",
    ["a = {b = 1,\n c = 2}"] = "line 1: an inline table is written on one line (line breaks in it are TOML 1.1, not supported)",
    ["a = {b = 1, }"] = "line 1: a trailing comma in an inline table (TOML 1.1, not supported)",
    ["a = 9223372036854775808"] = "line 1: integer out of range '9223372036854775808'",
  }) do
    t.equal(select(2, toml.parse(text)), message, text)
  end
end)

t.test("mistakes in a pyproject.toml name the line", function()
  t.equal(select(2, toml.parse('[project]\nname = my-app\n')), "line 2: expected a value, found 'my-app'")
  t.equal(select(2, toml.parse('[project]\nname = "x"\nversion = 0.1.0\n')), "line 3: expected a value, found '0.1.0'")
  t.equal(select(2, toml.parse('[project]\nname = "a"\nname = "b"\n')), "line 3: the key name is defined twice")
  t.equal(select(2, toml.parse('[project]\n[project]\n')), "line 2: the table [project] is defined twice")
  t.equal(select(2, toml.parse('a = "b\n')), "line 1: a string ends at the line end")
  t.equal(select(2, toml.parse('a = 1\nb = "\255"\n')), "line 2: invalid UTF-8")
end)

return t.run()
