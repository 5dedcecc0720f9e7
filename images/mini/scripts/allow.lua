-- allow: allows the docker options of the project here that reach the host.
--
--   dstack run-script allow
-- See `dstack run-script allow --help` and docs/security.md.
dstack.require_api(3) -- lib/allowances.lua: dstack.fs.digest; lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local allowances = require("allowances")
local args = require("args")
local packages = require("packages")
local run_options = require("run_options")

local parser = args.parser{
  usage = "dstack run-script allow",
  summary = "Shows each docker option that the project here asks for in its files (run-options, test-options) "
    .. "with what docker will do with it, and the cluster its docker/Dockerfile names for jobs (cluster=), "
    .. "then allows the file as it is now: the options that reach the host (anything not on the short list of "
    .. "those that stay inside the container) are then passed. A changed file, or a link on the way of a mount "
    .. "that now leads elsewhere, needs allowing again.",
  options = {},
}

if not entry.start(parser, dstack.args, {what = "no arguments"}) then return 0 end

local root, kind = packages.find(dstack.fs.cwd())
if not root then error(kind, 0) end
local file = kind == "package" and dstack.fs.join(root, "pyproject.toml") or dstack.fs.join(root, "docker", "Dockerfile")
-- The digest before the file is read: allowances.allow records it only if the file still has it,
-- so what is shown here is what is recorded.
local digest = assert(dstack.fs.digest(file))
local settings
if kind == "package" then
  local package = packages.read(root)
  settings = package.settings
  -- A pyproject.toml that does not count gives no settings: the file named is setup.cfg or setup.py.
  if package.path ~= file then file, digest = package.path, assert(dstack.fs.digest(package.path)) end
else
  settings = require("project").settings(root)
end

local labels = {needs = "reaches the host", never = "never passed"}
local asked, refused, resolved = false, false, {}

-- Shows each option of `setting` (`text`, a string or a list of words) from `path` with
-- what docker will do with it; returns the words docker gets once allowed.
local function show(setting, text, path, heading)
  local judged = allowances.judge(text, {file = path, setting = setting, root = root})
  print(heading)
  for _, verdict in ipairs(judged) do
    local label = verdict.never and labels.never or verdict.needs and labels.needs or "stays inside"
    print("  " .. label .. ": " .. verdict.text .. " (" .. verdict.says .. ")")
    asked = asked or verdict.needs ~= nil
    refused = refused or verdict.never ~= nil
  end
  local words = run_options.words(judged, true)
  print("  docker gets, once allowed: " .. table.concat(words, " "))
  return words
end

for _, setting in ipairs({"run-options", "test-options"}) do
  local text = settings[setting]
  if text then resolved[setting] = show(setting, text, file, setting .. ": " .. text) end
end
if settings.cluster and settings.cluster ~= "" then
  print("cluster: " .. settings.cluster)
  print("  " .. labels.needs .. ": " .. allowances.cluster_reason(settings.cluster))
  asked = true
end
-- The project's services (a Compose file), a file of their own.
local compose_module = require("compose")
local compose = compose_module.file(root)
local compose_digest, compose_resolved = compose and assert(dstack.fs.digest(compose)), {}
for _, service in ipairs(compose and compose_module.read(compose, root) or {}) do
  local setting = "services." .. service.name
  compose_resolved[setting] = show(setting, service.words, compose, setting .. " in " .. compose .. ":")
end
if refused then
  error(file .. (compose and (" or " .. compose) or "") .. " holds options that dstack never passes (above); "
    .. "remove them, then allow again", 0)
end
allowances.allow(file, digest, resolved)
if compose then
  allowances.allow(compose, compose_digest, compose_resolved)
  print("allowed " .. compose .. " as it is now (" .. compose_digest:sub(1, 19) .. ")")
end
print((asked and "allowed " or "allowed (nothing in it reaches the host now) ") .. file .. " as it is now ("
  .. digest:sub(1, 19) .. ")")
