import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// The Lua tests answer from a fake engine (`testing.engine` in images/mini/tests/lib); a
/// fake that drifts from the real engine lets a module pass its unit tests and fail on
/// docker. These ask the real engine and the fake the same questions and compare the
/// shapes of the answers: the fields, and the form of the IDs.
@Suite("The Lua tests' fake engine answers as the real one does", .requiresDocker, .ownThreads)
final class FakeEngineTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  @Test("image rows, local tags, inspections and containers: the real engine's fields and ID forms")
  func sameShapes() throws {
    let repository = scratch.image("shape")
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.01.01"]).succeeded)
    let created = try runner.run([
      "docker", "create", "--name", scratch.container("shape"), "--label", "test=\(scratch.prefix)", "busybox", "true",
    ])
    #expect(created.succeeded, "\(created.errorOutput)")
    let framework = Checkout.root + "/images/mini/tests/lib/testing.lua"
    try scratch.write("scripts/lib/testing.lua", try String(contentsOfFile: framework, encoding: .utf8))
    let result = try runScript(
      """
      local t = require("testing")
      local repository, label = ...
      -- A value's shape: its keys (sorted), or the form of an ID.
      local function form(value)
        if type(value) ~= "string" then return type(value) end
        if value:match("^sha256:" .. string.rep("%x", 64) .. "$") then return "sha256:64hex" end
        if value:match("^" .. string.rep("%x", 64) .. "$") then return "64hex" end
        if value:match("^" .. string.rep("%x", 12) .. "$") then return "12hex" end
        return "text"
      end
      local function keys(row)
        local names = {}
        for key in pairs(row or {}) do names[#names + 1] = key end
        table.sort(names)
        return table.concat(names, " ")
      end
      local function answers()
        local tag = dstack.docker.local_tags(repository)[1]
        local inspected = dstack.docker.inspect_image(repository .. ":24.01.01")
        local container = dstack.docker.containers({label = label})[1]
        return {tag = keys(tag), tag_id = form(tag.id), inspect_id = form(inspected.Id),
          container = keys(container), container_id = form(container.id)}, inspected
      end
      local real, inspected = answers()
      real.row = keys(dstack.docker.query({"image", "ls", "--format", "{{json .}}", repository}, {json = true})[1])
      real.row_id = form(dstack.docker.query({"image", "ls", "--format", "{{json .}}", repository}, {json = true})[1].ID)
      t.engine{images = {t.image_row(repository, "24.01.01")}, registry = {},
        containers = {t.container_row("busybox", {test = label:match("=(.*)$")})}}
      local fake, faked = answers()
      fake.row = keys(t.image_row(repository, "24.01.01"))
      fake.row_id = form(t.image_row(repository, "24.01.01").ID)
      for _, name in ipairs({"row", "row_id", "tag", "tag_id", "inspect_id", "container", "container_id"}) do
        if real[name] ~= fake[name] then print(name .. ": real " .. real[name] .. ", fake " .. fake[name]) end
      end
      -- The fake's inspection may leave fields out, but has none the real one lacks.
      for key in pairs(faked) do
        if inspected[key] == nil then print("inspect: the fake has " .. key .. ", the real engine not") end
      end
      for key in pairs(faked.Config) do
        if inspected.Config[key] == nil then print("inspect: the fake has Config." .. key .. ", the real engine not") end
      end
      """, arguments: [repository, "test=\(scratch.prefix)"], in: scratch)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.isEmpty, "the fake answers otherwise than the engine:\n\(result.output)")
  }
}
