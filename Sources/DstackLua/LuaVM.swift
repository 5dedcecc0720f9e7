import CLua
import CLuaShims

/// An error from Lua code: a syntax error, a runtime error or a raised value.
package struct LuaError: Error, CustomStringConvertible {
  /// The error message, with its `chunk:line:` position when Lua gave one.
  package let message: String
  /// The stack traceback at the point of the error, when there is one.
  package let traceback: String?
  package var description: String { message }
}

/// One Lua 5.4 interpreter. Every call into Lua is protected (`lua_pcall` with a
/// traceback handler), and host functions raise errors only from C, so no Lua error
/// ever unwinds through a Swift frame. Not thread-safe: use it from one thread.
package final class LuaVM {
  private let state: OpaquePointer

  /// Creates an interpreter with the base, package, string, table, math, utf8,
  /// coroutine and os libraries open (see `Sandbox` for what scripts then get).
  package init() throws(LuaError) {
    guard let state = clua_new_state() else {
      throw LuaError(message: "cannot create a Lua interpreter: out of memory", traceback: nil)
    }
    self.state = state
    guard clua_open_libraries(state) == LUA_OK else {
      let message = LuaStack(state).string(at: -1) ?? "unknown error"
      throw LuaError(message: "cannot open the Lua libraries: \(message)", traceback: nil)
    }
  }

  deinit { clua_close(state) }

  /// How many values are on the Lua stack (0 between calls; tests check the balance).
  package var stackDepth: Int { Int(lua_gettop(state)) }

  /// Sets a global without invoking metamethods.
  package func setGlobal(_ name: String, _ export: HostExport) {
    lua_rawgeti(state, clua_registry_index(), lua_Integer(LUA_RIDX_GLOBALS))
    LuaStack(state).push(.text(name))
    push(export)
    lua_rawset(state, -3)
    clua_pop(state, 1)
  }

  /// Loads `source` as a text chunk named `chunkName` (`@build.lua` shows as `build.lua`)
  /// and calls it with `arguments`, returning its results.
  package func run(source: [UInt8], chunkName: String, arguments: [HostExport] = [])
    throws(LuaError) -> [LuaValue]
  {
    let base = lua_gettop(state)
    defer { lua_settop(state, base) }
    let loaded = source.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) {
        clua_load_text(state, $0.baseAddress, $0.count, chunkName)
      }
    }
    guard loaded == LUA_OK else {
      throw LuaError(message: LuaStack(state).string(at: -1) ?? "cannot load \(chunkName)", traceback: nil)
    }
    for argument in arguments { push(argument) }
    guard clua_pcall_traceback(state, Int32(arguments.count), LUA_MULTRET) == LUA_OK else {
      let stack = LuaStack(state)
      throw LuaError(
        message: stack.string(at: -2) ?? "(error object is not a string)",
        traceback: stack.string(at: -1))
    }
    var results: [LuaValue] = []
    for index in (base + 1)..<(lua_gettop(state) + 1) {
      switch LuaStack(state).value(at: index) {
      case .success(let value): results.append(value)
      case .failure(let problem):
        throw LuaError(message: "\(chunkName.dropFirst()) returned \(problem)", traceback: nil)
      }
    }
    return results
  }

  /// Counts, from now on, every line that runs in a chunk loaded from a file (a chunk name
  /// that starts with `@`), for `lineCounts`: line coverage, at some cost in speed.
  package func countLines() { clua_count_lines(state) }

  /// How often each line ran since `countLines`: `[chunk name: [line: count]]`.
  package func lineCounts() -> [String: [Int: Int]] {
    clua_push_line_counts(state)
    defer { clua_pop(state, 1) }
    guard lua_type(state, -1) == LUA_TTABLE else { return [:] }
    let stack = LuaStack(state)
    var counts: [String: [Int: Int]] = [:]
    lua_pushnil(state)
    while lua_next(state, -2) != 0 {
      // Stack: counts, chunk name (-2), its lines (-1).
      let chunk = stack.string(at: -2) ?? ""
      lua_pushnil(state)
      while lua_next(state, -2) != 0 {
        counts[chunk, default: [:]][Int(lua_tointegerx(state, -2, nil))] = Int(lua_tointegerx(state, -1, nil))
        clua_pop(state, 1)
      }
      clua_pop(state, 1)
    }
    return counts
  }

  /// Collects garbage now (host functions whose Lua values died are released).
  package func collectGarbage() {
    clua_collect_garbage(state)
  }

  private func push(_ export: HostExport) {
    switch export {
    case .value(let value):
      LuaStack(state).push(value)
    case .function(let function):
      let box = Unmanaged.passRetained(HostFunctionBox(function)).toOpaque()
      clua_push_host_function(state, dispatchHostFunction, box, releaseHostFunction)
    case .namespace(let name, let members):
      lua_createtable(state, 0, Int32(members.count))
      for (name, member) in members {
        LuaStack(state).push(.text(name))
        push(member)
        lua_rawset(state, -3)
      }
      clua_lock_table(state, name)
    }
  }
}

/// Holds a host function for the lifetime of its Lua closure (released by `__gc`).
private final class HostFunctionBox {
  let function: HostFunction
  init(_ function: HostFunction) { self.function = function }

  /// Runs the function for one Lua call; returns the result count or a CSHIMS_RAISE code.
  func call(_ state: OpaquePointer) -> Int32 {
    let stack = LuaStack(state)
    var values: [LuaValue] = []
    for index in 1..<(lua_gettop(state) + 1) {
      switch stack.value(at: index) {
      case .success(let value): values.append(value)
      case .failure(let problem):
        stack.push(.text("bad argument #\(index) to '\(function.name)' (\(problem))"))
        return CSHIMS_RAISE
      }
    }
    do {
      let results = try function.body(HostFunction.Arguments(function: function.name, values: values))
      guard lua_checkstack(state, Int32(results.count) + LuaStack.headroom) != 0 else {
        stack.push(.text("\(function.name): too many results"))
        return CSHIMS_RAISE
      }
      for result in results { stack.push(result) }
      return Int32(results.count)
    } catch let abort as HostAbort {
      stack.push(.text(abort.description))
      return CSHIMS_RAISE_VALUE
    } catch let misuse as LuaArgumentError {
      stack.push(.text(misuse.description))
      return CSHIMS_RAISE
    } catch {
      stack.push(.text("\(function.name): \(error)"))
      return CSHIMS_RAISE
    }
  }
}

private let dispatchHostFunction: clua_host_dispatch = { state, box in
  guard let state, let box else { return 0 }
  return Unmanaged<HostFunctionBox>.fromOpaque(box).takeUnretainedValue().call(state)
}

private let releaseHostFunction: @convention(c) (UnsafeMutableRawPointer?) -> Void = { box in
  if let box { Unmanaged<HostFunctionBox>.fromOpaque(box).release() }
}

/// Moves values between Swift and the Lua stack using only functions that cannot
/// raise a Lua error (raw table access; memory errors abort, see `clua_new_state`).
struct LuaStack {
  let state: OpaquePointer
  init(_ state: OpaquePointer) { self.state = state }

  /// Stack slots kept free beyond what a push needs.
  static let headroom: Int32 = 8
  /// How deeply tables may nest when crossing the bridge (cycles stop here too).
  static let maximumDepth = 64

  /// The string at `index` if it is a string (numbers are not converted).
  func string(at index: Int32) -> String? {
    guard lua_type(state, index) == LUA_TSTRING else { return nil }
    var length = 0
    guard let pointer = lua_tolstring(state, index, &length) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
  }

  func push(_ value: LuaValue) {
    guard lua_checkstack(state, Self.headroom) != 0 else { fatalError("Lua stack overflow") }
    switch value {
    case .nil: lua_pushnil(state)
    case .boolean(let flag): lua_pushboolean(state, flag ? 1 : 0)
    case .integer(let number): lua_pushinteger(state, lua_Integer(number))
    case .number(let number): lua_pushnumber(state, number)
    case .string(let bytes):
      bytes.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(state, $0.baseAddress, $0.count) }
      }
    case .table(let table):
      lua_createtable(state, Int32(clamping: table.array.count), Int32(clamping: table.fields.count))
      for (offset, item) in table.array.enumerated() {
        push(item)
        lua_rawseti(state, -2, lua_Integer(offset + 1))
      }
      for (key, item) in table.fields {
        push(.text(key))
        push(item)
        lua_rawset(state, -3)
      }
    }
  }

  /// Reads the value at `index`, or describes why it cannot cross the bridge.
  func value(at index: Int32, depth: Int = 0) -> Result<LuaValue, ConversionProblem> {
    switch lua_type(state, index) {
    case LUA_TNIL, LUA_TNONE: return .success(.nil)
    case LUA_TBOOLEAN: return .success(.boolean(lua_toboolean(state, index) != 0))
    case LUA_TNUMBER:
      if clua_is_integer(state, index) != 0 { return .success(.integer(Int64(lua_tointegerx(state, index, nil)))) }
      return .success(.number(lua_tonumberx(state, index, nil)))
    case LUA_TSTRING:
      var length = 0
      guard let pointer = lua_tolstring(state, index, &length) else { return .success(.string([])) }
      return .success(.string(Array(UnsafeRawBufferPointer(start: pointer, count: length))))
    case LUA_TTABLE: return table(at: lua_absindex(state, index), depth: depth)
    default:
      let type = String(cString: lua_typename(state, lua_type(state, index)))
      return .failure(ConversionProblem("a \(type) value, which cannot be passed to dstack"))
    }
  }

  private func table(at index: Int32, depth: Int) -> Result<LuaValue, ConversionProblem> {
    guard depth < Self.maximumDepth, lua_checkstack(state, Self.headroom) != 0 else {
      return .failure(ConversionProblem("tables nested more than \(Self.maximumDepth) deep (a cycle?)"))
    }
    var sequence: [Int64: LuaValue] = [:]
    var fields: [String: LuaValue] = [:]
    lua_pushnil(state)
    while lua_next(state, index) != 0 {
      // Stack: key (-2), value (-1). Pop the value; keep the key for lua_next.
      let item: LuaValue
      switch value(at: -1, depth: depth + 1) {
      case .success(let converted): item = converted
      case .failure(let problem):
        clua_pop(state, 2)
        return .failure(problem)
      }
      switch lua_type(state, -2) {
      case LUA_TSTRING: fields[string(at: -2) ?? ""] = item
      case LUA_TNUMBER where clua_is_integer(state, -2) != 0:
        sequence[Int64(lua_tointegerx(state, -2, nil))] = item
      default:
        let type = String(cString: lua_typename(state, lua_type(state, -2)))
        clua_pop(state, 2)
        return .failure(ConversionProblem("a table with a \(type) key (keys must be strings or 1...n)"))
      }
      clua_pop(state, 1)
    }
    guard sequence.keys.allSatisfy({ $0 >= 1 && $0 <= sequence.count }) else {
      return .failure(ConversionProblem("a table with holes in its list part (keys must be 1...n)"))
    }
    let array = (0..<sequence.count).map { sequence[Int64($0 + 1)] ?? .nil }
    return .success(.table(LuaTable(array: array, fields: fields)))
  }
}

/// Why a Lua value cannot be converted, phrased to follow "got ...".
struct ConversionProblem: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
