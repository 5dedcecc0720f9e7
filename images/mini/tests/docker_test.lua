-- Tests of lib/docker.lua: the docker commands it builds.
local t = require("testing")
local docker = require("docker")

-- The arguments of the docker commands `run` makes, and the text of the Dockerfile a build used.
local function captured(run)
  local commands, dockerfile = {}, nil
  t.stub(dstack.docker, "change", function(args)
    commands[#commands + 1] = args
    for index, word in ipairs(args) do
      if word == "--file" then dockerfile = dstack.fs.read(args[index + 1]) end
    end
    return {code = 0, stdout = "", stderr = ""}
  end)
  run()
  return commands, dockerfile
end

t.test("dstack's labels are one LABEL step after the Dockerfile's own, quoted as docker reads them", function()
  local context = t.scratch{["Dockerfile"] = "FROM busybox\nRUN true"}
  local commands, dockerfile = captured(function()
    assert(docker.build{context = context, tags = {"app:1"},
      labels = {["org.opencontainers.image.source"] = "/home/ann/my \"app\" $HOME\\x", ["io.dstack.mini"] = "m"}})
  end)
  t.equal(dockerfile, "FROM busybox\nRUN true\n# Added by dstack: its labels, in one step.\n"
    .. 'LABEL "io.dstack.mini"="m" "org.opencontainers.image.source"="/home/ann/my \\"app\\" \\$HOME\\\\x"\n')
  for _, word in ipairs(commands[1]) do t.equal(word ~= "--label", true, "no --label flags") end
end)

t.test("where one step cannot mean the same, the labels stay flags: a target, a parser directive", function()
  for _, case in ipairs({
    {text = "FROM busybox AS dev\nFROM busybox\n", options = {target = "dev"}},
    {text = "FROM busybox\n", options = {args = {"--target=dev"}}},
    {text = "# escape=`\nFROM busybox\n", options = {}},
  }) do
    local options = case.options
    options.context = t.scratch{["Dockerfile"] = case.text}
    options.labels = {a = "b"}
    local commands, dockerfile = captured(function() assert(docker.build(options)) end)
    t.equal(dockerfile, nil, case.text)
    t.equal(table.concat(commands[1], " "):find("--label a=b", 1, true) ~= nil, true, case.text)
  end
end)

return t.run()
