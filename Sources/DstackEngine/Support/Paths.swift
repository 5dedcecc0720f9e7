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

  /// The regular files under `directory` (a link to a file counts; a link to a folder is
  /// not walked into), as sorted paths relative to it. Read with readdir, which says most
  /// entries' kinds without a stat: every run walks its mini's scripts.
  package static func regularFiles(under directory: String) -> [String] {
    var found: [String] = []
    func walk(_ relative: String) {
      guard let folder = opendir(relative.isEmpty ? directory : directory + "/" + relative) else { return }
      defer { closedir(folder) }
      while let entry = readdir(folder) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        let path = relative.isEmpty ? name : relative + "/" + name
        switch Int32(entry.pointee.d_type) {
        case Int32(DT_REG): found.append(path)
        case Int32(DT_DIR): walk(path)
        case Int32(DT_LNK): if kind(of: directory + "/" + path) == .file { found.append(path) }
        case Int32(DT_UNKNOWN):
          switch kind(of: directory + "/" + path) {
          case .file: found.append(path)
          case .directory: if lstatIsDirectory(directory + "/" + path) { walk(path) }
          default: break
          }
        default: break
        }
      }
    }
    walk("")
    return found.sorted()
  }

  private static func lstatIsDirectory(_ path: String) -> Bool {
    var info = stat()
    return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
  }

  /// The bytes of the file at `path`, or nil when it cannot be read: one open and a read
  /// into a buffer of its size (Foundation's Data would copy them once more).
  package static func contents(of path: String) -> [UInt8]? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0 else { return nil }
    return readToEnd(descriptor, chunkSize: max(Int(info.st_size) + 1, 4096))
  }

  /// The bytes from `descriptor` to the end of its file, read `chunkSize` at a time; nil
  /// when a read fails.
  package static func readToEnd(_ descriptor: Int32, chunkSize: Int = 65536) -> [UInt8]? {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        return nil
      }
      if count == 0 { return bytes }
      bytes.append(contentsOf: chunk[..<count])
    }
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
