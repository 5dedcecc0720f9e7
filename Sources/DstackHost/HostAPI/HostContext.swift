import DstackEngine
import FoundationEssentials
import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What one script run shares with the host functions.
package struct HostContext {
  /// The running script's name (without `.lua`).
  package let scriptName: String
  /// The scripts the running one came from (a mini's, the built-in ones, a folder).
  package let scripts: any ScriptSource
  /// The script's arguments.
  package let arguments: [String]
  package let services: HostServices

  /// Folders made by `dstack.fs.tmpdir()`, removed when the script ends.
  let temporaryFolders = TemporaryFolders()
  /// Locks taken with `dstack.fs.lock`, released when the script ends.
  let heldLocks = HeldLocks()

  package init(scriptName: String, scripts: any ScriptSource, arguments: [String], services: HostServices) {
    self.scriptName = scriptName
    self.scripts = scripts
    self.arguments = arguments
    self.services = services
  }

  /// Where the script came from, for messages.
  var scriptOrigin: String { scripts.origin }
  var runner: ProcessRunner { services.runner }
  var docker: Docker { services.docker }
  var logger: Logger { services.logger }
  var dryRun: DryRunSwitch { services.dryRun }
  var environment: HostEnvironment { services.environment }
}

/// Temporary folders a script made; `removeAll` deletes them (the script runner calls
/// it when the script ends, however it ends).
final class TemporaryFolders {
  private(set) var paths: [String] = []

  func add(_ path: String) { paths.append(path) }

  func removeAll() {
    for path in paths { try? FileManager.default.removeItem(atPath: path) }
    paths.removeAll()
  }
}

/// Open descriptors of the paths a script locked; closing one releases its lock (the script
/// runner calls `releaseAll` when the script ends; so does the process's end).
final class HeldLocks {
  private var descriptors: [String: Int32] = [:]

  func holds(_ path: String) -> Bool { descriptors[path] != nil }

  func add(_ descriptor: Int32, for path: String) { descriptors[path] = descriptor }

  func release(_ path: String) {
    if let descriptor = descriptors.removeValue(forKey: path) { close(descriptor) }
  }

  func releaseAll() {
    for descriptor in descriptors.values { close(descriptor) }
    descriptors.removeAll()
  }
}
