-- Tests of lib/tags.lua: the version tag of a new build, with the engine's and registry's
-- answers recorded (testing.engine) and the clock fixed.
local t = require("testing")
local tags = require("tags")

-- The clock says 29 November 2026, 06:30 UTC; builds take turns in a folder of the test's.
local function fixed_clock()
  tags.shared_folder = t.scratch{}
  t.stub(dstack.version, "date", function() return "26.11.29" end)
  t.stub(dstack.version, "datetime", function() return "20261129-063000" end)
end

t.test("products get a datetime, base images the date", function()
  fixed_clock()
  t.engine{}
  t.equal(tags.new("team/app"), "20261129-063000")
  t.equal(tags.new("team/api", "datetime"), "20261129-063000")
  t.equal(tags.new("team/py3", "date"), "26.11.29")
end)

t.test("a date tag that exists, locally or in the registry, is never replaced: the datetime instead", function()
  fixed_clock()
  t.engine{images = {t.image_row("team/py3", "26.11.29")}}
  t.equal(tags.new("team/py3", "date"), "20261129-063000")
  t.engine{registry = {["registry.example.com/team/py3"] = {"26.11.28", "26.11.29"}}}
  t.equal(tags.new("registry.example.com/team/py3", "date"), "20261129-063000")
  t.engine{images = {t.image_row("team/py3", "26.11.28")}, registry = {["team/py3"] = {"26.11.28"}}}
  t.equal(tags.new("team/py3", "date"), "26.11.29")
end)

t.test("a build in the same second as an existing tag waits for the next second", function()
  tags.shared_folder = t.scratch{}
  local now = {"20261129-063000", "20261129-063000", "20261129-063001"}
  t.stub(dstack.version, "datetime", function() return table.remove(now, 1) or "20261129-063001" end)
  local slept = 0
  t.stub(dstack.proc, "sleep", function(seconds) slept = slept + seconds end)
  t.engine{images = {t.image_row("team/app", "20261129-063000")}}
  t.equal(tags.new("team/app"), "20261129-063001")
  t.truthy(slept > 0 and slept < 1, "waited " .. slept .. " s")
  -- A clock that does not move on is an error, not a replaced tag.
  fixed_clock()
  t.raises(function() tags.new("team/app") end, "team/app:20261129-063000 exists already and the clock does not move on")
end)

t.test("two builds in the same second, a teammate's included, get different tags", function()
  tags.shared_folder = t.scratch{}
  t.engine{}
  local now = {"20261129-063000", "20261129-063000", "20261129-063000", "20261129-063001"}
  t.stub(dstack.version, "datetime", function() return table.remove(now, 1) or "20261129-063001" end)
  t.stub(dstack.proc, "sleep", function() end)
  t.equal(tags.new("team/app"), "20261129-063000")
  t.equal(tags.new("team/app"), "20261129-063001")
  local notes = dstack.fs.list(tags.shared_folder)
  t.equal(notes, {"dstack-tag-team_app", "dstack-tag-team_app." .. dstack.env.user().uid})
  t.equal(string.format("%o", dstack.fs.stat(tags.shared_folder .. "/dstack-tag-team_app").mode), "644")
end)

t.test("an unknown scheme names where it came from", function()
  t.raises(function() tags.new("team/app", "weekly", "--version") end,
    "--version: expected date or datetime, got 'weekly'")
  t.raises(function() tags.new("team/app", "1") end, "version: expected date or datetime, got '1'")
end)

return t.run()
