-- toml: reads TOML (v1.0) text into Lua tables, for pyproject.toml.
--
--   local toml = require("toml")
--   local data, problem = toml.parse(text)   -- problem: "line 3: expected a value"
--
-- Tables become Lua tables, arrays sequences, strings, integers, floats and booleans their
-- Lua values; dates and times stay the text they were written as. Nothing is written back.
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

-- Skips spaces and tabs (and, with `newlines`, line ends and comments).
function Parser:skip(newlines)
  while true do
    local c = self:peek()
    if c == " " or c == "\t" then
      self:advance(1)
    elseif c == "#" then
      local finish = self.text:find("\n", self.pos, true) or (#self.text + 1)
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
  local code = tonumber(hex, 16)
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
        self:skip(true)
        while self:peek():match("^[ \t\r\n]$") do self:advance(1) end
      else
        self:fail("invalid escape \\" .. e)
      end
    elseif c == "\n" and not multiline then
      self:fail("a string ends at the line end")
    else
      parts[#parts + 1] = c
      self:advance(1)
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
    while self.text:sub(finish + 3, finish + 3) == "'" and finish - self.pos < #self.text do finish = finish + 1 end
  end
  local value = self.text:sub(self.pos, finish - 1)
  if not multiline and value:find("\n", 1, true) then self:fail("a string ends at the line end") end
  self:advance(finish - self.pos + #quote)
  return value
end

function Parser:key_part()
  local c = self:peek()
  if c == '"' then return self:basic_string(false) end
  if c == "'" then return self:literal_string(false) end
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
  local date = text:match("^%d%d%d%d%-%d%d%-%d%d[Tt ]%d%d:%d%d:%d%d[%.%d]*[Zz]?[%+%-]?[%d:]*", pos)
    or text:match("^%d%d%d%d%-%d%d%-%d%d", pos) or text:match("^%d%d:%d%d:%d%d[%.%d]*", pos)
  if date then
    self:advance(#date)
    return date
  end
  local number = text:match("^[%+%-]?[%w_%.%+%-]+", pos)
  if number then
    local plain = number:gsub("_", "")
    local value = math.tointeger(tonumber(plain)) or tonumber(plain)
    if plain:match("^[%+%-]?inf$") then value = plain:sub(1, 1) == "-" and -math.huge or math.huge end
    if plain:match("^[%+%-]?nan$") then value = 0 / 0 end
    if value ~= nil and not plain:match("^[%+%-]?0%d") then
      self:advance(#number)
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
      return items
    end
    items[#items + 1] = self:value()
    self:skip(true)
    local c = self:peek()
    if c == "," then
      self:advance(1)
    elseif c == "]" then
      self:advance(1)
      return items
    else
      self:fail("expected ',' or ']' in an array")
    end
  end
end

function Parser:inline_table()
  self:advance(1)
  local result = {}
  self:skip(false)
  if self:peek() == "}" then
    self:advance(1)
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
      return result
    end
    if c ~= "," then self:fail("expected ',' or '}' in an inline table") end
    self:advance(1)
  end
end

-- Sets `key` (a list of parts) in `target` to `value`; a key defined twice is an error.
function Parser:assign(target, key, value)
  for index = 1, #key - 1 do
    local part = key[index]
    if target[part] == nil then target[part] = {} end
    if type(target[part]) ~= "table" then self:fail("the key " .. table.concat(key, ".") .. " is not a table") end
    target = target[part]
  end
  if target[key[#key]] ~= nil then self:fail("the key " .. table.concat(key, ".") .. " is defined twice") end
  target[key[#key]] = value
end

function Parser:document()
  local root = {}
  local current = root
  local defined = {}
  while true do
    self:skip(true)
    if self:peek() == "" then return root end
    if self:peek(2) == "[[" then
      self:advance(2)
      local key = self:key()
      if self:peek(2) ~= "]]" then self:fail("expected ']]' after a table name") end
      self:advance(2)
      local parent = root
      for index = 1, #key - 1 do
        parent[key[index]] = parent[key[index]] or {}
        parent = parent[key[index]]
        if parent[#parent] ~= nil and type(parent[#parent]) == "table" then parent = parent[#parent] end
      end
      local list = parent[key[#key]] or {}
      if type(list) ~= "table" then self:fail("the key " .. table.concat(key, ".") .. " is not an array of tables") end
      parent[key[#key]] = list
      current = {}
      list[#list + 1] = current
    elseif self:peek() == "[" then
      self:advance(1)
      local key = self:key()
      if self:peek() ~= "]" then self:fail("expected ']' after a table name") end
      self:advance(1)
      local name = table.concat(key, "\0")
      if defined[name] then self:fail("the table [" .. table.concat(key, ".") .. "] is defined twice") end
      defined[name] = true
      current = root
      for _, part in ipairs(key) do
        if current[part] == nil then current[part] = {} end
        if type(current[part]) ~= "table" then self:fail("the key " .. table.concat(key, ".") .. " is not a table") end
        current = current[part]
        if current[1] ~= nil and type(current[#current]) == "table" then current = current[#current] end
      end
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
  local ok, result = pcall(parser.document, parser)
  if ok then return result end
  if type(result) == "table" and result.toml then return nil, result.toml end
  error(result, 0)
end

return M
