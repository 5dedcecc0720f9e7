-- testing: a small unit-test framework for the mini's Lua modules (images/mini/tests).
--
--   local t = require("testing")
--   local toml = require("toml")
--   t.test("a basic string", function()
--     t.equal(toml.parse('a = "b"'), {a = "b"})
--   end)
--   return t.run()
--
-- A test file runs as a script does (the host's ScriptRunner, the real `dstack` API, the
-- sandbox), with the modules of images/mini/scripts/lib and this folder's lib/ beside it.
-- The tests run in order, each protected. A failed check names the test file and line:
-- `toml_test.lua:12: expected "b", got "c"`. `run` returns 0 when every test passed and
-- otherwise raises one line per failed test, `NAME: FILE:LINE: message`, which the Swift
-- side (LuaModuleTests) reports as one failure each.
--
-- Stubs (`stub`, `environment`, `engine`) replace a member of `dstack` until the end of the
-- test that made them, so a test chooses what the machine answers. Scratch folders
-- (`scratch`) are real folders, removed when the test file ends.
local M = {}

local tests = {}
local stubs = {}

-- Adds the test `name`, whose `body` is a function that raises on failure.
function M.test(name, body)
  tests[#tests + 1] = {name = name, body = body}
end

-- A readable form of `value`: strings quoted, tables with sorted keys.
local function show(value)
  if type(value) == "string" then return (string.format("%q", value):gsub("\\\n", "\\n")) end
  if type(value) ~= "table" then return tostring(value) end
  local keys = {}
  for key in pairs(value) do keys[#keys + 1] = key end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
    return type(a) < type(b)
  end)
  local parts = {}
  for _, key in ipairs(keys) do
    local name = type(key) == "string" and key:match("^[%a_][%w_]*$") and key or ("[" .. show(key) .. "]")
    parts[#parts + 1] = name .. " = " .. show(value[key])
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end
M.show = show

-- Whether `a` and `b` are equal: tables by their contents, integers and floats apart
-- (1 and 1.0 differ), NaN equal to NaN.
local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) == "number" then
    if a ~= a and b ~= b then return true end
    return a == b and math.type(a) == math.type(b)
  end
  if type(a) ~= "table" then return a == b end
  for key, value in pairs(a) do
    if not same(value, b[key]) then return false end
  end
  for key in pairs(b) do
    if a[key] == nil then return false end
  end
  return true
end

local function fail(message, what)
  error((what and (what .. ": ") or "") .. message, 3)
end

-- Checks that `actual` equals `expected` (deeply); `what` names the value in the message.
function M.equal(actual, expected, what)
  if not same(actual, expected) then fail("expected " .. show(expected) .. ", got " .. show(actual), what) end
end

-- Checks that `value` is neither nil nor false.
function M.truthy(value, what)
  if not value then fail("expected a true value, got " .. show(value), what) end
end

-- Checks that `text` is a string holding `fragment` (plain text, not a pattern).
function M.contains(text, fragment, what)
  if type(text) ~= "string" or not text:find(fragment, 1, true) then
    fail("expected text holding " .. show(fragment) .. ", got " .. show(text), what)
  end
end

-- Checks that calling `body` raises an error holding `fragment`; returns the message.
function M.raises(body, fragment, what)
  local ok, problem = pcall(body)
  if ok then fail("expected an error holding " .. show(fragment) .. ", got none", what) end
  problem = tostring(problem)
  if not problem:find(fragment, 1, true) then
    fail("expected an error holding " .. show(fragment) .. ", got " .. show(problem), what)
  end
  return problem
end

-- A new scratch folder holding `files` ({["docker/Dockerfile"] = "FROM x"}; a path ending
-- in "/" makes an empty folder).
function M.scratch(files)
  local fs = dstack.fs
  local folder = fs.tmpdir()
  for path, text in pairs(files or {}) do
    local full = fs.join(folder, path)
    if path:sub(-1) == "/" then
      assert(fs.mkdir(full))
    else
      assert(fs.mkdir(fs.dirname(full)))
      assert(fs.write(full, text))
    end
  end
  return folder
end

-- Replaces `namespace[key]` (`dstack.fs`, "cwd") with `value` until the test ends.
function M.stub(namespace, key, value)
  stubs[#stubs + 1] = {namespace = namespace, key = key, value = namespace[key]}
  namespace[key] = value
end

-- The process environment is exactly `variables` until the test ends (`dstack.env.get`).
function M.environment(variables)
  M.stub(dstack.env, "get", function(name) return variables[name] end)
end

-- The engine and the registry answer from `recorded` until the test ends:
--   images     rows of `docker image ls --format '{{json .}}'` (Repository, Tag, ID, …);
--   containers rows of `docker ps --format '{{json .}}'` (Image, Names, …);
--   registry   {[repository] = {tags}}: its tags, and a manifest for each of them;
--   registry_problem  what every registry read answers instead, such as an unreachable host;
--   kind       what docker.engine() says (default: Docker as root, not rootless).
-- A question nothing was recorded for raises, naming it.
function M.engine(recorded)
  local images = recorded.images or {}
  local registry = recorded.registry or {}
  M.stub(require("docker"), "engine", function()
    return recorded.kind or {podman = false, rootless = false, name = "Docker 20.10.24"}
  end)
  M.stub(dstack.docker, "query", function(args)
    if args[1] == "image" and args[2] == "ls" then
      local rows = {}
      for _, row in ipairs(images) do
        if args[5] == nil or row.Repository == args[5] then rows[#rows + 1] = row end
      end
      return rows
    elseif args[1] == "ps" and recorded.containers then
      local ancestor
      for index, word in ipairs(args) do
        if word == "--filter" then ancestor = args[index + 1]:match("^ancestor=(.*)$") end
      end
      local rows = {}
      for _, row in ipairs(recorded.containers) do
        if not ancestor or row.Image == ancestor then rows[#rows + 1] = row end
      end
      return rows
    end
    error("the test recorded no engine answer for docker " .. table.concat(args, " "), 2)
  end)
  M.stub(dstack.docker, "containers", function(filters)
    if not recorded.containers then error("the test recorded no containers", 2) end
    local rows = {}
    for _, row in ipairs(recorded.containers) do
      local labels = row.Labels or {}
      local label_key, label_value = ((filters or {}).label or ""):match("^([^=]+)=?(.*)$")
      if (not (filters or {}).ancestor or row.Image == filters.ancestor)
        and (not label_key or labels[label_key] == label_value) then
        rows[#rows + 1] = {id = row.ID, image = row.Image, names = row.Names, state = row.State, status = row.Status,
          labels = labels}
      end
    end
    return rows
  end)
  -- The image ID as the engine's socket gives it: `image ls` shows its first 12 digits.
  local function full_id(row) return "sha256:" .. (row.ID .. string.rep("0", 64)):sub(1, 64) end
  M.stub(dstack.docker, "local_tags", function(repository)
    local tags = {}
    for _, row in ipairs(images) do
      if row.Repository == repository then tags[#tags + 1] = {tag = row.Tag, id = full_id(row)} end
    end
    return tags
  end)
  M.stub(dstack.docker, "inspect_image", function(reference)
    for _, row in ipairs(images) do
      if row.Repository .. ":" .. row.Tag == reference or full_id(row) == reference then
        -- An image without labels has none (null), as the engine says: not an empty table.
        return {Id = full_id(row), Config = {Labels = row.Labels}, RepoDigests = {}}
      end
    end
    return nil, "no such image: " .. reference
  end)
  M.stub(dstack.registry, "tags", function(repository)
    if recorded.registry_problem then return nil, recorded.registry_problem end
    return registry[repository] or {}
  end)
  M.stub(dstack.registry, "manifest", function(reference)
    if recorded.registry_problem then return nil, recorded.registry_problem, "failed" end
    local parsed = assert(dstack.docker.parse_reference(reference))
    for _, tag in ipairs(registry[parsed.repository] or {}) do
      if tag == parsed.tag then return {digest = "sha256:" .. string.rep("0", 64), labels = {}} end
    end
    return nil, "manifest " .. reference .. " not found", "not_found"
  end)
end

-- A row of `docker image ls --format '{{json .}}'`, as the engine answers it.
function M.image_row(repository, tag)
  return {
    Containers = "N/A", CreatedAt = "2026-11-29 06:30:00 +0000 UTC", CreatedSince = "3 days ago", Digest = "<none>",
    ID = "a1b2c3d4e5f6", Repository = repository, SharedSize = "N/A", Size = "52.1MB", Tag = tag,
    UniqueSize = "N/A", VirtualSize = "52.1MB",
  }
end

-- A container as `dstack.docker.containers` reads it from the engine (recorded in
-- `engine{containers = ...}`): image `image`, labels `labels`, created, not running.
function M.container_row(image, labels)
  return {ID = string.rep("5e", 32), Image = image, Names = "ann-app-20261129-063000-1a2b", State = "created",
    Status = "Created", Labels = labels or {}}
end

local function restore()
  for index = #stubs, 1, -1 do
    local stub = stubs[index]
    stub.namespace[stub.key] = stub.value
  end
  stubs = {}
end

-- Runs every test added; returns 0 when all passed, else raises one line per failure.
function M.run()
  if #tests == 0 then error("no tests: add some with testing.test(name, body)", 0) end
  local failures = {}
  for _, test in ipairs(tests) do
    local ok, problem = pcall(test.body)
    restore()
    if not ok then failures[#failures + 1] = test.name .. ": " .. tostring(problem):gsub("\n", " ") end
  end
  if #failures > 0 then error(table.concat(failures, "\n"), 0) end
  return 0
end

return M
