-- Tests of lib/containers.lua and lib/docker.lua: what reaches docker's command line, and what a
-- rootless engine lacks.
local t = require("testing")
local containers = require("containers")

t.test("environment values leave the command line for an env file only the user can read", function()
  local words = containers.private_environment({
    "--env=PASSWORD=s3cret word", "--workdir=/app", "--env=HOME", "--env-file=/etc/environment",
    "--env=MULTI=a\nb", "--env= SPACED=1",
  })
  t.equal(#words, 5)
  t.equal({words[1], words[2], words[3], words[4]}, {"--workdir=/app", "--env-file=/etc/environment",
    "--env=MULTI=a\nb", "--env= SPACED=1"})
  local path = words[5]:match("^%-%-env%-file=(.*)$")
  t.equal(dstack.fs.read(path), "PASSWORD=s3cret word\nHOME\n")
  t.equal(string.format("%o", dstack.fs.stat(path).mode), "600")
  t.equal(string.format("%o", dstack.fs.stat(dstack.fs.dirname(path)).mode), "700")
end)

t.test("options without environment are handed back as they are", function()
  local words = {"--workdir=/app"}
  t.equal(containers.private_environment(words), words)
end)

t.test("a rootless engine's missing subordinate ids are named with the command that adds them", function()
  local docker = require("docker")
  local user = dstack.env.user()
  local root = t.scratch({subuid = "someone:100000:65536\n", subgid = user.name .. ":100000:65536\n"})
  local gaps = docker.rootless_gaps({podman = false}, {subuid = root .. "/subuid", subgid = root .. "/subgid"})
  local named = {}
  for _, gap in ipairs(gaps) do
    if gap:find(root, 1, true) then named[#named + 1] = gap end
  end
  t.equal(named, {root .. "/subuid gives " .. user.name .. " no range of ids: as root, run usermod --add-subuids "
    .. "100000-165535 " .. user.name .. " (a range no other user has)"})
end)
