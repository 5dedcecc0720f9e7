-- Tests of lib/allow.lua: which options from a project's files reach the host, and the
-- refusal until the file is allowed.
local t = require("testing")
local allow = require("allow")

local function words(text)
  local list = {}
  for word in text:gmatch("%S+") do list[#list + 1] = word end
  return list
end

t.test("mounts from outside the project, host namespaces, privileges and root reach the host", function()
  local root = t.scratch{["data/keep"] = ""}
  local found = allow.host_options(words("-v /:/host --pid=host -it -uroot -dv/etc:/x --network=host --privileged "
    .. "--mount type=bind,src=/etc,dst=/d --cap-add=SYS_ADMIN --device /dev/sda --env-file /root/.env"), root, "here")
  t.equal(found, {
    "-v /:/host (mounts / from outside the project)", "--pid=host (shares the host's pid namespace)",
    "-uroot (runs as root)", "-dv/etc:/x (mounts /etc from outside the project)",
    "--network=host (shares the host's network namespace)",
    "--privileged (gives the container every privilege of the host)",
    "--mount type=bind,src=/etc,dst=/d (mounts /etc from outside the project)",
    "--cap-add=SYS_ADMIN (widens what the container may do on the host)",
    "--device /dev/sda (widens what the container may do on the host)",
    "--env-file /root/.env (reads or writes /root/.env outside the project)",
  })
end)

t.test("mounts inside the project, named volumes and ordinary options do not", function()
  local root = t.scratch{["data/keep"] = ""}
  t.equal(allow.host_options(words("-v " .. root .. "/data:/d -v cache:/c --mount type=volume,src=x,dst=/y "
    .. "-e A=1 --shm-size=1g -p 8000:8000 --user 1000 --network=none"), root, "here"), {})
end)

t.test("only docker options: no positional words, none of dstack's own options", function()
  local root = t.scratch{["docker/Dockerfile"] = "FROM busybox\n"}
  local where = {file = root .. "/docker/Dockerfile", setting = "run-options", root = root,
    refused = {["--hostsrcdir"] = true}}
  t.raises(function() allow.options("-e A=1 bash", where) end, "run-options in " .. where.file
    .. ": 'bash' is not an option; project files may hold options only")
  t.raises(function() allow.options("--hostsrcdir /", where) end, "--hostsrcdir is dstack's own option")
  t.raises(function() allow.options("-v", where) end, "-v needs a value")
  t.equal(allow.options("-e A=1 --shm-size=1g", where), {"-e", "A=1", "--shm-size=1g"})
end)

t.test("options that reach the host are refused until the file is allowed, and again when it changes", function()
  local root = t.scratch{["docker/Dockerfile"] = "FROM busybox\n# dstack: run-options=-v /:/host\n"}
  t.environment{XDG_CONFIG_HOME = root .. "/config"}
  local where = {file = root .. "/docker/Dockerfile", setting = "run-options", root = root}
  t.raises(function() allow.options("-v /:/host", where) end, "asks for options that reach the host: -v /:/host")
  allow.allow(where.file)
  t.equal(allow.options("-v /:/host", where), {"-v", "/:/host"})
  assert(dstack.fs.write(where.file, "FROM busybox\n# dstack: run-options=-v /:/host --pid=host\n"))
  t.raises(function() allow.options("-v /:/host", where) end, "the file changed since you allowed it")
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
  allow.allow(file)
  t.equal(swarm.choose_context(), "prod")
  assert(dstack.fs.write(file, "FROM busybox\n# dstack: cluster=shared\n"))
  t.raises(function() swarm.choose_context() end, "the file changed since you allowed it")
end)

return t.run()
