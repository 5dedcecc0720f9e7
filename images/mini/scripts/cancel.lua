-- cancel: removes your job from the Swarm cluster (see submit.lua).
-- Usage: dstack run-script cancel [--dry-run] JOB|IMAGE
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local swarm = require("swarm")

local parser = args.parser{
  usage = "dstack run-script cancel [options] JOB|IMAGE",
  summary = "Removes your job JOB (its service, stopping its tasks), or every job of IMAGE (team/app, team/app:TAG or app).",
  options = {
    {"--context", value = "NAME", help = "the docker context of the cluster's manager (as for submit)"},
    {"--dry-run", help = "print the docker command instead of running it"},
  },
}
local options, rest = entry.start(parser, dstack.args, {min = 1, max = 1, what = "one JOB or IMAGE (`dstack run-script jobs` lists them)"})
if not options then return 0 end
swarm.use(swarm.choose_context(options.context))
swarm.require_manager()

local chosen = swarm.matching(rest[1])
if #chosen == 0 then
  error("no job of yours matches '" .. rest[1] .. "'; `dstack run-script jobs --all` lists them", 0)
end
local names = {}
for _, job in ipairs(chosen) do names[#names + 1] = job.name end
local removed, problem = swarm.change(table.move(names, 1, #names, 3, {"service", "rm"}))
if not removed then error(problem, 0) end
for _, name in ipairs(names) do print("cancelled " .. name) end
