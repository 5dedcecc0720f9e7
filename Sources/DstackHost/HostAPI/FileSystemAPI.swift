import DstackEngine
import DstackLua
import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `dstack.fs`: files and folders.
enum FileSystemAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
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
          "write(path, data, options) -> true | nil, message",
          "Writes the file atomically: readers see the old or the new contents, never half of it. Options: `mode`, the permissions as an octal string up to `\"777\"` (`\"755\"` for an executable file; default `\"644\"` less the umask, or the old file's)."
        ) { arguments in
          let path = try arguments.string(1)
          let data = Data(try arguments.bytes(2))
          let options = try arguments.options(3, allowed: ["mode"])
          let mode = try options.string("mode").map { text in
            guard let mode = mode_t(text, radix: 8), mode <= 0o777 else {
              throw arguments.bad(
                3,
                "option 'mode' must be octal permissions from \"000\" to \"777\" such as \"755\" (no setuid, setgid or sticky bit), got '\(text)'"
              )
            }
            return mode
          }
          do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            if let mode, chmod(path, mode) != 0 {
              return failure("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
            }
            return [.boolean(true)]
          } catch {
            return failure("cannot write \(path): \(Paths.reason(error))")
          }
        },
        .function(
          "remove(path, options) -> true | nil, message",
          "Removes a file, a link or an empty folder. Options: `recursive = true` also removes a folder with everything in it. Removing what does not exist is not an error."
        ) { arguments in
          let path = try arguments.string(1)
          let options = try arguments.options(2, allowed: ["recursive"])
          var info = stat()
          guard lstat(path, &info) == 0 else {
            return errno == ENOENT
              ? [.boolean(true)] : failure("cannot remove \(path): \(String(cString: strerror(errno)))")
          }
          let isFolder = info.st_mode & S_IFMT == S_IFDIR
          if isFolder, try options.bool("recursive") == true {
            do {
              try FileManager.default.removeItem(atPath: path)
              return [.boolean(true)]
            } catch {
              return failure("cannot remove \(path): \(Paths.reason(error))")
            }
          }
          guard (isFolder ? rmdir(path) : unlink(path)) == 0 else {
            let why =
              errno == ENOTEMPTY
              ? "the folder is not empty (pass {recursive = true})" : String(cString: strerror(errno))
            return failure("cannot remove \(path): \(why)")
          }
          return [.boolean(true)]
        },
        .function(
          "rename(from, to) -> true | nil, message",
          "Moves `from` to `to` in one step (on the same file system), replacing a file at `to`."
        ) { arguments in
          let from = try arguments.string(1)
          let to = try arguments.string(2)
          guard rename(from, to) == 0 else {
            return failure("cannot rename \(from) to \(to): \(String(cString: strerror(errno)))")
          }
          return [.boolean(true)]
        },
        .function(
          "tmpdir() -> string",
          "Creates a new empty folder (mode 700) and returns its path; it is removed, with everything in it, when the script ends."
        ) { _ in
          var template = Array((context.environment.temporaryDirectory + "/dstack-XXXXXX").utf8CString)
          let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap(mkdtemp).map { String(cString: $0) }
          }
          guard let path = made else {
            throw HostAbort("cannot create a temporary folder: \(String(cString: strerror(errno))); check TMPDIR")
          }
          context.temporaryFolders.add(path)
          return [.text(path)]
        },
        .function(
          "stat(path) -> {type, size, mode, mtime} | nil, message",
          "What is at `path` (links are followed): `type` (`file`, `dir`, `link` for a dangling link, or `other`), `size` in bytes, `mode` (permission bits as an integer; `string.format('%o', mode)` shows them in octal) and `mtime` (seconds since 1970, as `os.time`). Since level 2 also `uid` and `gid`, the ids of its owner and group."
        ) { arguments in
          let path = try arguments.string(1)
          var info = stat()
          if stat(path, &info) != 0 {
            guard errno == ENOENT, lstat(path, &info) == 0 else {
              return failure("cannot stat \(path): \(String(cString: strerror(errno)))")
            }
          }
          let type =
            switch info.st_mode & S_IFMT {
            case S_IFREG: "file"
            case S_IFDIR: "dir"
            case S_IFLNK: "link"
            default: "other"
            }
          return [
            [
              "type": .text(type), "size": .integer(Int64(info.st_size)),
              "mode": .integer(Int64(info.st_mode & 0o7777)), "mtime": .integer(Int64(info.st_mtim.tv_sec)),
              "uid": .integer(Int64(info.st_uid)), "gid": .integer(Int64(info.st_gid)),
            ]
          ]
        },
        .function(
          "digest(path) -> string | nil, message",
          "The SHA-256 digest of the file at `path`, as `sha256:HEX` (as image digests are written), to recognise its content later.",
          since: 2
        ) { arguments in
          let path = try arguments.string(1)
          guard let data = FileManager.default.contents(atPath: path) else {
            return failure(FileSystemAPI.whyUnreadable(path))
          }
          return [.text(Digest(of: Array(data)).description)]
        },
        .function(
          "lock(path, options) -> true | nil, message",
          "Takes an exclusive lock on the file or folder at `path` and holds it until `unlock(path)` or the end of the script, however it ends: two runs that lock the same path never overlap. A missing file is made, empty and readable by every user (a lock holds no data, and other users' runs can then take it too); a link is refused. True at once when this script holds it already. Nil and a message when another process holds it (or the file cannot be opened). Options: `wait`, the seconds to wait for it (at most 3600; default: do not wait); a stop signal ends the wait with an error.",
          since: 3
        ) { arguments in
          let path = try arguments.string(1)
          let options = try arguments.options(2, allowed: ["wait"])
          let wait = try options.seconds("wait", limit: 3600)
          if context.heldLocks.holds(path) { return [.boolean(true)] }
          var descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
          if descriptor < 0 && errno == ENOENT {
            descriptor = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
            if descriptor >= 0 { fchmod(descriptor, 0o644) }
          }
          guard descriptor >= 0 else { return failure("cannot lock \(path): \(String(cString: strerror(errno)))") }
          let deadline = ContinuousClock.now + (wait ?? .zero)
          while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let busy = errno == EWOULDBLOCK
            guard busy, ContinuousClock.now < deadline else {
              let reason = busy ? "another process holds it" : String(cString: strerror(errno))
              close(descriptor)
              return failure("cannot lock \(path): \(reason)")
            }
            do { try Interruption.refuseToStart(["dstack.fs.lock", path]) } catch {
              close(descriptor)
              throw error
            }
            usleep(50_000)
          }
          context.heldLocks.add(descriptor, for: path)
          return [.boolean(true)]
        },
        .function(
          "unlock(path)",
          "Releases the lock this script took on `path` with `lock` (nothing happens when it holds none), so another run can take it before this script ends.",
          since: 3
        ) { arguments in
          context.heldLocks.release(try arguments.string(1))
          return []
        },
        .function("exists(path) -> boolean", "True when something exists at `path`.") { arguments in
          [.boolean(FileManager.default.fileExists(atPath: try arguments.string(1)))]
        },
        .function("is_dir(path) -> boolean", "True when `path` is a folder (or a link to one).") { arguments in
          [.boolean(Paths.kind(of: try arguments.string(1)) == .directory)]
        },
        .function("list(path) -> list | nil, message", "The names in a folder, sorted.") { arguments in
          let path = try arguments.string(1)
          do {
            return [.list(try FileManager.default.contentsOfDirectory(atPath: path).sorted())]
          } catch {
            return failure("cannot list \(path): \(Paths.reason(error))")
          }
        },
        .function("mkdir(path) -> true | nil, message", "Creates a folder and any missing parents.") { arguments in
          let path = try arguments.string(1)
          do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return [.boolean(true)]
          } catch {
            return failure("cannot create \(path): \(Paths.reason(error))")
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
          [.text(Paths.absolute(try arguments.string(1), from: context.environment.currentDirectory))]
        },
        .function(
          "realpath(path) -> string | nil, message",
          "The absolute path of `path` with every link on the way resolved, as opening it would; nil and a message when it, or what a link points to, does not exist.",
          since: 2
        ) { arguments in
          let path = try arguments.string(1)
          let full = path.hasPrefix("/") ? path : context.environment.currentDirectory + "/" + path
          guard let resolved = realpath(full, nil) else {
            return failure("cannot resolve \(path): \(String(cString: strerror(errno)))")
          }
          defer { free(resolved) }
          return [.text(String(cString: resolved))]
        },
        .function(
          "counts(path) -> boolean, message",
          "Whether the file or folder at `path` counts as the user's own, by the rule dstack applies to every settings file (as git's `safe.directory`): it belongs to the user or root, and so does a link at `path` itself; a file is also writable by no other user (a group counts when the user is its only member). Folders named in `DSTACK_SAFE_DIRECTORIES` (the user's own setting) and what lies below them count whatever their owner. False and a one-line reason that names the fix when it does not count; false and nil when nothing is there.",
          since: 3
        ) { arguments in
          let path = Paths.absolute(try arguments.string(1), from: context.environment.currentDirectory)
          switch FileTrust(environment: context.environment).verdict(for: path) {
          case .counts: return [.boolean(true)]
          case .missing: return [.boolean(false), .nil]
          case .ignored(let reason): return [.boolean(false), .text(reason)]
          }
        },
        .function("cwd() -> string", "The current folder.") { _ in
          [.text(context.environment.currentDirectory)]
        },
        .function("home() -> string", "The user's home folder.") { _ in
          [.text(context.environment.home)]
        },
        .function("basename(path) -> string", "The last part of `path` (`/a/b/` gives `b`).") { arguments in
          let parts = try arguments.string(1).split(separator: "/")
          return [.text(parts.last.map(String.init) ?? "/")]
        },
        .function("dirname(path) -> string", "`path` without its last part (`/a/b` gives `/a`, `b` gives `.`).") {
          arguments in
          [.text(Paths.parent(try arguments.string(1)))]
        },
      ])
  }

  private static func whyUnreadable(_ path: String) -> String {
    switch Paths.kind(of: path) {
    case .missing: "cannot read \(path): no such file"
    case .directory: "cannot read \(path): it is a folder"
    case .file, .other: "cannot read \(path): permission denied"
    }
  }
}
