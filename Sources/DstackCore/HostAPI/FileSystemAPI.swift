import Foundation

/// `dstack.fs`: files and folders.
enum FileSystemAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "fs",
      summary: "Files and folders. Relative paths are relative to the current folder.",
      members: [
        .function("read(path) -> string | nil, message", "The whole file as a (byte) string.") { arguments in
          let path = try arguments.string(1)
          guard let data = FileManager.default.contents(atPath: path) else {
            return failure(FileSystemAPI.whyUnreadable(path))
          }
          return [.string(Array(data))]
        },
        .function(
          "write(path, data) -> true | nil, message",
          "Writes the file atomically: readers see the old or the new contents, never half of it."
        ) { arguments in
          let path = try arguments.string(1)
          let data = Data(try arguments.bytes(2))
          do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            return [.boolean(true)]
          } catch {
            return failure("cannot write \(path): \(FileSystemAPI.reason(error))")
          }
        },
        .function("exists(path) -> boolean", "True when something exists at `path`.") { arguments in
          [.boolean(FileManager.default.fileExists(atPath: try arguments.string(1)))]
        },
        .function("is_dir(path) -> boolean", "True when `path` is a folder (or a link to one).") { arguments in
          var isDirectory: ObjCBool = false
          let exists = FileManager.default.fileExists(atPath: try arguments.string(1), isDirectory: &isDirectory)
          return [.boolean(exists && isDirectory.boolValue)]
        },
        .function("list(path) -> list | nil, message", "The names in a folder, sorted.") { arguments in
          let path = try arguments.string(1)
          do {
            return [.list(try FileManager.default.contentsOfDirectory(atPath: path).sorted())]
          } catch {
            return failure("cannot list \(path): \(FileSystemAPI.reason(error))")
          }
        },
        .function("mkdir(path) -> true | nil, message", "Creates a folder and any missing parents.") { arguments in
          let path = try arguments.string(1)
          do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return [.boolean(true)]
          } catch {
            return failure("cannot create \(path): \(FileSystemAPI.reason(error))")
          }
        },
        .function("join(part, ...) -> string", "Joins path parts with `/`; an absolute part restarts the path.") {
          arguments in
          var path = ""
          for position in 1...max(1, arguments.values.count) {
            let part = try arguments.string(position)
            if part.hasPrefix("/") || path.isEmpty {
              path = part
            } else if !part.isEmpty {
              path += (path.hasSuffix("/") ? "" : "/") + part
            }
          }
          return [.text(path)]
        },
        .function("abspath(path) -> string", "The absolute, normalised form of `path` (links are not resolved).") {
          arguments in
          [.text(FileSystemAPI.absolute(try arguments.string(1)))]
        },
        .function("cwd() -> string", "The current folder.") { _ in
          [.text(FileManager.default.currentDirectoryPath)]
        },
        .function("home() -> string", "The user's home folder.") { _ in
          [.text(ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory())]
        },
        .function("basename(path) -> string", "The last part of `path` (`/a/b/` gives `b`).") { arguments in
          let parts = try arguments.string(1).split(separator: "/")
          return [.text(parts.last.map(String.init) ?? "/")]
        },
        .function("dirname(path) -> string", "`path` without its last part (`/a/b` gives `/a`, `b` gives `.`).") {
          arguments in
          let path = try arguments.string(1)
          var parts = path.split(separator: "/")
          guard !parts.isEmpty else { return [.text(path.hasPrefix("/") ? "/" : ".")] }
          parts.removeLast()
          let parent = parts.joined(separator: "/")
          return [.text(path.hasPrefix("/") ? "/" + parent : (parent.isEmpty ? "." : parent))]
        },
      ])
  }

  /// `path` made absolute against the current folder, with `.` and `..` resolved.
  static func absolute(_ path: String) -> String {
    let full = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var parts: [Substring] = []
    for part in full.split(separator: "/") {
      switch part {
      case ".": continue
      case "..": _ = parts.popLast()
      default: parts.append(part)
      }
    }
    return "/" + parts.joined(separator: "/")
  }

  private static func whyUnreadable(_ path: String) -> String {
    var isDirectory: ObjCBool = false
    if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      return "cannot read \(path): no such file"
    }
    return isDirectory.boolValue ? "cannot read \(path): it is a folder" : "cannot read \(path): permission denied"
  }

  /// The most specific reason Foundation gives for a file error.
  static func reason(_ error: Error) -> String {
    let error = error as NSError
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
      let message = strerror(Int32(underlying.code))
    {
      return String(cString: message).lowercased()
    }
    return error.localizedDescription
  }
}
