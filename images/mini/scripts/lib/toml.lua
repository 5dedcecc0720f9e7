-- toml: reads TOML (v1.0) text into Lua tables, for pyproject.toml.
--
--   local toml = require("toml")
--   local data, problem = toml.parse(text)   -- problem: "line 3: expected a value"
--
-- Tables become Lua tables, arrays sequences, strings, integers, floats and booleans their
-- Lua values; dates and times stay the text they were written as (their fields checked,
-- nothing converted). Nothing is written back. It reads TOML 1.0 and refuses, with the
-- line, what TOML 1.0 refuses (images/mini/tests/toml_test.lua holds cases of the
-- toml-test suite), and these, which it does not support:
--   - TOML 1.1's additions: the \e and \xHH escapes, times without seconds, line breaks
--     and a trailing comma in inline tables;
--   - integers outside 64 bits ("integer out of range").
local M = {}

local escapes = {b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\"}

local Parser = {}
Parser.__index = Parser

function Parser:fail(message)
  error({toml = "line " .. self.line .. ": " .. message}, 0)
end

function Parser:peek(count) return self.text:sub(self.pos, self.pos + (count or 1) - 1) end

function Parser:advance(count)
  local skipped = self.text:sub(self.pos, self.pos + count - 1)
  for _ in skipped:gmatch("\n") do self.line = self.line + 1 end
  self.pos = self.pos + count
end

-- Refuses control characters in `text` other than tab (and, with `line_ends`, LF and CRLF).
function Parser:check_controls(text, what, line_ends)
  local at = text:find(line_ends and "[\0-\8\11\12\14-\31\127]" or "[\0-\8\10-\31\127]")
  if not at and line_ends then
    -- A carriage return only before a line feed.
    at = text:find("\r[^\n]") or (text:sub(-1) == "\r" and #text) or nil
  end
  if at then
    local _, breaks = text:sub(1, at - 1):gsub("\n", "")
    self.line = self.line + breaks
    self:fail(string.format("control character U+%04X in %s", text:byte(at), what))
  end
end

-- Skips spaces and tabs (and, with `newlines`, line ends and comments).
function Parser:skip(newlines)
  while true do
    local c = self:peek()
    if c == " " or c == "\t" then
      self:advance(1)
    elseif c == "#" then
      local finish = self.text:find("\n", self.pos, true) or (#self.text + 1)
      local comment = self.text:sub(self.pos + 1, finish - 1):gsub("\r$", "")
      self:check_controls(comment, "a comment", false)
      self.pos = finish
    elseif newlines and (c == "\n" or self:peek(2) == "\r\n") then
      self:advance(c == "\n" and 1 or 2)
    else
      return
    end
  end
end

function Parser:expect_line_end()
  self:skip(false)
  local c = self:peek()
  if c == "" then return end
  if c == "\n" then return self:advance(1) end
  if self:peek(2) == "\r\n" then return self:advance(2) end
  self:fail("expected the end of the line, found '" .. c .. "'")
end

local function utf8_of(hex, parser)
  local code = hex:match("^%x+$") and tonumber(hex, 16)
  if not code or code > 0x10FFFF or (code >= 0xD800 and code <= 0xDFFF) then parser:fail("invalid escape \\u" .. hex) end
  return utf8.char(code)
end

function Parser:basic_string(multiline)
  local quote = multiline and '"""' or '"'
  self:advance(#quote)
  if multiline and self:peek() == "\n" then self:advance(1) elseif multiline and self:peek(2) == "\r\n" then self:advance(2) end
  local parts = {}
  while true do
    local c = self:peek()
    if c == "" then self:fail("unterminated string") end
    if multiline and self:peek(3) == '"""' then
      -- Up to two quotes may end the content right before the closing three.
      local extra = 0
      while extra < 2 and self.text:sub(self.pos + 3 + extra, self.pos + 3 + extra) == '"' do extra = extra + 1 end
      parts[#parts + 1] = string.rep('"', extra)
      self:advance(3 + extra)
      return table.concat(parts)
    elseif not multiline and c == '"' then
      self:advance(1)
      return table.concat(parts)
    elseif c == "\\" then
      local e = self.text:sub(self.pos + 1, self.pos + 1)
      if escapes[e] then
        parts[#parts + 1] = escapes[e]
        self:advance(2)
      elseif e == "u" or e == "U" then
        local length = e == "u" and 4 or 8
        parts[#parts + 1] = utf8_of(self.text:sub(self.pos + 2, self.pos + 1 + length), self)
        self:advance(2 + length)
      elseif multiline and self.text:match("^[ \t]*\r?\n", self.pos + 1) then
        self:advance(1)
        while self:peek():match("^[ \t\n]$") or self:peek(2) == "\r\n" do self:advance(1) end
      else
        self:fail("invalid escape \\" .. e .. ((e == "x" or e == "e") and " (TOML 1.1, not supported)" or ""))
      end
    elseif c == "\n" and not multiline then
      self:fail("a string ends at the line end")
    elseif multiline and self:peek(2) == "\r\n" then
      parts[#parts + 1] = "\n"
      self:advance(2)
    else
      local run = self.text:match('^[^"\\\r\n]+', self.pos) or c
      self:check_controls(run, "a string", multiline)
      parts[#parts + 1] = run
      self:advance(#run)
    end
  end
end

function Parser:literal_string(multiline)
  local quote = multiline and "'''" or "'"
  self:advance(#quote)
  if multiline and self:peek() == "\n" then self:advance(1) elseif multiline and self:peek(2) == "\r\n" then self:advance(2) end
  local finish = self.text:find(quote, self.pos, true)
  if not finish then self:fail("unterminated string") end
  if multiline then
    -- Up to two quotes may end the content right before the closing three.
    for _ = 1, 2 do
      if self.text:sub(finish + 3, finish + 3) == "'" then finish = finish + 1 end
    end
  end
  local value = self.text:sub(self.pos, finish - 1)
  if not multiline and value:find("\n", 1, true) then self:fail("a string ends at the line end") end
  self:check_controls(value, "a string", multiline)
  self:advance(finish - self.pos + #quote)
  return (value:gsub("\r\n", "\n"))
end

function Parser:key_part()
  local c = self:peek()
  if c == '"' then
    if self:peek(3) == '"""' then self:fail("a key cannot be a multi-line string") end
    return self:basic_string(false)
  end
  if c == "'" then
    if self:peek(3) == "'''" then self:fail("a key cannot be a multi-line string") end
    return self:literal_string(false)
  end
  local bare = self.text:match("^[%w_-]+", self.pos)
  if not bare then self:fail(c == "" and "expected a key" or ("expected a key, found '" .. c .. "'")) end
  self:advance(#bare)
  return bare
end

-- A dotted key, as a list of parts.
function Parser:key()
  local parts = {}
  while true do
    self:skip(false)
    parts[#parts + 1] = self:key_part()
    self:skip(false)
    if self:peek() ~= "." then return parts end
    self:advance(1)
  end
end

-- Whether `digits` are digits of `class` with single underscores between them.
local function digits_ok(digits, class)
  return digits ~= "" and not digits:find("^_") and not digits:find("_$") and not digits:find("__", 1, true)
    and digits:gsub("_", ""):match("^" .. class .. "+$") ~= nil
end

-- A decimal integer part: no leading zero (and `0` alone).
local function decimal_ok(digits)
  return digits_ok(digits, "%d") and (digits == "0" or not digits:find("^0"))
end

-- The number `word` means (an integer or a float); nil when it is not one, and a message
-- when it is an integer out of range.
local function number_of(word)
  local sign, rest = word:match("^([+-]?)(.*)$")
  if rest == "inf" then return sign == "-" and -math.huge or math.huge end
  if rest == "nan" then return 0 / 0 end
  local prefix = rest:sub(1, 2)
  local bases = {["0x"] = {16, "%x"}, ["0o"] = {8, "[0-7]"}, ["0b"] = {2, "[01]"}}
  if bases[prefix] then
    local base, class = table.unpack(bases[prefix])
    if sign ~= "" or not digits_ok(rest:sub(3), class) then return nil end
    local value = 0
    for digit in rest:sub(3):gsub("_", ""):gmatch(".") do
      if value > (math.maxinteger - tonumber(digit, base)) // base then return nil, "integer out of range" end
      value = value * base + tonumber(digit, base)
    end
    return value
  end
  local whole, tail = rest:match("^([%d_]+)(.*)$")
  if not whole or not decimal_ok(whole) then return nil end
  if tail == "" then
    local value = math.tointeger(tonumber(sign .. whole:gsub("_", "")))
    if not value then return nil, "integer out of range" end
    return value
  end
  local fraction, after = tail:match("^%.([%d_]*)(.*)$")
  if fraction then
    if not digits_ok(fraction, "%d") then return nil end
    tail = after
  end
  if tail ~= "" and not digits_ok(tail:match("^[eE][+-]?(.*)$") or "", "%d") then return nil end
  return tonumber((word:gsub("_", "")))
end

local days = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

-- Checks the fields of a date (`year`, `month`, `day`: strings) and a time.
function Parser:check_date(year, month, day)
  year, month, day = tonumber(year), tonumber(month), tonumber(day)
  local leap = year % 4 == 0 and (year % 100 ~= 0 or year % 400 == 0)
  if month < 1 or month > 12 or day < 1 or day > days[month] or (month == 2 and day == 29 and not leap) then
    self:fail("invalid date")
  end
end

function Parser:check_time(hour, minute, second)
  if tonumber(hour) > 23 or tonumber(minute) > 59 or tonumber(second) > 60 then self:fail("invalid time") end
end

-- A date, time or date-time at the current position, as written; nil when there is none.
function Parser:date_time()
  local text, pos = self.text, self.pos
  local year, month, day = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)", pos)
  local length
  if year then
    self:check_date(year, month, day)
    length = 10
    local hour, minute, second = text:match("^[Tt ](%d%d):(%d%d):(%d%d)", pos + length)
    if hour then
      length = length + 9
    elseif text:match("^[Tt]%d", pos + length) or text:match("^ %d%d:", pos + length) then
      self:fail("invalid time (TOML 1.0 times have seconds)")
    else
      return self:take(length)
    end
    self:check_time(hour, minute, second)
  else
    local hour, minute, second = text:match("^(%d%d):(%d%d):(%d%d)", pos)
    if not hour then
      if text:match("^%d%d:%d%d", pos) then self:fail("invalid time (TOML 1.0 times have seconds)") end
      return nil
    end
    self:check_time(hour, minute, second)
    length = 8
  end
  local fraction = text:match("^%.%d+", pos + length)
  length = length + (fraction and #fraction or 0)
  if year then
    local zone = text:match("^[Zz]", pos + length)
    local zone_hour, zone_minute = text:match("^[+-](%d%d):(%d%d)", pos + length)
    if zone_hour and (tonumber(zone_hour) > 23 or tonumber(zone_minute) > 59) then self:fail("invalid time offset") end
    length = length + (zone and 1 or zone_hour and 6 or 0)
  end
  return self:take(length)
end

-- The next `length` characters, consumed.
function Parser:take(length)
  local value = self:peek(length)
  self:advance(length)
  return value
end

-- How each table was made, for TOML's rules on defining a table once: "header" ([a]),
-- "implicit" (a parent of a header), "dotted" (by a dotted key), "inline" ({…}, closed),
-- "array" ([…] and its tables, closed), "tables" ([[a]], a list of tables).
function Parser:kind(value)
  return type(value) == "table" and self.kinds[value] or nil
end

-- Marks `value` and the tables in it as closed: nothing may be added to them.
function Parser:close(value, kind)
  if type(value) ~= "table" then return end
  self.kinds[value] = kind
  for _, item in pairs(value) do self:close(item, kind) end
end

function Parser:value()
  local text, pos = self.text, self.pos
  local c = self:peek()
  if self:peek(3) == '"""' then return self:basic_string(true) end
  if self:peek(3) == "'''" then return self:literal_string(true) end
  if c == '"' then return self:basic_string(false) end
  if c == "'" then return self:literal_string(false) end
  if c == "[" then return self:array() end
  if c == "{" then return self:inline_table() end
  for word, value in pairs({["true"] = true, ["false"] = false}) do
    if text:match("^" .. word .. "%f[^%w_-]", pos) then
      self:advance(#word)
      return value
    end
  end
  local date = self:date_time()
  if date then return date end
  local word = text:match("^[%+%-]?[%w_%.%+%-]+", pos)
  if word and (word:match("^[+-]?%d") or word:match("^[+-]?inf$") or word:match("^[+-]?nan$")) then
    local value, problem = number_of(word)
    if problem then self:fail(problem .. " '" .. word .. "'") end
    if value ~= nil then
      self:advance(#word)
      return value
    end
  end
  self:fail(c == "" and "expected a value" or ("expected a value, found '" .. (text:match("^[^\n]*", pos)) .. "'"))
end

function Parser:array()
  self:advance(1)
  local items = {}
  while true do
    self:skip(true)
    if self:peek() == "]" then
      self:advance(1)
      self:close(items, "array")
      return items
    end
    items[#items + 1] = self:value()
    self:skip(true)
    local c = self:peek()
    if c == "," then
      self:advance(1)
    elseif c == "]" then
      self:advance(1)
      self:close(items, "array")
      return items
    else
      self:fail("expected ',' or ']' in an array")
    end
  end
end

function Parser:inline_table()
  self:advance(1)
  local result = {}
  self.kinds[result] = "dotted"
  self:skip(false)
  self:one_line()
  if self:peek() == "}" then
    self:advance(1)
    self:close(result, "inline")
    return result
  end
  while true do
    local key = self:key()
    if self:peek() ~= "=" then self:fail("expected '=' after a key") end
    self:advance(1)
    self:skip(false)
    self:assign(result, key, self:value())
    self:skip(false)
    local c = self:peek()
    if c == "}" then
      self:advance(1)
      self:close(result, "inline")
      return result
    end
    if c ~= "," then
      self:one_line()
      self:fail("expected ',' or '}' in an inline table")
    end
    self:advance(1)
    self:skip(false)
    self:one_line()
    if self:peek() == "}" then self:fail("a trailing comma in an inline table (TOML 1.1, not supported)") end
  end
end

-- Refuses a line break (or a comment) inside an inline table.
function Parser:one_line()
  if self:peek() == "\n" or self:peek(2) == "\r\n" then
    self:fail("an inline table is written on one line (line breaks in it are TOML 1.1, not supported)")
  end
end

-- Sets `key` (a list of parts) in `target` to `value`: the tables on the way are made by
-- dotted keys (or were); the key itself is new.
function Parser:assign(target, key, value)
  local name = table.concat(key, ".")
  for index = 1, #key - 1 do
    local part = key[index]
    if target[part] == nil then
      target[part] = {}
      self.kinds[target[part]] = "dotted"
    elseif self:kind(target[part]) ~= "dotted" then
      self:fail("the key " .. name .. " adds to " .. table.concat(key, ".", 1, index) .. ", which is "
        .. (type(target[part]) == "table" and "defined elsewhere" or "not a table"))
    end
    target = target[part]
  end
  if target[key[#key]] ~= nil then self:fail("the key " .. name .. " is defined twice") end
  target[key[#key]] = value
end

-- The table a header's parent parts lead to, making implicit tables on the way.
function Parser:header_parent(key)
  local name = table.concat(key, ".")
  local current = self.root
  for index = 1, #key - 1 do
    local part = key[index]
    if current[part] == nil then
      current[part] = {}
      self.kinds[current[part]] = "implicit"
    end
    local kind = self:kind(current[part])
    if kind == "tables" then
      current = current[part][#current[part]]
    elseif kind == "header" or kind == "implicit" or kind == "dotted" then
      current = current[part]
    else
      self:fail("the table [" .. name .. "] is inside " .. table.concat(key, ".", 1, index) .. ", which is "
        .. (kind and "closed (an inline table or array)" or "not a table"))
    end
  end
  return current
end

function Parser:document()
  local root = {}
  self.root, self.kinds = root, setmetatable({[root] = "header"}, {__mode = "k"})
  local current = root
  if self:peek(3) == "\239\187\191" then self.pos = 4 end
  while true do
    self:skip(true)
    if self:peek() == "" then return root end
    if self:peek(2) == "[[" then
      self:advance(2)
      local key = self:key()
      if self:peek(2) ~= "]]" then self:fail("expected ']]' after a table name") end
      self:advance(2)
      local parent = self:header_parent(key)
      local last = key[#key]
      if parent[last] == nil then
        parent[last] = {}
        self.kinds[parent[last]] = "tables"
      elseif self:kind(parent[last]) ~= "tables" then
        self:fail("[[" .. table.concat(key, ".") .. "]]: " .. table.concat(key, ".") .. " is not an array of tables")
      end
      current = {}
      self.kinds[current] = "header"
      parent[last][#parent[last] + 1] = current
    elseif self:peek() == "[" then
      self:advance(1)
      local key = self:key()
      if self:peek() ~= "]" then self:fail("expected ']' after a table name") end
      self:advance(1)
      local parent = self:header_parent(key)
      local last = key[#key]
      if parent[last] == nil then
        parent[last] = {}
      elseif self:kind(parent[last]) ~= "implicit" then
        self:fail("the table [" .. table.concat(key, ".") .. "] is defined twice")
      end
      current = parent[last]
      self.kinds[current] = "header"
    else
      local key = self:key()
      if self:peek() ~= "=" then self:fail("expected '=' after the key " .. table.concat(key, ".")) end
      self:advance(1)
      self:skip(false)
      self:assign(current, key, self:value())
    end
    self:expect_line_end()
  end
end

-- The data in TOML `text`, or nil and "line N: what is wrong".
function M.parse(text)
  local parser = setmetatable({text = text, pos = 1, line = 1}, Parser)
  local valid, bad = utf8.len(text)
  if not valid then
    local _, breaks = text:sub(1, bad - 1):gsub("\n", "")
    return nil, "line " .. (breaks + 1) .. ": invalid UTF-8"
  end
  local ok, result = pcall(parser.document, parser)
  if ok then return result end
  if type(result) == "table" and result.toml then return nil, result.toml end
  error(result, 0)
end

return M
