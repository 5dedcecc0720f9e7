-- Tests of lib/images.lua: which image a name means, with the engine's and registry's
-- answers recorded (testing.engine).
local t = require("testing")
local images = require("images")

local row = t.image_row

t.test("a name with a tag is used as written when the engine or its registry has it", function()
  t.environment({})
  t.engine{images = {row("team/app", "20261101-000000")}, registry = {["team/app"] = {"20261102-000000"}}}
  t.equal(images.find("team/app:20261101-000000"), "team/app:20261101-000000")
  t.equal(images.find("team/app:20261102-000000"), "team/app:20261102-000000")
  t.equal(images.find("team/app:latest"), nil)
  t.equal(select(2, images.find("team/app:latest")), "image team/app:latest not found in the local engine or on docker.io")
end)

t.test("a short name with a tag is looked for in each namespace", function()
  t.environment({DSTACK_NAMESPACE = "team"})
  t.engine{registry = {["team/app"] = {"1.0"}}}
  t.equal(images.find("app:1.0"), "team/app:1.0")
  t.equal(select(2, images.find("app:2.0")), "image app:2.0 not found in the local engine or on docker.io; "
    .. "image team/app:2.0 not found in the local engine or on docker.io")
end)

t.test("a name without a tag means its newest version; other tags are ignored, never latest", function()
  t.environment({})
  t.engine{
    images = {row("app", "26.11.01"), row("app", "latest"), row("app", "26.11.29"), row("app", "dev")},
    registry = {["team/app"] = {"20261101-000000", "latest"}},
  }
  t.equal(images.find("app"), "app:26.11.29")
  t.engine{images = {row("team/app", "20261102-000000")}, registry = {["team/app"] = {"20261101-000000", "20261103-000000"}}}
  t.equal(images.find("team/app"), "team/app:20261103-000000")
end)

t.test("a short name: the newest of the namespaces and the local engine; a namespace first on a tie", function()
  t.environment({DSTACK_NAMESPACE = "team"})
  t.engine{images = {row("app", "26.11.01")}, registry = {["team/app"] = {"26.11.01", "26.11.02"}}}
  t.equal(images.find("app"), "team/app:26.11.02")
  t.engine{images = {row("app", "26.11.03")}, registry = {["team/app"] = {"26.11.01", "26.11.02"}}}
  t.equal(images.find("app"), "app:26.11.03")
  t.engine{images = {row("app", "26.11.02")}, registry = {["team/app"] = {"26.11.02"}}}
  t.equal(images.find("app"), "team/app:26.11.02")
end)

t.test("a short name: other local repositories of that name only when nothing else has it", function()
  t.environment({})
  t.engine{images = {row("registry.example.com/team/app", "26.11.01"), row("other/app", "dev")}}
  t.equal(images.find("app"), "registry.example.com/team/app:26.11.01")
  t.engine{images = {row("registry.example.com/team/app", "26.11.01"), row("other/app", "26.11.02")}}
  t.equal(images.find("app"), "other/app:26.11.02")
  t.engine{images = {row("registry.example.com/team/app", "26.11.03"), row("app", "26.11.02")}}
  t.equal(images.find("app"), "app:26.11.02")
end)

t.test("in a project folder, a short name that is the project's image means its own repository", function()
  local root = t.scratch{["app/docker/Dockerfile"] = "# dstack: namespace=team\n"}
  t.stub(dstack.fs, "cwd", function() return dstack.fs.join(root, "app") end)
  t.environment({})
  t.engine{images = {row("team/app", "26.11.01"), row("app", "26.11.05")}}
  t.equal(images.find("app"), "team/app:26.11.01")
  t.engine{images = {row("app", "26.11.05")}}
  t.equal(images.find("app"), "app:26.11.05")
end)

t.test("nothing found: the message names every place searched, and the registry's problem", function()
  t.environment({DSTACK_NAMESPACE = "team"})
  t.engine{registry_problem = "cannot reach registry docker.io (timed out); check the network, or use --offline"}
  t.equal(select(2, images.find("app")), "no version of app (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in the local engine, "
    .. "team (cannot reach registry docker.io (timed out); check the network, or use --offline)")
  t.equal(select(2, images.find("Bad Name")), "'Bad Name' is not an image reference: 'Bad Name' must be lower-case "
    .. "letters and digits, separated by '.', '_', '__' or '-' (write it as [REGISTRY/]NAME[:TAG][@sha256:DIGEST])")
end)

t.test("the namespaces: DSTACK_NAMESPACE, then the current project's, once each", function()
  local fs = dstack.fs
  local application = t.scratch{["docker/Dockerfile"] = "# dstack: namespace=registry.example.com/team/\n", ["src/"] = ""}
  local package = t.scratch{["pyproject.toml"] = '[project]\nname = "p"\n[tool.dstack]\nnamespace = "pkg-team"\n'}
  t.environment({DSTACK_NAMESPACE = "env-team/"})
  t.stub(fs, "cwd", function() return fs.join(application, "src") end)
  t.equal(images.namespaces(), {"env-team", "registry.example.com/team"})
  t.stub(fs, "cwd", function() return package end)
  t.equal(images.namespaces(), {"env-team", "pkg-team"})
  t.environment({DSTACK_NAMESPACE = "pkg-team"})
  t.equal(images.namespaces(), {"pkg-team"})
  local broken = t.scratch{["pyproject.toml"] = "[project\n"}
  t.stub(fs, "cwd", function() return broken end)
  t.equal(images.namespaces(), {"pkg-team"})
end)

t.test("a failing registry is told from a missing image by the kind it returns, not by its message", function()
  t.environment({})
  -- The message says "not found", but about the host: the registry failed.
  t.engine{registry_problem = "cannot reach registry docker.io (the host name was not found)"}
  t.equal(select(2, images.find("team/app:1.0")), "image team/app:1.0 not found in the local engine or on "
    .. "docker.io (cannot reach registry docker.io (the host name was not found))")
end)

t.test("a name without a tag never means another user's local build; its full tag still does", function()
  local theirs = row("team/app", "20261103-000000")
  theirs.Labels = {["io.dstack.builder"] = tostring(dstack.env.user().uid + 1)}
  local mine = row("team/app", "20261102-000000")
  mine.Labels = {["io.dstack.builder"] = tostring(dstack.env.user().uid)}
  t.environment({DSTACK_NAMESPACE = "team"})
  t.engine{images = {mine, theirs, row("app", "20261101-000000")}, registry = {}}
  t.equal(images.find("team/app"), "team/app:20261102-000000")
  t.equal(images.find("app"), "team/app:20261102-000000")
  t.equal(images.find("team/app:20261103-000000"), "team/app:20261103-000000")
end)

t.test("on a rootless engine, the user's alone, every local image is the user's, wherever it was built", function()
  local loaded = row("team/py3", "26.12.07")
  loaded.Labels = {["io.dstack.builder"] = "0"}
  t.environment({DSTACK_NAMESPACE = "team"})
  t.engine{images = {loaded}, registry = {}, kind = {podman = false, rootless = true, name = "rootless Docker"}}
  t.equal(images.find("py3"), "team/py3:26.12.07")
end)

t.test("a build's parent: as written with a tag, else its newest; --parent instead; a --build-arg PARENT over both", function()
  t.environment({})
  t.engine{images = {row("team/py3", "26.11.01"), row("team/py3", "26.11.29"), row("team/base", "24.01.01")}}
  t.equal({images.build_parent("team/py3:26.11.01", nil, {}, "docker/Dockerfile")}, {"team/py3:26.11.01", "team/py3:26.11.01"})
  t.equal({images.build_parent("team/py3", nil, {}, "docker/Dockerfile")}, {"team/py3:26.11.29", "team/py3:26.11.29"})
  t.equal({images.build_parent("team/py3", "team/base", {}, "docker/Dockerfile")}, {"team/base:24.01.01", "team/base:24.01.01"})
  t.equal({images.build_parent("team/py3", "team/base", {"--build-arg", "PARENT=x/y:2", "--no-cache"}, "d")}, {"x/y:2"})
  t.equal({images.build_parent("team/py3", nil, {"--build-arg=PARENT=x/y:1", "--build-arg=PARENT=x/y:3"}, "d")},
    {"x/y:3"})
  t.equal({images.build_parent(nil, nil, {"--build-arg", "OTHER=1"}, "d")}, {})
end)

t.test("a build's parent that is not there: one line naming where it is written and what to do", function()
  t.environment({})
  t.engine{images = {}}
  t.raises(function() images.build_parent("team/py3", nil, {}, "/p/docker/Dockerfile") end,
    "the parent image ARG PARENT=team/py3 in /p/docker/Dockerfile: ")
  t.raises(function() images.build_parent("team/py3", nil, {}, "/p/docker/Dockerfile") end,
    "; write the tag to build on (ARG PARENT=team/py3:TAG, or --parent REF), or publish dated versions of it")
  t.raises(function() images.build_parent("team/py3:1.0", nil, {}, "d") end, "; build or pull it, or pass --parent REF")
  t.raises(function() images.build_parent("team/py3:1.0", "team/none", {}, "d") end, "--parent team/none: ")
end)

return t.run()
