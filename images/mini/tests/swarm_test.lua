-- Tests of lib/swarm.lua: the state of a Swarm job from its tasks, what reaches the
-- cluster, and the one-line errors, against answers recorded as docker gives them.
local t = require("testing")
local swarm = require("swarm")

-- The cluster's engine answers `answers[first word .. " " .. second word]` (or the first word).
local function cluster(answers)
  local asked = {}
  t.stub(dstack.docker, "query", function(args, options)
    asked[#asked + 1] = {args = args, context = options and options.context}
    local answer = answers[args[1] .. " " .. (args[2] or "")] or answers[args[1]]
    if answer == nil then error("no answer recorded for docker " .. table.concat(args, " ")) end
    return answer
  end)
  return asked
end

t.test("a job's counts come from the newest task of each slot; a task on a node that is down has failed", function()
  t.stub(dstack.env, "user", function() return {name = "ann", uid = 1000, gid = 1000, home = "/home/ann"} end)
  cluster{
    ["service ls"] = "job1\n",
    ["service inspect"] = {{ID = "job1", CreatedAt = "2026-12-07T01:00:00Z", Spec = {Name = "ann-app-1",
      Labels = {["io.dstack.image"] = "team/app", ["io.dstack.version"] = "24.01.01"},
      Mode = {ReplicatedJob = {TotalCompletions = 4}}}}},
    ["service ps"] = "t1 t2 t3 t4\n",
    inspect = {
      {ID = "t1", ServiceID = "job1", Slot = 1, CreatedAt = "2026-12-07T01:00:01Z", Status = {State = "failed"}},
      {ID = "t2", ServiceID = "job1", Slot = 1, CreatedAt = "2026-12-07T01:00:05Z", Status = {State = "complete"}},
      {ID = "t3", ServiceID = "job1", CreatedAt = "2026-12-07T01:00:01Z", Status = {State = "running"}, NodeID = "n2"},
      {ID = "t4", ServiceID = "job1", Slot = 2, CreatedAt = "2026-12-07T01:00:01Z", Status = {State = "running"}},
    },
    ["node ls"] = {{ID = "n1", Hostname = "a", Status = "Ready"}, {ID = "n2", Hostname = "b", Status = "Down"}},
  }
  local jobs = swarm.jobs()
  t.equal(#jobs, 1)
  t.equal(jobs[1].counts, {complete = 1, running = 1, pending = 1, failed = 1},
    "slot 1's retry completed, slot 0 is on a down node, slot 2 runs, slot 3 has no task yet")
  t.equal(jobs[1].finished, false)
  t.equal(#swarm.matching("app"), 1)
  t.equal(#swarm.matching("team/app:24.01.01"), 1)
  t.equal(#swarm.matching("other"), 0)
end)

t.test("the engine must be an active manager; each other state is one line with the fix", function()
  t.environment{}
  cluster{info = {{LocalNodeState = "inactive"}}}
  t.raises(function() swarm.require_manager() end, "this machine's Docker engine is not in swarm mode: make it a "
    .. "cluster's manager with `docker swarm init` (other machines join with `docker swarm join`), or point dstack at "
    .. "a manager with --context NAME, DSTACK_CLUSTER=CONTEXT or `# dstack: cluster=CONTEXT` in docker/Dockerfile")
  swarm.use("prod")
  local asked = cluster{info = {{LocalNodeState = "active", ControlAvailable = false}}}
  t.raises(function() swarm.require_manager() end, "docker context prod is a swarm worker, and jobs go to a manager: "
    .. "point dstack at a manager with --context NAME, DSTACK_CLUSTER=CONTEXT or `# dstack: cluster=CONTEXT` in "
    .. "docker/Dockerfile (`docker node ls` on a manager lists them; `docker swarm join-token manager` adds one)")
  t.equal(asked[1].context, "prod", "the question went to the cluster's context")
  cluster{info = {{LocalNodeState = "active", ControlAvailable = true, Nodes = 2, Managers = 1}},
    ["node ls"] = {}}
  swarm.require_manager()
  t.equal(swarm.doctor_lines()[1], "swarm: manager, 2 node(s), 1 manager(s)")
  swarm.use(nil)
end)

t.test("a project's run options become a job's service options, or are refused by name", function()
  t.equal(swarm.service_options({"--env=A=1", "--cpus=2", "--memory=1g", "--label=x=y", "--rm", "--init"}),
    {"--env=A=1", "--reserve-cpu=2", "--reserve-memory=1g", "--container-label=x=y", "--init"})
  t.raises(function() swarm.service_options({"--privileged"}) end, "run-options in docker/Dockerfile: --privileged has "
    .. "no equivalent for a Swarm job; submit with --no-run-options to leave the project's run options out")
end)

t.test("times, ages and task states in one word", function()
  t.equal(swarm.seconds("2026-12-02T07:34:41.5Z") - swarm.seconds("2026-12-02T07:34:40Z"), 1.5)
  t.equal(swarm.seconds("yesterday"), nil)
  t.equal({swarm.age(45), swarm.age(720), swarm.age(3 * 3600), swarm.age(2 * 86400)}, {"45s", "12m", "3h", "2d"})
  t.equal({swarm.outcome("complete"), swarm.outcome("running"), swarm.outcome("rejected"), swarm.outcome("preparing")},
    {"complete", "running", "failed", "pending"})
end)

t.test("a job's tasks for following it: slot from the task's name (JOB.NODE-ID is slot 0), state in one word", function()
  local asked = cluster{["service ps"] = {
    {ID = "t1", Name = "ann-job.1", Node = "a", CurrentState = "Running 2 seconds ago", Error = ""},
    {ID = "t2", Name = "ann-job.x7kq2node", Node = "b", CurrentState = "Failed 1 second ago",
      Error = "\"task: non-zero exit (3)\""},
  }, inspect = {{ID = "t2", Status = {State = "failed", Err = "task: non-zero exit (3)"}}}}
  local tasks = swarm.task_states("ann-job", {"n1"})
  t.equal(asked[1].args, {"service", "ps", "--no-trunc", "--format", "{{json .}}", "--filter", "node=n1", "ann-job"})
  t.equal(tasks, {{id = "t1", slot = 1, node = "a", state = "running", detail = ""},
    {id = "t2", slot = 0, node = "b", state = "failed", detail = "task: non-zero exit (3)"}})
  local rows = swarm.inspected_states({"t2"}, {t2 = "b"})
  t.equal({rows[1].slot, rows[1].node, rows[1].state, rows[1].detail}, {0, "b", "failed", "task: non-zero exit (3)"})
  t.equal(swarm.inspect({}), {})
end)

-- Follows a job whose polls answer `polls` in turn (rows of swarm.task_states; the last
-- repeats), with `inspected` the tasks as docker inspect gives them, on a clock that moves
-- `step` seconds a poll, and `unready` the nodes that are not ready. Returns follow's
-- results (or its error) and what was logged, printed and removed.
local function follow(polls, inspected, settings, step, unready)
  local poll, now, logged = 0, 1000, {}
  t.stub(swarm, "task_states", function()
    poll = math.min(poll + 1, #polls)
    return polls[poll]
  end)
  t.stub(swarm, "inspected_states", function(ids, hostnames)
    local rows = {}
    for _, id in ipairs(ids) do
      local task = inspected[id]
      rows[#rows + 1] = {id = id, slot = task.Slot, node = hostnames[id] or "", state = task.Status.State,
        detail = task.Status.Err or "", inspected = task}
    end
    return rows
  end)
  t.stub(swarm, "inspect", function(ids)
    local tasks = {}
    for _, id in ipairs(ids) do tasks[#tasks + 1] = inspected[id] end
    return tasks
  end)
  t.stub(swarm, "unready_nodes", function() return unready or {} end)
  local removed = {}
  t.stub(swarm, "change", function(args) removed[#removed + 1] = table.concat(args, " ") return true end)
  t.stub(dstack.proc, "sleep", function() now = now + (step or 1) end)
  local real_time = os.time
  t.stub(os, "time", function(date) return date and real_time(date) or now end)
  for _, level in ipairs({"info", "warn", "error"}) do
    t.stub(dstack.log, level, function(text) logged[#logged + 1] = level .. ": " .. text end)
  end
  local printed = {}
  t.stub(_G, "print", function(text) printed[#printed + 1] = text end)
  local ok, result = pcall(swarm.follow, "job-1", settings)
  return ok, result, logged, printed, removed
end

local function inspected_task(id, slot, state, code)
  return {ID = id, Slot = slot, NodeID = "n1", CreatedAt = "2026-12-07T10:00:00Z",
    Status = {State = state, Timestamp = "2026-12-07T10:00:02.5Z", ContainerStatus = {ExitCode = code}}}
end

t.test("following a job: each change logged once, a line per slot at the end, status 0 when all complete", function()
  local ok, status, logged, printed = follow({
    {{id = "t1", slot = 0, node = "", state = "pending", detail = ""}},
    {{id = "t1", slot = 0, node = "node-a", state = "running", detail = ""}},
  }, {t1 = inspected_task("t1", 0, "complete", 0)}, {replicas = 1, retries = 0, pending_timeout = 30})
  t.equal({ok, status}, {true, 0})
  t.equal(logged, {"info: task 0: pending", "info: task 0 on node-a: running", "info: task 0 on node-a: complete"})
  t.equal(printed, {"task 0 on node-a: complete, exit code 0, 2.5 s"})
end)

t.test("a failed task: its exit code is the status, and the error names the task and logs", function()
  local ok, status, logged = follow({
    {{id = "t1", slot = 0, node = "node-a", state = "failed", detail = "task: non-zero exit (3)"}},
  }, {t1 = inspected_task("t1", 0, "failed", 3)}, {replicas = 1, retries = 0, pending_timeout = 30})
  t.equal({ok, status}, {true, 3})
  t.contains(logged[#logged], "error: task 0 of job job-1 failed on node node-a with exit code 3")
  t.contains(logged[#logged], "`dstack run-script logs job-1` shows its output")
end)

t.test("a task no node takes: removed after --pending-timeout, with the scheduler's reason", function()
  local waiting = {{{id = "t1", slot = 0, node = "", state = "pending", detail = "no suitable node (insufficient resources)"}}}
  local ok, problem, _, _, removed = follow(waiting, {}, {replicas = 1, retries = 0, pending_timeout = 2}, 1)
  t.equal(ok, false)
  t.equal(problem, "task 0 of job job-1 could not be placed within 2 s: no suitable node (insufficient resources); "
    .. "removed the job (--keep-pending leaves it waiting)")
  t.equal(removed, {"service rm job-1"})
  ok, problem, _, _, removed = follow(waiting, {}, {replicas = 1, retries = 0, pending_timeout = 2, keep_pending = true}, 1)
  t.equal(ok, false)
  t.contains(problem, "the job keeps waiting (`dstack run-script cancel job-1` removes it)")
  t.equal(removed, {})
end)

t.test("a task whose node goes down is lost: Swarm keeps it running there; follow says so and ends", function()
  local running = {{{id = "t1", slot = 0, node = "node-a", state = "running", detail = ""}}}
  local ok, problem, logged = follow(running, {t1 = inspected_task("t1", 0, "running")},
    {replicas = 1, retries = 0, pending_timeout = 30}, 1, {n1 = {hostname = "node-a", status = "down"}})
  t.equal(ok, false)
  t.equal(problem, "task 0 of job job-1 was lost: its node node-a is down (the task was running there, and Swarm "
    .. "does not move a job's task); `dstack run-script cancel job-1` removes the job, then submit it again")
  t.contains(table.concat(logged, "\n"), "warn: task 0 on node-a: the node is down; the task was running, and Swarm "
    .. "does not move it")
end)

return t.run()
