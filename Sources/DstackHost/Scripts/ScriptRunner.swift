import DstackEngine
import DstackLua
import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a script could not run or did not finish.
package enum ScriptError: Error, CustomStringConvertible {
  case notFound(name: String, origin: String, available: [String])
  case invalidName(String)
  /// A Lua error: the message (`build.lua:12: …`) and its traceback.
  case failed(message: String, traceback: String?)
  case badResult(name: String, typeName: String)
  case badStatus(name: String, status: Int64)
  /// A stop signal arrived while the script ran; its clean-up has run, and dstack is to
  /// end by `signal`. `message` says what was interrupted (the script's error, if any).
  case interrupted(signal: Int32, message: String, traceback: String?)

  package var description: String {
    switch self {
    case .notFound(let name, let origin, let available):
      "no script '\(name)' in \(origin); "
        + (closest(to: name, among: available).map { "did you mean '\($0)'? " } ?? "")
        + (available.isEmpty ? "it has no scripts" : "there are: \(available.joined(separator: ", "))")
    case .invalidName(let name):
      "'\(name)' is not a script name (use letters, digits, '-' and '_', without '.lua')"
    case .failed(let message, _), .interrupted(_, let message, _): message
    case .badStatus(let name, let status):
      "\(name).lua returned \(status), which is not an exit status (0 to 255); return 0 for success or 1 to 255 for failure"
    case .badResult(let name, let typeName):
      "\(name).lua returned a \(typeName); a script returns an integer exit status or nothing"
    }
  }
}

/// The name in `candidates` that `name` is most likely a typo of: at most two edits
/// away (letters added, removed or changed), or a name that starts with it.
package func closest(to name: String, among candidates: [String]) -> String? {
  let typed = Array(name.lowercased())
  func distance(_ other: String) -> Int {
    let target = Array(other.lowercased())
    var previous = Array(0...target.count)
    for (row, character) in typed.enumerated() {
      var current = [row + 1]
      for (column, other) in target.enumerated() {
        current.append(
          min(previous[column + 1] + 1, current[column] + 1, previous[column] + (character == other ? 0 : 1)))
      }
      previous = current
    }
    return previous[target.count]
  }
  let scored = candidates.map { (name: $0, distance: $0.hasPrefix(name) ? 0 : distance($0)) }
  return scored.filter { $0.distance <= 2 }.min { $0.distance < $1.distance }?.name
}

/// Runs one script in a fresh sandboxed Lua state with the `dstack` API installed.
///
/// The contract: the chunk receives the arguments as `...` (and in `dstack.args`);
/// a returned integer is the exit status, nil means 0; a raised error is reported as
/// `NAME.lua:LINE: message` and gives exit status 1. A stop signal (Ctrl-C, SIGTERM)
/// reaches the running step, which raises an error; the script's clean-up runs, then
/// the run ends as `ScriptError.interrupted`.
package struct ScriptRunner {
  package let source: any ScriptSource
  package let services: HostServices

  package init(source: any ScriptSource, services: HostServices) {
    self.source = source
    self.services = services
  }

  /// Runs script `name` with `arguments` and returns its exit status.
  package func run(_ name: String, arguments: [String]) throws(ScriptError) -> Int32 {
    let allowed = { (c: Unicode.Scalar) in
      ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "-"
    }
    guard let first = name.unicodeScalars.first, first != "-", name.unicodeScalars.allSatisfy(allowed) else {
      throw .invalidName(name)
    }
    guard let chunk = source.file("\(name).lua") else {
      throw .notFound(name: name, origin: source.origin, available: source.scriptNames)
    }
    let (outcome, signal) = StopSignals.recording { () -> Result<Int32, ScriptError> in
      do throws(ScriptError) {
        return .success(try run(chunk, name: name, arguments: arguments))
      } catch {
        return .failure(error)
      }
    }
    if let signal {
      switch outcome {
      case .failure(.failed(let message, let traceback)):
        throw .interrupted(signal: signal, message: message, traceback: traceback)
      default:
        throw .interrupted(
          signal: signal, message: "\(name).lua was interrupted by \(StopSignals.name(of: signal))", traceback: nil)
      }
    }
    return try outcome.get()
  }

  /// Runs the script's chunk and removes its temporary folders.
  private func run(_ chunk: [UInt8], name: String, arguments: [String]) throws(ScriptError) -> Int32 {
    let context = HostContext(
      scriptName: name, scripts: source, arguments: arguments, services: services)
    defer {
      context.temporaryFolders.removeAll()
      context.heldLocks.releaseAll()
    }
    do {
      let vm = try LuaVM()
      vm.setGlobal("dstack", HostAPI.export(for: context))
      try Sandbox.apply(to: vm, moduleSource: moduleSource())
      // Line coverage, for the Lua tests: written however the script ends.
      let coverage = services.environment.lineCoverageFile
      if coverage != nil { vm.countLines() }
      defer { if let coverage { Self.append(vm.lineCounts(), to: coverage) } }
      let results = try vm.run(
        source: chunk, chunkName: "@\(name).lua", arguments: arguments.map { .value(.text($0)) })
      switch results.first ?? .nil {
      case .nil: return 0
      case .integer(let status):
        guard (0...255).contains(status) else { throw ScriptError.badStatus(name: name, status: status) }
        return Int32(status)
      case let other: throw ScriptError.badResult(name: name, typeName: other.typeName)
      }
    } catch let error as LuaError {
      throw .failed(message: error.message, traceback: error.traceback)
    } catch let error as ScriptError {
      throw error
    } catch {
      throw .failed(message: "\(error)", traceback: nil)
    }
  }

  /// Appends `counts` to the coverage file `path` in one write (`O_APPEND`), so the test
  /// files that run at once each add whole lines: `CHUNK<TAB>LINE<TAB>COUNT`.
  private static func append(_ counts: [String: [Int: Int]], to path: String) {
    var text = ""
    for (chunk, lines) in counts.sorted(by: { $0.key < $1.key }) {
      for (line, count) in lines.sorted(by: { $0.key < $1.key }) { text += "\(chunk)\t\(line)\t\(count)\n" }
    }
    let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    _ = Array(text.utf8).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
  }

  /// The host side of `require`: `lib/a/b.lua` for module `a.b`.
  private func moduleSource() -> HostFunction {
    HostFunction("require") { [source] arguments in
      let path = "lib/" + (try arguments.string(1)).replacing(".", with: "/") + ".lua"
      guard let bytes = source.file(path) else {
        return failure("no module '\(try arguments.string(1))' (\(path)) in \(source.origin)")
      }
      return [.string(bytes), .text("@\(path)")]
    }
  }
}
