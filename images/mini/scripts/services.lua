-- services: your long-lived services of the project here, the services of its Compose file
-- (lib/compose.lua), kept per user and project with their data, for `run`, `shell` and
-- `notebook` (which start them when they are not up).
-- Usage: dstack run-script services up|down|ps|logs [options] [SERVICE]
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts; dstack.yaml

local entry = require("entry")
local args = require("args")
local compose = require("compose")
local packages = require("packages")

local parser = args.parser{
  usage = "dstack run-script services up|down|ps|logs [options] [SERVICE]",
  summary = "Your long-lived services of the project here (its compose.yaml), kept per user and project: `up` "
    .. "starts those that are not running and waits until they are healthy, `down` removes them (their named "
    .. "volumes stay unless --volumes), `ps` lists them, `logs SERVICE` shows a service's output. `run` of the "
    .. "project's image starts them too, and joins their network.",
  options = {
    {"--volumes", help = "with down: remove the services' named volumes (their data) too"},
    {"--dry-run", help = "print the docker commands that change something instead of running them"},
  },
}
local options, rest = entry.start(parser, dstack.args, {min = 1, max = 2, what = "up, down, ps or logs [SERVICE]"})
if not options then return 0 end

local root, kind = packages.find(dstack.fs.cwd())
if not root then error(kind, 0) end
local file = compose.file(root)
if not file then
  error("no services in " .. root .. ": a project lists them in a Compose file (" .. table.concat(compose.file_names, ", ")
    .. ") at its root or in docker/", 0)
end
local name = compose.long_lived_name(root)
local action = rest[1]
if action == "up" then
  compose.start(root, {repository = dstack.fs.basename(root), long_lived = true})
  print(name .. ": up")
elseif action == "down" then
  compose.stop({name = name}, not options.volumes)
  print(name .. ": down" .. (options.volumes and ", with its volumes" or " (its volumes stay; --volumes removes them)"))
elseif action == "ps" then
  print(string.format("%-40s %-12s %s", "NAME", "STATE", "STATUS"))
  for _, row in ipairs(compose.containers(name)) do
    print(string.format("%-40s %-12s %s", row.names, row.state, row.status))
  end
elseif action == "logs" then
  if not rest[2] then error("logs needs the SERVICE whose output to show", 0) end
  return dstack.docker.query({"logs", "--tail", "200", name .. "-" .. rest[2]}, {terminal = true})
else
  error("'" .. action .. "' is not up, down, ps or logs", 0)
end
