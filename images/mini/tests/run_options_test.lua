-- Tests of lib/run_options.lua: docker run options read as docker's CLI reads them
-- (pflag, --mount CSV), judged by the allow-list, and the words docker gets. The cases
-- of the trust issue (#28) each have a line here; the differential test on the real
-- engine (RunOptionsDockerTests) checks what docker does with the words.
local t = require("testing")
local run_options = require("run_options")

local function words(text)
  local list = {}
  for word in text:gmatch("%S+") do list[#list + 1] = word end
  return list
end

local function judge(text, root)
  return run_options.judge(words(text), {root = root or "/nonexistent-project", where = "here"})
end

-- "TEXT: needs|never|inside" for each option of `text`.
local function verdicts(text, root)
  local found = {}
  for _, verdict in ipairs(judge(text, root)) do
    found[#found + 1] = verdict.text .. ": " .. (verdict.never and "never" or verdict.needs and "needs" or "inside")
  end
  return found
end

t.test("pflag's spellings: attached, separate and = values, grouped shorthands, booleans", function()
  local function parsed(text)
    local list = {}
    for _, option in ipairs(run_options.parse(words(text), "here")) do
      list[#list + 1] = option.name .. "=" .. tostring(option.value)
    end
    return list
  end
  t.equal(parsed("-v=/etc:/x -iv=/etc:/y -itv/a:/b -v /c:/d --volume=/e:/f --volume /g:/h"), {
    "volume=/etc:/x", "interactive=true", "volume=/etc:/y", "interactive=true", "tty=true", "volume=/a:/b",
    "volume=/c:/d", "volume=/e:/f", "volume=/g:/h",
  })
  t.equal(parsed("-eA=1 -e B=2 --env=C=3 -uroot -u=0 -t=false --rm=F --init=1 --net=host -v= -p 80"), {
    "env=A=1", "env=B=2", "env=C=3", "user=root", "user=0", "tty=false", "rm=false", "init=true", "network=host",
    "volume==", "publish=80",
  })
  -- A value option takes the next word whatever it is, as pflag does.
  t.equal(parsed("--workdir --rm"), {"workdir=--rm"})
  t.raises(function() run_options.parse(words("--rm=maybe"), "here") end, "here: --rm=maybe: --rm is true or false")
  t.raises(function() run_options.parse(words("-v"), "here") end, "here: -v needs a value")
  t.raises(function() run_options.parse(words("--bogus=1"), "here") end,
    "'--bogus' in '--bogus=1' is not a docker run option dstack knows")
  t.raises(function() run_options.parse(words("-iZ"), "here") end, "'-Z' in '-iZ' is not a docker run option")
  t.raises(function() run_options.parse(words("-e A=1 bash"), "here") end, "'bash' is not an option")
  t.raises(function() run_options.parse(words("-- -e"), "here") end, "'--' is not an option")
  t.raises(function() run_options.parse(words("---rm"), "here") end, "'---rm' is not an option")
  t.raises(function() run_options.parse(words("--hostsrcdir=/"), "here", {["--hostsrcdir"] = true}) end,
    "--hostsrcdir is dstack's own option")
end)

t.test("every spelling of a host mount needs allowing (-v=, grouped, --mount in any case, quoted CSV)", function()
  t.equal(verdicts('-v=/etc:/x -iv=/etc:/y --mount type=Bind,source=/etc,target=/x '
    .. '--mount Type=bind,Source=/etc,Target=/x --mount "type=bind","source=/etc","target=/x" '
    .. '--mount type=BIND,src=/,dst=/x,ro --volume=/:/host:z'), {
    "-v=/etc:/x: needs", "-iv=/etc:/y: inside", "-iv=/etc:/y: needs",
    "--mount type=Bind,source=/etc,target=/x: needs", "--mount Type=bind,Source=/etc,Target=/x: needs",
    '--mount "type=bind","source=/etc","target=/x": needs', "--mount type=BIND,src=/,dst=/x,ro: needs",
    "--volume=/:/host:z: needs",
  })
  local judged = judge("--mount Type=bind,Source=/etc,Target=/x")
  t.equal(judged[1].needs, "mounts /etc from outside the project")
end)

t.test("volume driver options, unknown mount keys and broken CSV need allowing", function()
  t.equal(verdicts("--mount type=volume,dst=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc "
    .. "--mount type=volume,src=v,dst=/x,volume-driver=local --mount type=bind,src=.,dst=/x,bind-propagation=shared "
    .. '--mount type=bind,"src=.,dst=/x --mount type=npipe,dst=/x --mount dst=relative'), {
    "--mount type=volume,dst=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc: needs",
    "--mount type=volume,src=v,dst=/x,volume-driver=local: needs",
    "--mount type=bind,src=.,dst=/x,bind-propagation=shared: needs",
    '--mount type=bind,"src=.,dst=/x: needs', "--mount type=npipe,dst=/x: needs", "--mount dst=relative: needs",
  })
end)

t.test("mounts inside the project, named and anonymous volumes and tmpfs pass, spelled as docker gets them", function()
  local root = t.scratch{["data/keep"] = "", ["cache/"] = ""}
  local real = dstack.fs.realpath(root)
  local judged = judge("-v ./data:/d:ro -v " .. root .. "/cache:/c --mount type=bind,src=data,dst=/e,readonly=false "
    .. "-v named:/n -v /anonymous --mount dst=/v,src=named2,ro --mount type=tmpfs,destination=/t", root)
  t.equal(run_options.words(judged, false), {
    "--mount=type=bind,source=" .. real .. "/data,target=/d,readonly",
    "--mount=type=bind,source=" .. real .. "/cache,target=/c",
    "--mount=type=bind,source=" .. real .. "/data,target=/e",
    "--mount=type=volume,source=named,target=/n", "--mount=type=volume,target=/anonymous",
    "--mount=type=volume,source=named2,target=/v,readonly", "--mount=type=tmpfs,target=/t",
  })
end)

t.test("paths are judged as the kernel resolves them: links out, and what cannot be resolved, are outside", function()
  local root = t.scratch{["inside/keep"] = ""}
  local outside = t.scratch{["secret"] = "s"}
  assert(dstack.proc.run({"ln", "-s", outside, root .. "/link"}))
  assert(dstack.proc.run({"ln", "-s", root .. "/inside", root .. "/inner-link"}))
  local judged = judge("-v ./link:/x -v ./link/secret:/y -v ./missing:/z -v ./inner-link:/w", root)
  local real_outside = dstack.fs.realpath(outside)
  t.equal(judged[1].needs, "mounts " .. real_outside .. " from outside the project")
  t.equal(judged[2].needs, "mounts " .. real_outside .. "/secret from outside the project")
  t.contains(judged[3].needs, "mounts ./missing, which cannot be resolved as you")
  t.equal(judged[4].needs, nil)
  t.equal(judged[4].words, {"--mount=type=bind,source=" .. dstack.fs.realpath(root) .. "/inside,target=/w"})
  -- Once allowed, docker gets the source as it resolves now.
  t.equal(run_options.words({judged[1]}, true), {"--mount=type=bind,source=" .. real_outside .. ",target=/x"})
end)

t.test("joining another container, the user's environment and host namespaces need allowing", function()
  t.equal(verdicts("--pid=container:db --network=container:db --ipc container:db --link=db:db --volumes-from=db "
    .. "-e GITHUB_TOKEN --env=AWS_SECRET_ACCESS_KEY --net=host --uts=host --userns=host --cgroupns=host "
    .. "--network=shared-net"), {
    "--pid=container:db: needs", "--network=container:db: needs", "--ipc container:db: needs",
    "--link=db:db: needs", "--volumes-from=db: needs", "-e GITHUB_TOKEN: needs",
    "--env=AWS_SECRET_ACCESS_KEY: needs", "--net=host: needs", "--uts=host: needs", "--userns=host: needs",
    "--cgroupns=host: needs", "--network=shared-net: needs",
  })
  t.equal(judge("-e GITHUB_TOKEN")[1].needs, "copies your own GITHUB_TOKEN variable into the container")
  t.equal(judge("--link=db:db")[1].needs, "links container db:db, copying its environment (secrets included)")
end)

t.test("root in every spelling needs allowing; a uid other than 0 passes", function()
  t.equal(verdicts("-u=root -u=0 --user=00 --user=+0 -uroot:root --user=0:1000 --user=1000:0 --user=postgres "
    .. "--user 1000 --user=1000:1000"), {
    "-u=root: needs", "-u=0: needs", "--user=00: needs", "--user=+0: needs", "-uroot:root: needs",
    "--user=0:1000: needs", "--user=1000:0: needs", "--user=postgres: needs", "--user 1000: inside",
    "--user=1000:1000: inside",
  })
  t.equal(judge("-u=0")[1].needs, "runs as root")
end)

t.test("ports bind to 127.0.0.1 unless the file is allowed; other addresses need allowing", function()
  local judged = judge("-p 8890:8888 -p 9000 --publish=127.0.0.1:7000:7000/udp -p 0.0.0.0:80:80 -p [::]:81:81 -P")
  t.equal(run_options.words({judged[1], judged[2], judged[3]}, false), {
    "--publish=127.0.0.1:8890:8888", "--publish=127.0.0.1::9000", "--publish=127.0.0.1:7000:7000/udp",
  })
  t.equal(run_options.words({judged[1]}, true), {"--publish=8890:8888"})
  t.contains(judged[4].needs, "publishes port 80 on 0.0.0.0")
  t.truthy(judged[5].needs, "an IPv6 address is not judged")
  t.equal(judged[6].needs, "publishes every exposed port on every address")
end)

t.test("never passed, allowed or not: --rm=false, io.dstack.* labels, --entrypoint, label files", function()
  t.equal(verdicts("--rm=false --label=io.dstack.user=other -l IO.DSTACK.image=x --entrypoint=sh "
    .. "--label-file=labels --help"), {
    "--rm=false: never", "--label=io.dstack.user=other: never", "-l IO.DSTACK.image=x: never",
    "--entrypoint=sh: never", "--label-file=labels: never", "--help: never",
  })
  t.equal(run_options.words(judge("--rm=false --label=io.dstack.user=x"), true), {})
end)

t.test("logging, devices, privileges and anything not on the list need allowing", function()
  t.equal(verdicts("--log-driver=syslog --log-opt=syslog-address=unixgram:///dev/log --privileged --cap-add=ALL "
    .. "--device=/dev/sda --security-opt=seccomp=unconfined --gpus=all --runtime=runc --sysctl=net.ipv4.ip_forward=1 "
    .. "--restart=always --env-file=.env --cidfile=/tmp/id --dns=1.1.1.1 --use-api-socket --oom-kill-disable"), {
    "--log-driver=syslog: needs", "--log-opt=syslog-address=unixgram:///dev/log: needs", "--privileged: needs",
    "--cap-add=ALL: needs", "--device=/dev/sda: needs", "--security-opt=seccomp=unconfined: needs",
    "--gpus=all: needs", "--runtime=runc: needs", "--sysctl=net.ipv4.ip_forward=1: needs",
    "--restart=always: needs", "--env-file=.env: needs", "--cidfile=/tmp/id: needs", "--dns=1.1.1.1: needs",
    "--use-api-socket: needs", "--oom-kill-disable: needs",
  })
end)

t.test("options on the list pass in dstack's spelling; a boolean counts once, as its last spelling", function()
  local judged = judge("-e A=1 -eB= -w /work --shm-size 1g -m 2g --cpus=1.5 --tmpfs /run -l team=x --init "
    .. "--hostname=h --add-host=db:10.0.0.2 --ulimit nofile=1024 --read-only -it --network none --name=box "
    .. "--privileged=false -d --detach=false --rm --stop-timeout=3 --cap-drop=ALL")
  for _, verdict in ipairs(judged) do t.equal(verdict.needs, nil, verdict.text) end
  t.equal(run_options.words(judged, false), {
    "--env=A=1", "--env=B=", "--workdir=/work", "--shm-size=1g", "--memory=2g", "--cpus=1.5", "--tmpfs=/run",
    "--label=team=x", "--init", "--hostname=h", "--add-host=db:10.0.0.2", "--ulimit=nofile=1024", "--read-only",
    "--interactive", "--tty", "--network=none", "--name=box", "--rm", "--stop-timeout=3", "--cap-drop=ALL",
  })
end)

t.test("the table of options is docker's: every shorthand names an option, and kinds are known", function()
  for letter, name in pairs(run_options.shorthands) do
    t.truthy(run_options.kinds[name], "-" .. letter .. " names " .. name)
  end
  t.equal(run_options.kinds.rm, "boolean")
  t.equal(run_options.kinds.mount, "value")
end)

return t.run()
