-- Tests of lib/containers.lua: what reaches docker's command line.
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
