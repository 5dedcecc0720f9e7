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

return t.run()
