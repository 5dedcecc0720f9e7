import DstackEngine
import DstackHost
import DstackLua
import Foundation
import Testing

/// A VM with `echo(...)`, which returns its arguments, and `fail(message)`, which throws.
private func bridgeVM() throws -> LuaVM {
  let vm = try LuaVM()
  vm.setGlobal("echo", .function(HostFunction("echo") { $0.values }))
  vm.setGlobal(
    "fail",
    .function(
      HostFunction("fail") { arguments in
        // Allocations that a longjmp through this frame would leak.
        let text = try arguments.string(1)
        let payload = (0..<64).map { Tracked("item \($0) \(text)") }
        throw LuaArgumentError(payload[0].text)
      }))
  return vm
}

private func run(_ vm: LuaVM, _ source: String, _ arguments: [LuaValue] = []) throws -> [LuaValue] {
  try vm.run(source: Array(source.utf8), chunkName: "@test.lua", arguments: arguments.map { .value($0) })
}

/// An object that counts its live instances: a Swift frame that a longjmp skipped
/// would never release the ones it holds.
private final class Tracked: @unchecked Sendable {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var count = 0
  static var live: Int { lock.withLock { count } }

  let text: String
  init(_ text: String) {
    self.text = text
    Self.lock.withLock { Self.count += 1 }
  }
  deinit { Self.lock.withLock { Self.count -= 1 } }
}

@Suite("Lua bridge", .serialized)
struct LuaBridgeTests {
  @Test(
    "values cross to Lua and back unchanged",
    arguments: [
      LuaValue.nil, true, false, 0, -7, .integer(Int64.max), 1.5, -0.25, "", "text",
      .string([0x66, 0x00, 0xFF, 0xFE, 0x0A]),  // NUL and invalid UTF-8
      ["a", "b", 3], ["key": "value", "n": 2], ["list": [1, 2, ["deep": true]], "empty": ""],
    ] as [LuaValue])
  func roundTrip(value: LuaValue) throws {
    let vm = try bridgeVM()
    #expect(try run(vm, "return echo(...)", [value]) == [value])
    #expect(vm.stackDepth == 0)
  }

  @Test("line counts name the chunk loaded from a file and each line as often as it ran, in coroutines too")
  func lineCounts() throws {
    let vm = try LuaVM()
    vm.countLines()
    _ = try vm.run(
      source: Array(
        "local n = 0\nfor _ = 1, 3 do\n  n = n + 1\nend\nlocal co = coroutine.wrap(function()\n  n = n + 1\nend)\nco()\n"
          .utf8),
      chunkName: "@lib/counted.lua")
    _ = try vm.run(source: Array("local x = 1\n".utf8), chunkName: "=not a file")
    let counts = vm.lineCounts()
    #expect(Array(counts.keys) == ["@lib/counted.lua"], "\(counts)")
    #expect(counts["@lib/counted.lua"]?[3] == 3, "the loop's body ran three times: \(counts)")
    #expect(counts["@lib/counted.lua"]?[6] == 1, "the coroutine's line: \(counts)")
    #expect(counts["@lib/counted.lua"]?[1] == 1)
  }

  @Test("integers and floats keep their Lua subtype")
  func numberSubtypes() throws {
    let vm = try bridgeVM()
    let types = try run(vm, "return math.type(echo(3)), math.type(echo(3.0)), echo(2^53)")
    #expect(types == ["integer", "float", .number(9_007_199_254_740_992)])
  }

  @Test("a table mixing a list and fields keeps both")
  func mixedTable() throws {
    let vm = try bridgeVM()
    let result = try run(vm, "local t = echo({10, 20, name = 'x'}) return t[1], t[2], t.name, #t")
    #expect(result == [10, 20, "x", 2])
  }

  @Test(
    "values that cannot cross raise a clear error at the calling line",
    arguments: [
      ("echo(print)", "bad argument #1 to 'echo' (a function value, which cannot be passed to dstack)"),
      ("echo({[true] = 1})", "a table with a boolean key"),
      ("echo({[1] = 1, [3] = 3})", "holes in its list part"),
      ("local t = {} t.self = t echo(t)", "nested more than 64 deep"),
      ("echo(1, coroutine.create(print))", "bad argument #2 to 'echo' (a thread value"),
    ])
  func unconvertibleValues(source: String, expected: String) throws {
    let vm = try bridgeVM()
    let error = #expect(throws: LuaError.self) { try run(vm, source) }
    #expect(error?.message.hasPrefix("test.lua:1: ") == true, "\(error?.message ?? "")")
    #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    #expect(vm.stackDepth == 0)
  }

  @Test("a host function's error is raised at the script line and can be caught with pcall")
  func hostErrors() throws {
    let vm = try bridgeVM()
    let error = #expect(throws: LuaError.self) { try run(vm, "\n\nfail('x')") }
    #expect(error?.message == "test.lua:3: item 0 x")
    #expect(error?.traceback?.contains("stack traceback") == true)
    let caught = try run(vm, "local ok, message = pcall(fail, 'y') return ok, message")
    #expect(caught == [false, "item 0 y"])
    let misuse = try run(vm, "return select(2, pcall(function() fail(42) end))")
    #expect(misuse == ["test.lua:1: bad argument #1 to 'fail' (string expected, got number)"])
  }

  @Test("10,000 host-function errors leak no memory")
  func errorsDoNotLeak() throws {
    let vm = try bridgeVM()
    let loop = "for i = 1, ... do pcall(fail, 'a string long enough to be allocated on the heap ' .. i) end"
    _ = try run(vm, loop, [10_000])
    vm.collectGarbage()
    // Each call held 64 objects when it failed; every one of them was released.
    #expect(Tracked.live == 0, "\(Tracked.live) objects leaked")
    #expect(vm.stackDepth == 0)
  }

  @Test("host functions are released when Lua collects them")
  func functionsAreReleased() throws {
    final class Token {}
    weak var weakToken: Token?
    let vm = try LuaVM()
    do {
      let token = Token()
      weakToken = token
      vm.setGlobal(
        "f",
        .function(
          HostFunction("f") { _ in
            _ = token; return []
          }))
    }
    #expect(weakToken != nil)
    _ = try run(vm, "f = nil")
    vm.collectGarbage()
    #expect(weakToken == nil)
  }

  @Test("syntax errors name the file and line; bytecode is refused")
  func loading() throws {
    let vm = try bridgeVM()
    let syntax = #expect(throws: LuaError.self) { try run(vm, "local x = 1\nlocal = 2") }
    #expect(syntax?.message.hasPrefix("test.lua:2:") == true)
    let binary = #expect(throws: LuaError.self) {
      try vm.run(source: [0x1B, 0x4C, 0x75, 0x61], chunkName: "@x.lua")
    }
    #expect(binary?.message.contains("binary") == true)
  }
}
