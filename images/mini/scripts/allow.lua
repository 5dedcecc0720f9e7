-- allow: allows the docker options of the project here that reach the host.
--
--   dstack run-script allow
-- See `dstack run-script allow --help` and README.md ("Security model").
dstack.require_api(2) -- lib/allow.lua: dstack.fs.digest

local entry = require("entry")
local allow = require("allow")
local args = require("args")
local packages = require("packages")

local parser = args.parser{
  usage = "dstack run-script allow",
  summary = "Shows the docker options that the project here asks for in its files (run-options, test-options) "
    .. "and allows those that reach the host (mounts from outside the project, --privileged, --pid=host, "
    .. "--user root, …), and the cluster its docker/Dockerfile names for jobs (cluster=), as they are now: "
    .. "a changed file needs allowing again.",
  options = {},
}

if not entry.start(parser, dstack.args, {what = "no arguments"}) then return 0 end

local root, kind = packages.find(dstack.fs.cwd())
if not root then error(kind, 0) end
local file, settings
if kind == "package" then
  local package = packages.read(root)
  file, settings = package.path, package.settings
else
  local project = require("project")
  file, settings = dstack.fs.join(root, "docker", "Dockerfile"), project.settings(root)
end

local asked = false
for _, setting in ipairs({"run-options", "test-options"}) do
  local text = settings[setting]
  if text then
    local words = {}
    for word in text:gmatch("%S+") do words[#words + 1] = word end
    local host = allow.host_options(words, root, setting .. " in " .. file)
    print(setting .. ": " .. text)
    for _, option in ipairs(host) do
      print("  reaches the host: " .. option)
      asked = true
    end
  end
end
if settings.cluster and settings.cluster ~= "" then
  print("cluster: " .. settings.cluster)
  print("  reaches the host: " .. allow.cluster_reason(settings.cluster))
  asked = true
end
local digest = allow.allow(file)
print((asked and "allowed " or "allowed (nothing in it reaches the host now) ") .. file .. " as it is now (" .. digest:sub(1, 19) .. ")")
