import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Path arithmetic and folder walks that do not touch the current folder of the process.
package enum Paths {
  /// `path` made absolute against `base`, with `.` and `..` resolved (links are not).
  package static func absolute(_ path: String, from base: String) -> String {
    let full = path.hasPrefix("/") ? path : base + "/" + path
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

  /// `path` without its last part (`/a/b` gives `/a`, `b` gives `.`, `/` stays `/`).
  package static func parent(_ path: String) -> String {
    var parts = path.split(separator: "/")
    guard !parts.isEmpty else { return path.hasPrefix("/") ? "/" : "." }
    parts.removeLast()
    let parent = parts.joined(separator: "/")
    return path.hasPrefix("/") ? "/" + parent : (parent.isEmpty ? "." : parent)
  }

  /// The regular files under `directory` (links followed), as sorted paths relative to it.
  package static func regularFiles(under directory: String) -> [String] {
    let paths = (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []
    return paths.filter { kind(of: directory + "/" + $0) == .file }.sorted()
  }

  /// The system's words for a file error ("no space left on device", "read-only file
  /// system", …), not a dump of the error value.
  package static func reason(_ error: Error) -> String {
    if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
      return String(cString: strerror(underlying.code.rawValue)).lowercased()
    }
    return String(describing: error)
  }

  /// What is at a path, following links.
  package enum Kind: Sendable {
    case missing, file, directory, other
  }

  /// What is at `path` (links followed).
  package static func kind(of path: String) -> Kind {
    var info = stat()
    guard stat(path, &info) == 0 else { return .missing }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return .file
    case S_IFDIR: return .directory
    default: return .other
    }
  }
}

extension StringProtocol {
  /// The text without white space (spaces, tabs, line breaks) at either end.
  package var trimmed: String {
    guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace })
    else { return "" }
    return String(self[first...last])
  }
}
