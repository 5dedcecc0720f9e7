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
/// - A link counts only when the link itself belongs to the user or root, and so does what
///   it leads to: another user's link in a shared folder chooses nothing.
/// - A file writable by its group counts when the user is that group's only member (the
///   private group `useradd` makes, with umask 002), as the group database says; a folder
///   where other users can add or replace files counts neither, unless it is sticky (/tmp).
/// - Folders the user names in `DSTACK_SAFE_DIRECTORIES` (absolute paths, `:` between them),
///   and what lies below them, count whatever their owner, as git's `safe.directory` does
///   (a project unpacked as root from another user's tarball); a project file can never
///   name one.
///
/// This is the one implementation of the rule: the mini's scripts ask it through
/// `dstack.fs.counts` (`lib/trust.lua`).
package struct FileTrust: Sendable {
  package let uid: uid_t
  package let gid: gid_t
  /// Absolute folders whose contents count whatever their owner.
  package let safeFolders: [String]

  package init(uid: uid_t, gid: gid_t, safeFolders: [String] = []) {
    self.uid = uid
    self.gid = gid
    self.safeFolders = safeFolders.filter { $0.hasPrefix("/") }.map { Paths.absolute($0, from: "/") }
  }

  /// The user running dstack, with the safe folders of `DSTACK_SAFE_DIRECTORIES`.
  package init(environment: HostEnvironment) {
    self.init(
      uid: getuid(), gid: getgid(),
      safeFolders: (environment.variables["DSTACK_SAFE_DIRECTORIES"] ?? "").split(separator: ":").map(String.init))
  }

  /// The user running dstack, naming no safe folder.
  package static var currentUser: FileTrust { FileTrust(uid: getuid(), gid: getgid()) }

  /// True when the folder at `path` (links followed) counts: it belongs to the user or root
  /// (or is a safe folder), and no other user can add or replace files in it (a sticky
  /// folder such as /tmp keeps others from replacing files they do not own). A walk up for
  /// settings goes no further than the last such folder.
  package func counts(folder path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && folderProblem(path: path, info: info) == nil
  }

  /// Why the folder described by `info` does not count, or nil when it does.
  private func folderProblem(path: String, info: stat) -> String? {
    if !ours(info.st_uid) && !isSafe(path) {
      return "it belongs to \(Self.userName(info.st_uid)); \(fix(folder: path))"
    }
    if info.st_mode & S_ISVTX == 0 && othersMayWrite(info) {
      return "other users can add or replace files in it (mode \(String(info.st_mode & 0o7777, radix: 8))); "
        + "remove their write permission (chmod go-w), or make it sticky (chmod +t)"
    }
    return nil
  }

  /// True when a user other than this one (and root) may write what `info` describes.
  private func othersMayWrite(_ info: stat) -> Bool {
    info.st_mode & S_IWOTH != 0 || (info.st_mode & S_IWGRP != 0 && !isPrivateGroup(info.st_gid))
  }

  /// What reading a settings file found.
  package enum Read: Sendable {
    case missing
    /// The file exists but does not count; the warning says why, naming it.
    case ignored(warning: String)
    case contents([UInt8])
  }

  /// Reads the settings file at `path`, checking the file that was opened (so it cannot be
  /// swapped between the check and the read), and the link at `path` when it is one.
  package func contents(of path: String) -> Read {
    var link = stat()
    guard lstat(path, &link) == 0 else { return .missing }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { return .missing }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return .missing }
    if let problem = problem(path: path, link: link, target: info) {
      return .ignored(warning: "ignoring \(path): \(problem)")
    }
    guard let bytes = Paths.readToEnd(descriptor) else { return .missing }
    return .contents(bytes)
  }

  /// Whether what is at `path` counts: a file by the whole rule, a folder by its owner;
  /// `.missing` when nothing (or a dangling link) is there.
  package enum Verdict: Sendable, Equatable {
    case counts
    case missing
    /// It does not count; the reason names the fix.
    case ignored(reason: String)
  }

  /// The rule for what is at `path`, as `dstack.fs.counts` answers it.
  package func verdict(for path: String) -> Verdict {
    var link = stat()
    var info = stat()
    guard lstat(path, &link) == 0, stat(path, &info) == 0 else { return .missing }
    if info.st_mode & S_IFMT == S_IFDIR {
      if link.st_mode & S_IFMT == S_IFLNK, !ours(link.st_uid), !isSafe(path) {
        return .ignored(reason: "it is a link that belongs to \(Self.userName(link.st_uid)); \(fix(folder: path))")
      }
      return folderProblem(path: path, info: info).map { .ignored(reason: $0) } ?? .counts
    }
    return problem(path: path, link: link, target: info).map { .ignored(reason: $0) } ?? .counts
  }

  /// Why a file does not count (`link` is `lstat` of `path`, `target` what it leads to), or
  /// nil when it does.
  private func problem(path: String, link: stat, target: stat) -> String? {
    let safe = isSafe(path)
    if link.st_mode & S_IFMT == S_IFLNK, !ours(link.st_uid), !safe {
      return "it is a link that belongs to \(Self.userName(link.st_uid)), and dstack takes settings only from "
        + "your own files and root's; \(fix(folder: Paths.parent(path)))"
    }
    if !ours(target.st_uid), !safe {
      return "it belongs to \(Self.userName(target.st_uid)), and dstack takes settings only from your own files "
        + "and root's; \(fix(folder: Paths.parent(path)))"
    }
    if othersMayWrite(target) {
      return "other users can write it (mode \(String(target.st_mode & 0o777, radix: 8))); "
        + "remove their write permission (chmod go-w) to use it"
    }
    return nil
  }

  /// The ways out for what lies in `folder` and belongs to someone else.
  private func fix(folder: String) -> String {
    return "if you trust it, make it yours (chown -R $USER \(folder)) or add \(folder) to DSTACK_SAFE_DIRECTORIES"
  }

  private func ours(_ owner: uid_t) -> Bool { owner == uid || owner == 0 }

  private func isSafe(_ path: String) -> Bool {
    let absolute = Paths.absolute(path, from: "/")
    return safeFolders.contains { absolute == $0 || absolute.hasPrefix($0 == "/" ? "/" : $0 + "/") }
  }

  /// True when the user is the only member of group `group`: no other user lists it as
  /// their primary group, and its member list names no one else.
  private func isPrivateGroup(_ group: gid_t) -> Bool {
    guard let name = getpwuid(uid).flatMap({ $0.pointee.pw_name.map { String(cString: $0) } }),
      let entry = getgrgid(group)
    else { return false }
    var member = entry.pointee.gr_mem
    while let current = member?.pointee {
      if String(cString: current) != name { return false }
      member = member?.advanced(by: 1)
    }
    setpwent()
    defer { endpwent() }
    while let user = getpwent() {
      if user.pointee.pw_gid == group && user.pointee.pw_uid != uid { return false }
    }
    return true
  }

  /// `user NAME (uid N)`, or `uid N` when the password database does not know it.
  private static func userName(_ uid: uid_t) -> String {
    guard let name = getpwuid(uid).flatMap({ $0.pointee.pw_name.map { String(cString: $0) } }) else {
      return "uid \(uid)"
    }
    return "user \(name) (uid \(uid))"
  }
}
