-- submit: runs a project image as a job on a Docker Swarm cluster, the way `run` runs it.
--
--   dstack run-script submit [options] IMAGE[:TAG] [COMMAND [ARGS...]]
-- See `dstack run-script submit --help` and docs/cluster.md.
dstack.require_api(3) -- lib/trust.lua: dstack.fs.counts

local entry = require("entry")
local args = require("args")
local containers = require("containers")
local images = require("images")
local runner = require("runner")
local swarm = require("swarm")

local parser = args.parser{
  usage = "dstack run-script submit [options] IMAGE[:TAG] [COMMAND [ARGS...]]",
  summary = "Runs IMAGE (its newest version when no tag is given, pinned by registry digest) as a Swarm job: "
    .. "--replicas tasks, each with DSTACK_TASK_INDEX (0…N−1) and DSTACK_TASK_COUNT, and follows it to the end.",
  options = {
    {"--replicas", value = "N", integer = true, help = "how many tasks (default 1); each index completes once"},
    {"--max-concurrent", value = "M", integer = true, help = "at most M tasks at once (default: all)"},
    {"--env", short = "-e", value = "KEY=VALUE", repeated = true, help = "an environment variable (repeatable)"},
    {"--gpu", help = "one GPU per task (the generic resource NVIDIA-GPU)"},
    {"--gpus", value = "N", integer = true, help = "N GPUs per task"},
    {"--constraint", value = "EXPR", repeated = true, help = "a placement constraint, such as node.labels.zone==a (repeatable)"},
    {"--cpus", value = "N", help = "CPUs reserved per task"},
    {"--memory", short = "-m", value = "BYTES", help = "memory reserved per task, such as 4g"},
    {"--mount", value = "SPEC", repeated = true, help = "as docker service create --mount: a named volume, or a folder every node has (repeatable)"},
    {"--retries", value = "N", integer = true, help = "restart a failed task up to N times (default 0)"},
    {"--root", help = "run as root instead of the image's user"},
    {"--name", value = "NAME", help = "the job's name (default: USER-IMAGE-DATETIME-XXXX)"},
    {"--context", value = "NAME", help = "the docker context of the cluster's manager (default: $DSTACK_CLUSTER, "
      .. "`# dstack: cluster=` once allowed, else the engine dstack talks to)"},
    {"--detach", short = "-d", help = "print the job's name and return instead of following it"},
    {"--pending-timeout", value = "SECONDS", integer = true, help = "give up on a task Swarm cannot place after this long (default 30)"},
    {"--keep-pending", help = "after the pending timeout, leave the job waiting instead of removing it"},
    {"--no-run-options", help = "leave out the project's `# dstack: run-options=`"},
    {"--dry-run", help = "print every docker command that would change something instead of running it"},
  },
  stop_at_positional = true,
  epilog = [[IMAGE is found as `run` finds it, then pinned by registry digest, so every node runs the same
bytes; a version only this engine has is pushed first (a short name to $DSTACK_NAMESPACE).
Each task gets DSTACK_TASK_INDEX (0…N−1; a retried task keeps its index), DSTACK_TASK_COUNT,
IMAGE_NAME, IMAGE_VERSION, HOST_USER and TZ; GPU tasks see theirs in DOCKER_RESOURCE_NVIDIA-GPU.
The job's service and containers carry the labels io.dstack.user, io.dstack.image,
io.dstack.version and io.dstack.job. The cluster: --context, DSTACK_CLUSTER=CONTEXT,
`# dstack: cluster=CONTEXT` in docker/Dockerfile once `dstack run-script allow` allowed it,
else DOCKER_HOST / DOCKER_CONTEXT.
Without --detach, task state changes are printed, then a line per task; the exit status is 0
when every task completed, else the first failed task's exit code. Ctrl-C stops following and
leaves the job running. `dstack run-script jobs`, `logs JOB`, `cancel JOB` manage jobs.]],
}

local options, rest = entry.start(parser, dstack.args, {min = 1, max = false, what = "IMAGE[:TAG] and a command"})
if not options then return 0 end
local requested = rest[1]
-- The project's run options, as the service options they become (refused where none).
local service_extras = swarm.service_options(options.no_run_options and {} or runner.project_run_options(requested))
local command = table.move(rest, 2, #rest, 1, {})
local replicas = options.replicas or 1
if replicas < 1 then error("--replicas: a job needs at least 1 task", 0) end
if options.max_concurrent == 0 then error("--max-concurrent: at least 1", 0) end
local pending_timeout = options.pending_timeout or 30

-- The cluster is checked before anything is pushed (see swarm.pin), or when creating the job
-- fails: a docker call less on the way to a running job.
swarm.use(swarm.choose_context(options.context))
if dstack.is_dry_run() then swarm.require_manager() end

-- Found by `run`'s rule, but not pulled: only the nodes need it.
local image, problem = images.find(requested)
if not image then error(problem .. "; " .. images.advice, 0) end
local inspected = dstack.docker.inspect_image(image)
local pinned = swarm.pin(image, inspected)
-- The labels name what the nodes run: the repository it was pushed to, if it was.
local reference = assert(dstack.docker.parse_reference(pinned))
local repository, version = reference.repository, reference.tag or ""

local host = dstack.env.user()
local job = options.name or containers.unique_name(host.name, repository)
local create = {"service", "create", "--detach", "--quiet", "--name", job, "--mode", "replicated-job",
  "--replicas", tostring(replicas), "--with-registry-auth", "--init"}
local function add(...) table.move({...}, 1, select("#", ...), #create + 1, create) end
if options.max_concurrent then add("--max-concurrent", tostring(options.max_concurrent)) end
local retries = options.retries or 0
if retries > 0 then
  add("--restart-condition", "on-failure", "--restart-max-attempts", tostring(retries))
else
  add("--restart-condition", "none")
end
for _, label in ipairs{{containers.labels.user, host.name}, {containers.labels.image, repository},
  {containers.labels.version, version}, {swarm.job_label, job}} do
  add("--label", label[1] .. "=" .. label[2], "--container-label", label[1] .. "=" .. label[2])
end
add("--env", "DSTACK_TASK_INDEX=" .. swarm.task_index_template, "--env", "DSTACK_TASK_COUNT=" .. replicas,
  "--env", "IMAGE_NAME=" .. repository, "--env", "IMAGE_VERSION=" .. version, "--env", "HOST_USER=" .. host.name)
local zone = dstack.env.timezone()
if zone then add("--env", "TZ=" .. zone) end
-- The image's user runs the job (its uid on every node is the image's: no host folders).
if options.root then add("--user", "root") end
local gpus = options.gpus or (options.gpu and 1)
if gpus and gpus > 0 then add("--generic-resource", "NVIDIA-GPU=" .. gpus) end
for _, constraint in ipairs(options.constraint or {}) do add("--constraint", constraint) end
if options.cpus then add("--reserve-cpu", options.cpus) end
if options.memory then add("--reserve-memory", options.memory) end
for _, mount in ipairs(options.mount or {}) do add("--mount", mount) end
table.move(service_extras, 1, #service_extras, #create + 1, create)
for _, variable in ipairs(options.env or {}) do add("--env", variable) end
add(pinned)
table.move(command, 1, #command, #create + 1, create)

local created, refusal = swarm.change(create)
if not created then
  swarm.require_manager()
  error("cannot create job " .. job .. " on " .. swarm.describe_engine() .. ": " .. refusal, 0)
end
if dstack.is_dry_run() then return 0 end
if options.detach then
  print(job)
  return 0
end

-- Following the job: poll its tasks, print each change, stop when every slot has ended.
dstack.log.info("following job " .. job .. " (" .. replicas .. " task" .. (replicas == 1 and "" or "s") .. " of "
  .. pinned .. "); Ctrl-C stops following and leaves it running: `dstack run-script cancel " .. job .. "` removes it")
return swarm.follow(job, {replicas = replicas, retries = retries, pending_timeout = pending_timeout,
  keep_pending = options.keep_pending})
