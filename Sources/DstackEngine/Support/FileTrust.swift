import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whose files count, as git's `safe.directory` decides: dstack takes settings (a
/// `.dstack-mini` pin file, a project's `docker/Dockerfile` or `pyproject.toml`) only from
/// files that the user or root owns and that no other user can write, and a walk up for
/// them stops at the first folder that belongs to neither. So a user who can write a shared
/// folder above someone's work cannot choose what runs there.
///
/// A file writable by its group counts when the group is the user's own private group
/// (`useradd` makes one with the user's id, and umask 002 makes files group-writable).
/// The scripts of the mini apply the same rule to the files they read (`lib/trust.lua`).
public struct FileTrust: Sendable {
  public let uid: uid_t
  public let gid: gid_t

  public init(uid: uid_t, gid: gid_t) {
    self.uid = uid
    self.gid = gid
  }

  /// The user running dstack.
  public static var currentUser: FileTrust { FileTrust(uid: getuid(), gid: getgid()) }

  /// True when the folder at `path` (links followed) belongs to the user or root: a walk
  /// up for settings goes no further than the last such folder.
  public func counts(folder path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_uid == uid || info.st_uid == 0)
  }

  /// What reading a settings file found.
  public enum Read: Sendable {
    case missing
    /// The file exists but does not count; the warning says why, naming it.
    case ignored(warning: String)
    case contents([UInt8])
  }

  /// Reads the settings file at `path`, checking the file that was opened (so it cannot be
  /// swapped between the check and the read).
  public func contents(of path: String) -> Read {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { return .missing }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return .missing }
    if let problem = problem(owner: info.st_uid, group: info.st_gid, mode: info.st_mode) {
      return .ignored(warning: "ignoring \(path): \(problem)")
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      guard count > 0 else { break }
      bytes += buffer[0..<count]
    }
    return .contents(bytes)
  }

  /// Why a file with this owner, group and mode does not count, or nil when it does.
  public func problem(owner: uid_t, group: gid_t, mode: mode_t) -> String? {
    if owner != uid && owner != 0 {
      return "it belongs to \(Self.userName(owner)), and dstack takes settings only from your own files and root's"
    }
    let groupMayWrite = mode & S_IWGRP != 0 && !(group == gid && gid == uid)
    if mode & S_IWOTH != 0 || groupMayWrite {
      return "other users can write it (mode \(String(mode & 0o777, radix: 8))); "
        + "remove their write permission (chmod go-w) to use it"
    }
    return nil
  }

  /// `user NAME (uid N)`, or `uid N` when the password database does not know it.
  private static func userName(_ uid: uid_t) -> String {
    guard let name = getpwuid(uid).flatMap({ $0.pointee.pw_name.map { String(cString: $0) } }) else {
      return "uid \(uid)"
    }
    return "user \(name) (uid \(uid))"
  }
}
