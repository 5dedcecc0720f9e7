-- Tests of lib/allowances.lua: options from a project's files that reach the host are refused
-- until the file is allowed, and again when the file, or where its mounts lead, changes;
-- the record counts only when it is the user's alone.
local t = require("testing")
local allowances = require("allowances")

local function project(setting)
  local root = t.scratch{["docker/Dockerfile"] = "FROM busybox\n# dstack: " .. setting .. "\n", ["data/keep"] = ""}
  t.environment{XDG_CONFIG_HOME = root .. "/config"}
  return root, {file = root .. "/docker/Dockerfile", setting = "run-options", root = root}
end

-- Allows the file of `where` as the allow script does.
local function allow_file(where, text)
  local resolved = {[where.setting] = require("run_options").words(allowances.judge(text, where), true)}
  allowances.allow(where.file, dstack.fs.digest(where.file), resolved)
end

t.test("only docker options: no positional words, none of dstack's own options, nothing never passed", function()
  local _, where = project("run-options=-e A=1")
  where.refused = {["--hostsrcdir"] = true}
  t.raises(function() allowances.options("-e A=1 bash", where) end, "run-options in " .. where.file
    .. ": 'bash' is not an option; project files may hold options only")
  t.raises(function() allowances.options("--hostsrcdir /", where) end, "--hostsrcdir is dstack's own option")
  t.raises(function() allowances.options("-v", where) end, "-v needs a value")
  t.raises(function() allowances.options("--rm=false -l io.dstack.user=x", where) end, "run-options in " .. where.file
    .. ": --rm=false (--rm=false would leave the container behind), -l io.dstack.user=x (io.dstack.* labels are "
    .. "dstack's own (ps, stop and logs find its containers by them)); dstack never passes these, allowed or not")
  t.equal(allowances.options("-e A=1 --shm-size 1g -p 8000:8000", where),
    {"--env=A=1", "--shm-size=1g", "--publish=127.0.0.1:8000:8000"})
end)

t.test("options that reach the host are refused until the file is allowed, and again when it changes", function()
  local root, where = project("run-options=-v /:/host -p 8000:8000")
  local text = "-v /:/host -p 8000:8000"
  t.raises(function() allowances.options(text, where) end, "run-options in " .. where.file
    .. " asks for options that reach the host: -v /:/host (mounts / from outside the project); read them, then "
    .. "allow them with `dstack run-script allow` in " .. root .. ", or remove them")
  allow_file(where, text)
  -- Allowed: docker gets them, and the port on every address.
  t.equal(allowances.options(text, where), {"--mount=type=bind,source=/,target=/host", "--publish=8000:8000"})
  assert(dstack.fs.write(where.file, "FROM busybox\n# dstack: run-options=-v /:/host --pid=host\n"))
  t.raises(function() allowances.options(text, where) end, "the file changed since you allowed it. read them")
end)

t.test("a link on the way of an allowed mount that now leads elsewhere needs allowing again", function()
  local root, where = project("run-options=-v ./shared:/x")
  local first, second = t.scratch{keep = ""}, t.scratch{keep = ""}
  assert(dstack.proc.run({"ln", "-s", first, root .. "/shared"}))
  allow_file(where, "-v ./shared:/x")
  t.equal(allowances.options("-v ./shared:/x", where),
    {"--mount=type=bind,source=" .. dstack.fs.realpath(first) .. ",target=/x"})
  assert(dstack.fs.remove(root .. "/shared"))
  assert(dstack.proc.run({"ln", "-s", second, root .. "/shared"}))
  t.raises(function() allowances.options("-v ./shared:/x", where) end,
    "what its run-options reach changed since you allowed it")
  -- A folder inside the project replaced by a link to the outside: refused, though allowed before.
  local _, plain = project("run-options=-v ./data:/d")
  allow_file(plain, "-v ./data:/d")
  assert(dstack.proc.run({"rm", "-r", plain.root .. "/data"}))
  assert(dstack.proc.run({"ln", "-s", first, plain.root .. "/data"}))
  t.raises(function() allowances.options("-v ./data:/d", plain) end, "changed since you allowed it")
end)

t.test("the record counts only when it is the user's alone, and an older record asks for a new allow", function()
  local _, where = project("run-options=--privileged")
  allow_file(where, "--privileged")
  t.equal(allowances.options("--privileged", where), {"--privileged"})
  local record = allowances.record_path()
  assert(dstack.fs.write(record, assert(dstack.fs.read(record)), {mode = "666"}))
  t.raises(function() allowances.options("--privileged", where) end, "asks for options that reach the host")
  assert(dstack.fs.write(record, '{"' .. where.file .. '": "' .. dstack.fs.digest(where.file) .. '"}', {mode = "600"}))
  t.raises(function() allowances.options("--privileged", where) end,
    "dstack now also records where the options lead, so allow it once more")
end)

t.test("allow records a file only as it was when read", function()
  local _, where = project("run-options=--privileged")
  local digest = dstack.fs.digest(where.file)
  assert(dstack.fs.write(where.file, "FROM busybox\n# dstack: run-options=--privileged --pid=host\n"))
  t.raises(function() allowances.allow(where.file, digest, {}) end, "changed while dstack read it")
end)

t.test("a project's cluster= is used only once its file is allowed; --context and DSTACK_CLUSTER need nothing", function()
  local swarm = require("swarm")
  local root = t.scratch{["docker/Dockerfile"] = "FROM busybox\n# dstack: cluster=prod\n"}
  local file = root .. "/docker/Dockerfile"
  local variables = {XDG_CONFIG_HOME = root .. "/config"}
  t.environment(variables)
  t.stub(dstack.fs, "cwd", function() return root end)
  t.raises(function() swarm.choose_context() end, "cluster=prod in " .. file
    .. " picks docker context prod for the job, which receives your registry credentials for its image; "
    .. "allow it with `dstack run-script allow` in " .. root .. ", or name the cluster yourself (--context prod")
  t.equal(swarm.choose_context("dev"), "dev")
  variables.DSTACK_CLUSTER = "dev"
  t.equal(swarm.choose_context(), "dev")
  variables.DSTACK_CLUSTER = nil
  allowances.allow(file, dstack.fs.digest(file), {})
  t.equal(swarm.choose_context(), "prod")
  assert(dstack.fs.write(file, "FROM busybox\n# dstack: cluster=shared\n"))
  t.raises(function() swarm.choose_context() end, "the file changed since you allowed it")
end)

return t.run()
