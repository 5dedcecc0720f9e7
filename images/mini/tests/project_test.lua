-- Tests of lib/project.lua: what build and release know about a project folder.
local t = require("testing")
local project = require("project")

local fs = dstack.fs

-- The folders /dstack/project shows the tests, from `test_mounts`.
local function mounted(root)
  local names = {}
  for _, option in ipairs(project.test_mounts(root)) do
    local source, name = option:match("^%-%-volume=(.-):/dstack/project/([^:]+):ro$")
    t.equal(source, fs.join(root, name), option)
    names[#names + 1] = name
  end
  return names
end

t.test("a flat layout: the package and modules are hidden, tests and conftest.py stay", function()
  local root = t.scratch{
    ["pyproject.toml"] = "", ["README.md"] = "", ["my_app/__init__.py"] = "", ["setup.py"] = "",
    ["conftest.py"] = "", ["tests/test_app.py"] = "", ["docs/index.md"] = "",
  }
  t.equal(project.python_sources(root), {"my_app", "setup.py"})
  t.equal(mounted(root), {"README.md", "conftest.py", "docs", "pyproject.toml", "tests"})
end)

t.test("a src layout: src/ is hidden", function()
  local root = t.scratch{["pyproject.toml"] = "", ["src/my_app/__init__.py"] = "", ["tests/test_app.py"] = ""}
  t.equal(project.python_sources(root), {"src"})
  t.equal(mounted(root), {"pyproject.toml", "tests"})
end)

t.test("tests in a package (tests/__init__.py) stay, as test/ and testing/ do", function()
  local root = t.scratch{
    ["pyproject.toml"] = "", ["my_app/__init__.py"] = "", ["tests/__init__.py"] = "", ["tests/test_app.py"] = "",
    ["test/__init__.py"] = "", ["testing/__init__.py"] = "",
  }
  t.equal(project.python_sources(root), {"my_app"})
  t.equal(mounted(root), {"pyproject.toml", "test", "testing", "tests"})
end)

t.test("what a build of the sources leaves, and .git, are hidden", function()
  local root = t.scratch{
    ["pyproject.toml"] = "", ["build/lib/my_app/__init__.py"] = "", ["dist/my_app-1.0.tar.gz"] = "",
    ["my_app.egg-info/PKG-INFO"] = "", [".git/HEAD"] = "", ["tests/test_app.py"] = "", ["data/"] = "",
  }
  t.equal(project.python_sources(root), {".git", "build", "dist", "my_app.egg-info"})
  t.equal(mounted(root), {"data", "pyproject.toml", "tests"})
end)

t.test("the default tests: pytest for a Python project with tests/", function()
  local pytest = {"python3", "-m", "pytest", "-p", "no:cacheprovider", "tests"}
  t.equal(project.default_tests(t.scratch{["pyproject.toml"] = "", ["tests/test_a.py"] = ""}), pytest)
  t.equal(project.default_tests(t.scratch{["setup.py"] = "", ["tests/__init__.py"] = ""}), pytest)
  t.equal(project.default_tests(t.scratch{["setup.cfg"] = "", ["tests/"] = ""}), pytest)
  t.equal(project.default_tests(t.scratch{["pyproject.toml"] = ""}), nil)
  t.equal(project.default_tests(t.scratch{["tests/test_a.py"] = ""}), nil)
  -- pytest's own configuration says where the tests are: no folder is named then.
  local configured = {"python3", "-m", "pytest", "-p", "no:cacheprovider"}
  t.equal(project.default_tests(t.scratch{["pyproject.toml"] = "[project]\n\n[tool.pytest.ini_options]\n"
    .. "testpaths = [\"testing\"]\n", ["testing/test_a.py"] = ""}), configured)
  t.equal(project.default_tests(t.scratch{["setup.py"] = "", ["tox.ini"] = "[tox]\n[pytest]\ntestpaths = testing\n"}),
    configured)
  t.equal(project.default_tests(t.scratch{["setup.cfg"] = "[tool:pytest]\n", ["tests/t.py"] = ""}), configured)
  t.equal(project.default_tests(t.scratch{["setup.py"] = "", ["pytest.ini"] = ""}), configured)
  t.equal(project.default_tests(t.scratch{["pyproject.toml"] = "[tool.black]\n", ["tests/t.py"] = ""}), pytest)
end)

t.test("the root is the nearest folder above with docker/Dockerfile", function()
  local root = t.scratch{["docker/Dockerfile"] = "", ["src/app/deep/"] = ""}
  t.equal(project.find_root(fs.join(root, "src", "app", "deep")), root)
  t.equal(project.find_root(root), root)
  t.equal(project.find_root(t.scratch{["src/"] = ""}), nil)
end)

t.test("Dockerfile settings: ARG PARENT's default and # dstack: comments", function()
  t.equal(project.read_dockerfile([[
# dstack: name=my-app
#dstack:namespace = registry.example.com/team
ARG PARENT="team/py3:26.11.29"
arg PARENT=ignored
FROM ${PARENT}
# dstack: test=python3 -m pytest -x tests
]]), {name = "my-app", namespace = "registry.example.com/team", parent = "team/py3:26.11.29",
    test = "python3 -m pytest -x tests"})
  t.equal(project.read_dockerfile("FROM debian\n"), {})
end)

t.test("the repository: --name and --namespace, then settings, DSTACK_NAMESPACE and the folder", function()
  local root = t.scratch{["My Project!/"] = ""}
  local folder = fs.join(root, "My Project!")
  t.environment({})
  t.equal(project.repository(folder, {}), "my-project")
  t.equal(project.repository(folder, {name = "app", namespace = "team/"}), "team/app")
  t.equal(project.repository(folder, {name = "app", namespace = "team"}, "other", "ns"), "ns/other")
  t.environment({DSTACK_NAMESPACE = "env/"})
  t.equal(project.repository(folder, {namespace = "team"}), "env/my-project")
  local root_of_dashes = fs.join(t.scratch{["---/"] = ""}, "---")
  t.equal(select(2, project.repository(root_of_dashes, {})), "cannot make an image name from the folder '---'; pass --name NAME")
end)

t.test("reference names and words", function()
  t.equal(project.reference_name("My_Project  2.0"), "my_project-2.0")
  t.equal(project.reference_name("--a..b__c--"), "a-b-c")
  t.equal(project.split_words("  python3 -m   pytest\ttests "), {"python3", "-m", "pytest", "tests"})
end)

t.test("git: the trimmed output, or nil and git's reason", function()
  local root = t.scratch{["file"] = "x"}
  local output, problem = project.git(root, "rev-parse", "--is-inside-work-tree")
  t.equal(output, nil)
  t.contains(problem, "not a git repository")
  t.truthy(project.git(root, "init", "--quiet"))
  t.equal(project.git(root, "rev-parse", "--is-inside-work-tree"), "true")
  t.equal(project.git(root, "status", "--porcelain"), "?? file")
end)

t.test("old versions are removed beyond the newest N, never the current one or one in use", function()
  t.engine{
    images = {
      t.image_row("team/app", "20261101-000000"), t.image_row("team/app", "20261102-000000"),
      t.image_row("team/app", "20261103-000000"), t.image_row("team/app", "20261104-000000"),
      t.image_row("team/app", "dev"), t.image_row("team/app-other", "20261101-000000"),
    },
    containers = {{ID = "c1", Image = "team/app:20261102-000000", Names = "app-1", State = "running", Status = "Up"}},
  }
  local changes = {}
  t.stub(dstack.docker, "change", function(args)
    changes[#changes + 1] = table.concat(args, " ")
    return {code = 0, stdout = "", stderr = ""}
  end)
  project.remove_old_versions("team/app", 1, "20261101-000000")
  t.equal(changes, {"rmi team/app:20261103-000000"})
end)

t.test("--keep never removes another user's build of the project (an engine teammates share)", function()
  local theirs = t.image_row("team/app", "20261103-000000")
  theirs.Labels = {[project.builder_label] = tostring(dstack.env.user().uid + 1)}
  local mine = t.image_row("team/app", "20261102-000000")
  mine.Labels = {[project.builder_label] = tostring(dstack.env.user().uid)}
  t.engine{
    images = {t.image_row("team/app", "20261101-000000"), mine, theirs, t.image_row("team/app", "20261104-000000")},
    containers = {},
  }
  local changes = {}
  t.stub(dstack.docker, "change", function(args)
    changes[#changes + 1] = table.concat(args, " ")
    return {code = 0, stdout = "", stderr = ""}
  end)
  project.remove_old_versions("team/app", 1, "20261104-000000")
  t.equal(changes, {"rmi team/app:20261102-000000", "rmi team/app:20261101-000000"})
end)


t.test("pytest's exit 5 (no tests collected) is told apart, only for pytest", function()
  t.equal(project.collected_no_tests(5, {"python3", "-m", "pytest"}), true)
  t.equal(project.collected_no_tests(5, {"/usr/bin/pytest", "-q"}), true)
  t.equal(project.collected_no_tests(1, {"python3", "-m", "pytest"}), false)
  t.equal(project.collected_no_tests(5, {"sh", "tests/check.sh"}), false)
  t.equal(project.collected_no_tests(5, {"python3", "-m", "unittest"}), false)
end)

t.test("a failed build is remembered per repository until a build of it passes", function()
  t.environment{XDG_STATE_HOME = t.scratch{}}
  t.equal(project.failed_build("team/app"), nil)
  project.record_build("team/app", "abc123", "26.12.07")
  local failed = project.failed_build("team/app")
  t.equal({failed.revision, failed.tag}, {"abc123", "26.12.07"})
  t.equal(failed.time:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") ~= nil, true)
  t.equal(project.failed_build("team/other"), nil)
  project.record_build("team/app", "abc123", nil)
  t.equal(project.failed_build("team/app"), nil)
  project.record_build("team/app", nil, "26.12.07")
  t.equal(project.failed_build("team/app"), nil, "outside git nothing is remembered")
end)

t.test("the revision is the commit, -dirty with any change (an untracked file too), nil before a commit", function()
  local root = t.scratch{["a.txt"] = "1\n"}
  local function git(...)
    local result = dstack.proc.run({"git", "-C", root, "-c", "user.name=t", "-c", "user.email=t@example.com", ...})
    assert(result.code == 0, result.stderr)
    return (result.stdout:gsub("%s+$", ""))
  end
  t.equal(project.revision(root), nil, "outside git")
  git("init", "--quiet")
  t.equal(project.revision(root), nil, "no commit yet")
  git("add", ".")
  git("commit", "--quiet", "-m", "one")
  local commit = git("rev-parse", "HEAD")
  t.equal(project.revision(root), commit)
  dstack.fs.write(root .. "/new.txt", "")
  t.equal(project.revision(root), commit .. "-dirty", "an untracked file")
  dstack.fs.remove(root .. "/new.txt")
  dstack.fs.write(root .. "/a.txt", "2\n")
  t.equal(project.revision(root), commit .. "-dirty", "a changed file")
end)

return t.run()
