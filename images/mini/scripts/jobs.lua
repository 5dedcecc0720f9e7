-- jobs: your jobs on the Swarm cluster (see submit.lua).
-- Usage: dstack run-script jobs [--all] [--prune] [--context NAME]
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")
local swarm = require("swarm")

local parser = args.parser{
  usage = "dstack run-script jobs [options]",
  summary = "Lists your jobs (from `dstack run-script submit`) that have not finished: name, image, version, "
    .. "tasks complete, running, pending and failed, age.",
  options = {
    {"--all", short = "-a", help = "also finished jobs"},
    {"--prune", help = "remove your finished jobs (their tasks' output goes with them)"},
    {"--context", value = "NAME", help = "the docker context of the cluster's manager (as for submit)"},
    {"--dry-run", help = "with --prune: print the docker command instead of running it"},
  },
}
local options = entry.start(parser, dstack.args)
if not options then return 0 end
swarm.use(swarm.choose_context(options.context))
swarm.require_manager()

local jobs = swarm.jobs()
if options.prune then
  local finished = {}
  for _, job in ipairs(jobs) do
    if job.finished then finished[#finished + 1] = job.name end
  end
  if #finished == 0 then
    dstack.log.info("no finished job of yours to remove")
    return 0
  end
  local removed, problem = swarm.change(table.move(finished, 1, #finished, 3, {"service", "rm"}))
  if not removed then error(problem, 0) end
  for _, name in ipairs(finished) do print("removed " .. name) end
  return 0
end

local rows = {{"NAME", "IMAGE", "VERSION", "COMPLETE", "RUNNING", "PENDING", "FAILED", "AGE"}}
local now = os.time(os.date("!*t"))
for _, job in ipairs(jobs) do
  if options.all or not job.finished then
    local counts = job.counts
    rows[#rows + 1] = {job.name, job.image, job.version, counts.complete .. "/" .. job.replicas, tostring(counts.running),
      tostring(counts.pending), tostring(counts.failed), swarm.age(math.max(0, now - (swarm.seconds(job.created) or now)))}
  end
end
containers.print_table(rows)
