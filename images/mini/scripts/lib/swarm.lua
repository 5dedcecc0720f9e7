-- swarm: what the submit, jobs, cancel, logs and doctor scripts know about Swarm jobs:
-- which engine is the cluster's manager, the docker service commands a job needs, and
-- the state of a job's tasks.
--
--   local swarm = require("swarm")
--   swarm.use(swarm.choose_context(options.context))  -- the cluster's docker context, or nil
--   swarm.require_manager()
--   local tasks = swarm.tasks({"root-app-20261202-073000-ab12"})
--
-- A job is a service of mode replicated-job with the labels of `containers.labels` and
-- `io.dstack.job`. Its tasks' slots are 0…N−1, one Completed task per slot at the end;
-- a retried task keeps its slot (swarmkit's replicated-job reconciler, seen on Engine
-- 20.10). The slot is the task index, except that `{{.Task.Slot}}` expands to the node's
-- ID for slot 0; `M.task_index_template` turns that into 0.
local containers = require("containers")
local docker = require("docker")
local images = require("images")
local project = require("project")

local M = {}

M.job_label = "io.dstack.job"

-- DSTACK_TASK_INDEX of a task: its slot, or 0 where Swarm's template gives the node ID.
M.task_index_template = "{{if eq .Task.Slot .Node.ID}}0{{else}}{{.Task.Slot}}{{end}}"

-- The docker context the jobs go to (nil: the engine dstack talks to).
local context

-- The cluster's docker context: `given` (--context), else $DSTACK_CLUSTER, else
-- `# dstack: cluster=` in the current project's docker/Dockerfile, once the user allowed
-- that file (lib/allowances.lua: a cloned project must not choose where the user's registry
-- credentials go); nil for the engine dstack already talks to (DOCKER_HOST, DOCKER_CONTEXT).
function M.choose_context(given)
  if given and given ~= "" then return given end
  local variable = dstack.env.get("DSTACK_CLUSTER")
  if variable and variable ~= "" then return variable end
  local root = project.find_root(dstack.fs.cwd())
  local setting = root and project.settings(root).cluster
  if not setting or setting == "" then return nil end
  local allowances = require("allowances") -- only where a project names its cluster
  local file = dstack.fs.join(root, "docker", "Dockerfile")
  allowances.require(file, "cluster=" .. setting .. " in " .. file .. " " .. allowances.cluster_reason(setting),
    "allow it with `dstack run-script allow` in " .. root .. ", or name the cluster yourself (--context "
    .. setting .. " or DSTACK_CLUSTER=" .. setting .. ")")
  return setting
end

-- Sends the following docker commands to docker context `name` (nil: the default engine).
function M.use(name) context = name end

-- Where the commands go, for messages.
function M.describe_engine()
  if context then return "docker context " .. context end
  local host = dstack.env.get("DOCKER_HOST")
  if host and host ~= "" then return "the engine at " .. host end
  local named = dstack.env.get("DOCKER_CONTEXT")
  if named and named ~= "" then return "docker context " .. named end
  return "this machine's Docker engine"
end

-- The options of a docker command for the cluster's engine (`context`, level 2).
local function for_cluster(options)
  if not context then return options end
  local copy = {context = context}
  for key, value in pairs(options or {}) do copy[key] = value end
  return copy
end

-- A query on the cluster's engine (as dstack.docker.query: options `json`, `terminal`).
function M.query(args, options)
  return dstack.docker.query(args, for_cluster(options))
end

-- A change on the cluster's engine: true and the result, or nil and docker's last line.
function M.change(args)
  local result = dstack.docker.change(args, for_cluster(nil))
  if result.code == 0 then return true, result end
  local detail = docker.failure_detail(result.stderr)
  return nil, string.format("docker %s %s failed (exit %d)%s", args[1], args[2] or "", result.code,
    detail ~= "" and (": " .. detail) or "")
end

-- The engine's swarm state: `docker info`'s Swarm part.
function M.state()
  local rows, problem = M.query({"info", "--format", "{{json .Swarm}}"}, {json = true})
  if not rows then error("cannot ask " .. M.describe_engine() .. " about its swarm: " .. problem, 0) end
  return rows[1] or {}
end

local point_at_manager = "point dstack at a manager with --context NAME, DSTACK_CLUSTER=CONTEXT or "
  .. "`# dstack: cluster=CONTEXT` in docker/Dockerfile"

-- Raises a one-line error unless the engine is an active swarm manager.
function M.require_manager()
  local swarm = M.state()
  local state = swarm.LocalNodeState or "inactive"
  if state == "inactive" then
    error(M.describe_engine() .. " is not in swarm mode: make it a cluster's manager with `docker swarm init` "
      .. "(other machines join with `docker swarm join`), or " .. point_at_manager, 0)
  end
  if state ~= "active" then
    error(M.describe_engine() .. " is not an active swarm node (state " .. state .. (swarm.Error ~= "" and swarm.Error
      and (": " .. swarm.Error) or "") .. "); fix it with `docker swarm join` or `docker swarm init`, or "
      .. point_at_manager, 0)
  end
  if not swarm.ControlAvailable then
    error(M.describe_engine() .. " is a swarm worker, and jobs go to a manager: " .. point_at_manager
      .. " (`docker node ls` on a manager lists them; `docker swarm join-token manager` adds one)", 0)
  end
end

-- `image` (as resolved, with `inspected`, its local `docker image inspect`, when the
-- engine has it) pinned as REPOSITORY:TAG@DIGEST, so every node pulls the same bytes.
-- The local image's own registry digest is used when it has one; a version only this
-- engine has is pushed first, once the cluster is known to be a manager: to its own
-- registry, or for a short name to the first namespace (DSTACK_NAMESPACE, the
-- project's); without one, refused.
-- In a dry run the push is printed and the tag is returned unpinned.
function M.pin(image, inspected)
  local reference = assert(dstack.docker.parse_reference(image))
  if reference.digest then return image end
  for _, digest in ipairs(inspected and inspected.RepoDigests or {}) do
    local parsed = dstack.docker.parse_reference(digest)
    if parsed and parsed.repository == reference.repository then
      return image .. "@" .. parsed.digest
    end
  end
  local target = image
  if not reference.repository:find("/", 1, true) then
    local namespace = images.namespaces()[1]
    if not namespace then
      error(image .. " exists only in this engine and there is no registry every node could pull it from: set "
        .. "DSTACK_NAMESPACE=REGISTRY/TEAM (or `# dstack: namespace=` in docker/Dockerfile) and submit again to push "
        .. "it there", 0)
    end
    target = namespace .. "/" .. image
    local tagged, problem = docker.tag(image, target)
    if not tagged then error("cannot tag " .. image .. " as " .. target .. ": " .. problem, 0) end
  else
    local manifest = not dstack.is_offline() and dstack.registry.manifest(image)
    if manifest and (not inspected or manifest.config == inspected.Id) then return image .. "@" .. manifest.digest end
    if not inspected then error("cannot find " .. image .. " in its registry to pin it by digest", 0) end
  end
  M.require_manager()
  dstack.log.info("pushing " .. target .. " (this version is only in this engine) so every node can pull it")
  local pushed, digest = docker.push(target)
  if not pushed then error("cannot push " .. target .. ": " .. digest .. "; log in with `docker login`", 0) end
  return digest and (target .. "@" .. digest) or target
end

-- docker run options of `# dstack: run-options=`, in the spelling lib/run_options.lua gives
-- them, and the service option each becomes (false: no effect on a job, left out).
local service_equivalents = {
  ["--env"] = "--env", ["--env-file"] = "--env-file", ["--workdir"] = "--workdir", ["--user"] = "--user",
  ["--mount"] = "--mount", ["--cpus"] = "--reserve-cpu", ["--memory"] = "--reserve-memory",
  ["--label"] = "--container-label", ["--hostname"] = "--hostname", ["--cap-add"] = "--cap-add",
  ["--cap-drop"] = "--cap-drop", ["--dns"] = "--dns", ["--group-add"] = "--group", ["--stop-signal"] = "--stop-signal",
  ["--init"] = "--init", ["--rm"] = false, ["--interactive"] = false, ["--tty"] = false,
}

-- The `docker service create` options for the docker run options `words` (each
-- `--name=value` or `--name`, as allowances.options gives them); raises a one-line error naming
-- one that a service has no equivalent for.
function M.service_options(words)
  local options = {}
  for _, word in ipairs(words) do
    local name, value = word:match("^([^=]+)=(.*)$")
    name = name or word
    local equivalent = service_equivalents[name]
    if equivalent == nil then
      error("run-options in docker/Dockerfile: " .. name .. " has no equivalent for a Swarm job; submit with "
        .. "--no-run-options to leave the project's run options out", 0)
    end
    if equivalent then options[#options + 1] = equivalent .. (value and ("=" .. value) or "") end
  end
  return options
end

-- Seconds since 1970 of an RFC 3339 time (`2026-12-02T07:34:41.065Z`); fractions kept.
-- Only differences are meaningful (the local time zone cancels out).
function M.seconds(text)
  local y, mo, d, h, mi, s, fraction = (text or ""):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)")
  if not y then return nil end
  return os.time{year = tonumber(y), month = tonumber(mo), day = tonumber(d), hour = tonumber(h), min = tonumber(mi),
    sec = tonumber(s)} + (tonumber("0" .. fraction) or 0)
end

-- The tasks `ids` as `docker inspect` gives them (`ID`, `ServiceID`, `Slot` (0 too),
-- `NodeID`, `DesiredState`, `CreatedAt`, `Status` with `State`, `Message`, `Err`,
-- `Timestamp`, `ContainerStatus.ExitCode`).
function M.inspect(ids)
  if #ids == 0 then return {} end
  local tasks, failure = M.query(table.move(ids, 1, #ids, 4, {"inspect", "--format", "{{json .}}"}), {json = true})
  for _, task in ipairs(tasks or {}) do task.Slot = task.Slot or 0 end  -- JSON leaves zero out
  return tasks, failure
end

-- Every task of the services `jobs` (names or IDs), inspected (see `M.inspect`).
function M.tasks(jobs)
  local listing, problem = M.query(table.move(jobs, 1, #jobs, 5, {"service", "ps", "--quiet", "--no-trunc"}))
  if not listing then return nil, problem end
  local ids = {}
  for id in listing:gmatch("%S+") do ids[#ids + 1] = id end
  return M.inspect(ids)
end

-- The tasks of `job` in one docker call, for following it: `{id, slot, node (host name),
-- state, detail (Swarm's error)}` each; only those on the nodes `node_ids`, when given.
-- The slot comes from the task's name, JOB.SLOT, which Swarm writes JOB.NODE-ID for slot 0.
function M.task_states(job, node_ids)
  local command = {"service", "ps", "--no-trunc", "--format", "{{json .}}"}
  for _, id in ipairs(node_ids or {}) do table.move({"--filter", "node=" .. id}, 1, 2, #command + 1, command) end
  command[#command + 1] = job
  local rows, problem = M.query(command, {json = true})
  if not rows then return nil, problem end
  local tasks = {}
  for _, row in ipairs(rows) do
    tasks[#tasks + 1] = {id = row.ID, slot = math.tointeger(tonumber(row.Name:match("%.([^.]*)$") or "")) or 0,
      node = row.Node, state = (row.CurrentState:match("^%a+") or "unknown"):lower(),
      detail = (row.Error or ""):gsub('^"(.*)"$', "%1")}
  end
  return tasks
end

-- The tasks `ids` as rows of `M.task_states`, from one `docker inspect`, each with the
-- task as inspected (`inspected`: exit code, times); `hostnames` maps task IDs to the
-- host names of their nodes as `service ps` showed them.
function M.inspected_states(ids, hostnames)
  local tasks, problem = M.inspect(ids)
  if not tasks then return nil, problem end
  local rows = {}
  for _, task in ipairs(tasks) do
    rows[#rows + 1] = {id = task.ID, slot = task.Slot, node = hostnames[task.ID] or "", state = task.Status.State,
      detail = task.Status.Err or "", inspected = task}
  end
  return rows
end

-- The cluster's nodes that are not ready (down, disconnected, unknown), by node ID:
-- `{hostname, status}` each. A job's task on such a node stays "running" in Swarm's
-- view: Swarm moves a service's tasks to other nodes, but not a job's.
function M.unready_nodes()
  local rows, problem = M.query({"node", "ls", "--format", "{{json .}}"}, {json = true})
  if not rows then return nil, problem end
  local unready = {}
  for _, node in ipairs(rows) do
    if node.Status ~= "Ready" then unready[node.ID] = {hostname = node.Hostname, status = node.Status:lower()} end
  end
  return unready
end

-- A task state in one word: complete, running, failed (failed, rejected, shut down,
-- orphaned, removed) or pending (anything before running).
local failed_states = {failed = true, rejected = true, shutdown = true, orphaned = true, remove = true}
function M.outcome(state)
  if state == "complete" or state == "running" then return state end
  if failed_states[state] then return "failed" end
  return "pending"
end

-- The newest task of each slot of `tasks`, by slot.
function M.newest_by_slot(tasks)
  local newest = {}
  for _, task in ipairs(tasks) do
    local current = newest[task.Slot]
    if not current or task.CreatedAt > current.CreatedAt then newest[task.Slot] = task end
  end
  return newest
end

-- The user's job services, newest first: `{id, name, image, version, created,
-- replicas}` each, read in two docker calls (no task is looked at).
local function job_services()
  local user = dstack.env.user().name
  local listing = assert(M.query({"service", "ls", "--quiet", "--filter", "label=" .. containers.labels.user .. "=" .. user,
    "--filter", "label=" .. M.job_label, "--filter", "mode=replicated-job"}))
  local ids = {}
  for id in listing:gmatch("%S+") do ids[#ids + 1] = id end
  if #ids == 0 then return {} end
  local jobs = {}
  for _, service in ipairs(assert(M.query(table.move(ids, 1, #ids, 5, {"service", "inspect", "--format", "{{json .}}"}),
    {json = true}))) do
    local labels = service.Spec.Labels or {}
    jobs[#jobs + 1] = {id = service.ID, name = service.Spec.Name, image = labels[containers.labels.image] or "",
      version = labels[containers.labels.version] or "", created = service.CreatedAt,
      replicas = service.Spec.Mode.ReplicatedJob.TotalCompletions or 1}
  end
  table.sort(jobs, function(a, b) return a.created > b.created end)
  return jobs
end

-- The user's jobs: `{id, name, image, version, created, replicas, counts = {complete,
-- running, pending, failed}}` each, newest first. Finished means every slot ended. A task
-- on a node that is not ready counts as failed: Swarm keeps it "running" but does not move
-- it, and calls it orphaned only after a day.
function M.jobs()
  local jobs = job_services()
  if #jobs == 0 then return {} end
  local ids, by_service = {}, {}
  for _, job in ipairs(jobs) do ids[#ids + 1] = job.id end
  for _, task in ipairs(assert(M.tasks(ids))) do
    local list = by_service[task.ServiceID] or {}
    list[#list + 1] = task
    by_service[task.ServiceID] = list
  end
  local unready = M.unready_nodes() or {}
  for _, job in ipairs(jobs) do
    local counts = {complete = 0, running = 0, pending = 0, failed = 0}
    local slots = 0
    for _, task in pairs(M.newest_by_slot(by_service[job.id] or {})) do
      local outcome = M.outcome(task.Status.State)
      if unready[task.NodeID or ""] and outcome ~= "complete" then outcome = "failed" end
      counts[outcome] = counts[outcome] + 1
      slots = slots + 1
    end
    counts.pending = counts.pending + job.replicas - slots
    job.counts, job.finished = counts, counts.running + counts.pending == 0
  end
  return jobs
end

-- The user's jobs that `target` names: a job name, an image (`team/app`,
-- `team/app:TAG`) or an image's last name part (`app`), as `job_services` gives them:
-- what cancel and logs need, without reading any task.
function M.matching(target)
  local found = {}
  for _, job in ipairs(job_services()) do
    if job.name == target or job.id == target or job.image == target or job.image .. ":" .. job.version == target
      or job.image:match("([^/]+)$") == target then
      found[#found + 1] = job
    end
  end
  return found
end

-- `seconds` as a short age: 45s, 12m, 3h, 2d.
function M.age(seconds)
  seconds = math.floor(seconds)
  if seconds < 60 then return string.format("%ds", seconds) end
  if seconds < 3600 then return string.format("%dm", seconds // 60) end
  if seconds < 86400 then return string.format("%dh", seconds // 3600) end
  return string.format("%dd", seconds // 86400)
end

-- Lines about the cluster for `doctor`: its swarm state, and each node (host name,
-- availability, role, status) with the GPUs it advertises.
function M.doctor_lines()
  local swarm = M.state()
  local state = swarm.LocalNodeState or "inactive"
  local lines = {}
  if state ~= "active" then
    return {"swarm: " .. state .. " (`dstack run-script submit` needs a manager: `docker swarm init`, or "
      .. point_at_manager .. ")"}
  end
  if not swarm.ControlAvailable then
    return {"swarm: worker of a cluster (node " .. (swarm.NodeID or "?") .. "); jobs go to a manager: " .. point_at_manager}
  end
  lines[1] = string.format("swarm: manager, %d node(s), %d manager(s)", swarm.Nodes or 0, swarm.Managers or 0)
  local ids = {}
  for _, node in ipairs(M.query({"node", "ls", "--format", "{{json .}}"}, {json = true}) or {}) do ids[#ids + 1] = node.ID end
  if #ids == 0 then return lines end
  for _, node in ipairs(M.query(table.move(ids, 1, #ids, 5, {"node", "inspect", "--format", "{{json .}}"}),
    {json = true}) or {}) do
    local gpus = {}
    for _, resource in ipairs(node.Description.Resources.GenericResources or {}) do
      local named, discrete = resource.NamedResourceSpec, resource.DiscreteResourceSpec
      if named and named.Kind == "NVIDIA-GPU" then gpus[#gpus + 1] = named.Value end
      if discrete and discrete.Kind == "NVIDIA-GPU" then gpus[#gpus + 1] = tostring(discrete.Value) end
    end
    lines[#lines + 1] = string.format("node %s: %s, %s, %s, GPUs: %s", node.Description.Hostname, node.Spec.Availability,
      node.Spec.Role, node.Status.State, #gpus > 0 and table.concat(gpus, ", ") or "none advertised")
  end
  return lines
end

-- How often the nodes are checked while a job's task is placed (Swarm itself takes about
-- 10 s to call a node down).
local node_check_seconds = 5

-- Follows job `job` to its end, as `submit` does: polls its tasks, logs each change, stops
-- when every slot has ended, prints a line per slot (node, state, exit code, time), and
-- returns 0 when every slot completed, else the first failed task's exit code (at least 1),
-- naming it. `settings`: `replicas`, `retries` (restarts a failed task may have),
-- `pending_timeout` (seconds a task may wait for a node), `keep_pending` (leave such a job
-- waiting instead of removing it). Raises one line for a task that cannot be placed in time,
-- and for one lost with its node (Swarm keeps it "running" there and does not move it).
function M.follow(job, settings)
  local replicas, retries, pending_timeout = settings.replicas, settings.retries, settings.pending_timeout
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
    local tasks = assert(inspected_ids and M.inspected_states(inspected_ids, hostnames) or M.task_states(job))
    local failures, settled, placed = {}, {}, false
    for index = #tasks, 1, -1 do  -- oldest first
      local task = tasks[index]
      if task.node ~= "" then hostnames[task.id] = task.node end
      if seen[task.id] ~= task.state then
        seen[task.id] = task.state
        dstack.log.info(string.format("task %d%s: %s%s", task.slot, task.node ~= "" and (" on " .. task.node) or "",
          task.state, task.detail ~= "" and (" (" .. task.detail .. ")") or ""))
      end
      local outcome = lost[task.id] and "failed" or M.outcome(task.state)
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
          if not settings.keep_pending then
            M.change({"service", "rm", job})
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
      local outcome = M.outcome(task.state)
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
        final = assert(M.inspect(ids))
      end
      local newest = M.newest_by_slot(final)
      local first_failure
      for slot = 0, replicas - 1 do
        local task = newest[slot]
        local code = (task.Status.ContainerStatus or {}).ExitCode
        local took = (M.seconds(task.Status.Timestamp) or 0) - (M.seconds(task.CreatedAt) or 0)
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
      local unready = M.unready_nodes() or {}
      local ids = {}
      for id in pairs(unready) do ids[#ids + 1] = id end
      for _, task in ipairs(#ids > 0 and assert(M.task_states(job, ids)) or {}) do
        local outcome = M.outcome(task.state)
        if not lost[task.id] and (outcome == "running" or outcome == "pending") then
          -- A row names its node by host name; several nodes may share one, so the down one is looked up by task.
          local node = unready[(assert(M.inspect({task.id}))[1] or {}).NodeID or ""] or {hostname = task.node, status = "down"}
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
end

return M
