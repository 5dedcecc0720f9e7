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
local ended = {failed = true, rejected = true, shutdown = true, orphaned = true, remove = true}
function M.outcome(state)
  if state == "complete" or state == "running" then return state end
  if ended[state] then return "failed" end
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

return M
