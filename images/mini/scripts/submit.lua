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
-- How often a followed job's nodes are checked while its tasks run.
local node_check_seconds = 5

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
local seen, pending_since, idle_failed = {}, {}, {}
-- Tasks whose node went down while they were placed there (by task ID: the node's host
-- name and state, the task's last state): Swarm keeps them "running" and does not move
-- them, so they count as failed.
local lost, nodes_checked = {}, os.time()
local started = nodes_checked
-- Once every slot has its task on a node and none failed, no new task comes unless one
-- fails: those tasks are then polled with `docker inspect` (one API request, where
-- `service ps` also reads the service and the nodes), which also gives the exit codes and
-- times of the final lines.
local hostnames, inspected_ids = {}, nil
while true do
  local tasks = assert(inspected_ids and swarm.inspected_states(inspected_ids, hostnames) or swarm.task_states(job))
  local failures, settled, placed = {}, {}, false
  for index = #tasks, 1, -1 do  -- oldest first
    local task = tasks[index]
    if task.node ~= "" then hostnames[task.id] = task.node end
    if seen[task.id] ~= task.state then
      seen[task.id] = task.state
      dstack.log.info(string.format("task %d%s: %s%s", task.slot, task.node ~= "" and (" on " .. task.node) or "",
        task.state, task.detail ~= "" and (" (" .. task.detail .. ")") or ""))
    end
    local outcome = lost[task.id] and "failed" or swarm.outcome(task.state)
    placed = placed or outcome == "running" or (outcome == "pending" and task.node ~= "")
    if outcome == "failed" then failures[task.slot] = (failures[task.slot] or 0) + 1 end
    if outcome == "complete" then settled[task.slot] = true end
    if task.state == "pending" then
      pending_since[task.id] = pending_since[task.id] or os.time()
      -- Whole seconds: past the limit means more than it. The scheduler's reason may come
      -- a moment later than the limit; it is waited for, a few seconds at most.
      local waited = os.time() - pending_since[task.id]
      if waited > pending_timeout and (task.detail ~= "" or waited > pending_timeout + 5) then
        local reason = task.detail ~= "" and task.detail or "no node took it"
        local outcome_text = "the job keeps waiting (`dstack run-script cancel " .. job .. "` removes it)"
        if not options.keep_pending then
          swarm.change({"service", "rm", job})
          outcome_text = "removed the job (--keep-pending leaves it waiting)"
        end
        error(string.format("task %d of job %s could not be placed within %d s: %s; %s", task.slot, job,
          pending_timeout, reason, outcome_text), 0)
      end
    end
  end
  -- A slot has ended when none of its tasks is on its way and one completed, or one failed
  -- more than --retries allows (or, as Swarm keeps only a few tasks a slot, when it has
  -- stayed failed for two polls, so a restart had time to show).
  local active = {}
  for _, task in ipairs(tasks) do
    local outcome = swarm.outcome(task.state)
    if not lost[task.id] and (outcome == "pending" or outcome == "running") then active[task.slot] = true end
  end
  local ended = 0
  for slot = 0, replicas - 1 do
    local failed = not active[slot] and not settled[slot] and failures[slot]
    idle_failed[slot] = failed and (idle_failed[slot] or 0) + 1 or nil
    if not active[slot] and (settled[slot] or failed and (failed > retries or idle_failed[slot] > 1)) then
      ended = ended + 1
    end
  end
  if ended == replicas then
    local final = {}
    for _, task in ipairs(tasks) do final[#final + 1] = task.inspected end
    if not inspected_ids then
      local ids = {}
      for _, task in ipairs(tasks) do ids[#ids + 1] = task.id end
      final = assert(swarm.inspect(ids))
    end
    local newest = swarm.newest_by_slot(final)
    local first_failure
    for slot = 0, replicas - 1 do
      local task = newest[slot]
      local code = (task.Status.ContainerStatus or {}).ExitCode
      local took = (swarm.seconds(task.Status.Timestamp) or 0) - (swarm.seconds(task.CreatedAt) or 0)
      local state = lost[task.ID] and ("lost, node " .. lost[task.ID].status) or task.Status.State
      print(string.format("task %d on %s: %s, exit code %s, %.1f s", slot, hostnames[task.ID] or "no node", state,
        code and tostring(code) or "none", took))
      if task.Status.State ~= "complete" and not first_failure then first_failure = task end
    end
    if not first_failure then return 0 end
    local gone = lost[first_failure.ID]
    if gone then
      error(string.format("task %d of job %s was lost: its node %s is %s (the task was %s there, and Swarm does not "
        .. "move a job's task); `dstack run-script cancel %s` removes the job, then submit it again", first_failure.Slot,
        job, gone.hostname, gone.status, gone.state, job), 0)
    end
    local code = (first_failure.Status.ContainerStatus or {}).ExitCode
    if not code or code == 0 then code = 1 end
    local detail = first_failure.Status.Err or first_failure.Status.State
    local node = hostnames[first_failure.ID]
    dstack.log.error(string.format("task %d of job %s failed %s with exit code %d (%s); `dstack run-script logs %s` "
      .. "shows its output", first_failure.Slot, job, node and ("on node " .. node) or "before it reached a node", code,
      detail, job))
    return code
  end
  local placed_slots, task_ids = {}, {}
  for _, task in ipairs(tasks) do
    if task.node ~= "" then placed_slots[task.slot] = true end
    task_ids[#task_ids + 1] = task.id
  end
  local every_slot_placed = #tasks == replicas
  for slot = 0, replicas - 1 do every_slot_placed = every_slot_placed and placed_slots[slot] == true end
  inspected_ids = every_slot_placed and next(failures) == nil and task_ids or nil
  -- A task on a node that went down stays "running": the nodes are checked every few
  -- seconds while a task is placed (Swarm itself takes about 10 s to call a node down).
  if placed and os.time() - nodes_checked >= node_check_seconds then
    nodes_checked = os.time()
    local unready = swarm.unready_nodes() or {}
    local ids = {}
    for id in pairs(unready) do ids[#ids + 1] = id end
    for _, task in ipairs(#ids > 0 and assert(swarm.task_states(job, ids)) or {}) do
      local outcome = swarm.outcome(task.state)
      if not lost[task.id] and (outcome == "running" or outcome == "pending") then
        -- A row names its node by host name; several nodes may share one, so the down one is looked up by task.
        local node = unready[(assert(swarm.inspect({task.id}))[1] or {}).NodeID or ""] or {hostname = task.node, status = "down"}
        lost[task.id] = {hostname = node.hostname, status = node.status, state = task.state}
        dstack.log.warn(string.format("task %d on %s: the node is %s; the task was %s, and Swarm does not move it",
          task.slot, node.hostname, node.status, task.state))
      end
    end
  end
  -- Quick while a short job would end (a docker call takes about 40 ms: some ten a second
  -- for the first seconds), then one a second.
  dstack.proc.sleep(os.time() - started < 3 and 0.05 or 1)
end
