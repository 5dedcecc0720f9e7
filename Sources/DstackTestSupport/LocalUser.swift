import DstackEngine
import Foundation

/// A real local user made for a test with `useradd` (with its own group, and a home when
/// asked, which `useradd` also gives a subordinate uid range), for tests of whose files
/// count and of rootless engines; removed, home included, by `remove()` or when released.
/// Making users takes root: `isPossible` says whether this test process can.
package final class LocalUser {
  package let name: String
  package let uid: uid_t
  package let gid: gid_t
  /// The user's home (`/home/NAME`) when it was made with one.
  package let home: String?
  private var isRemoved = false

  /// True when the test runs as root and `useradd` exists.
  package static var isPossible: Bool { getuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/useradd") }

  /// Makes a user named `dstack-t-<random>`, in the supplementary `groups` (such as
  /// `docker`), with a home of its own when `home` says so.
  package init(groups: [String] = [], home: Bool = false) throws {
    name = "dstack-t-" + UUID().uuidString.prefix(8).lowercased()
    self.home = home ? "/home/\(name)" : nil
    var arguments = [
      "useradd", home ? "--create-home" : "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin",
    ]
    if !groups.isEmpty { arguments += ["--groups", groups.joined(separator: ",")] }
    // Other processes may hold the password file's lock for a moment.
    var result = try ProcessRunner.current.run(arguments + [name])
    for _ in 0..<20 where !result.succeeded {
      usleep(100_000)
      result = try ProcessRunner.current.run(arguments + [name])
    }
    guard result.succeeded, let entry = getpwnam(name) else {
      throw LocalUserError(message: "useradd \(name) failed: \(result.errorOutput)")
    }
    uid = entry.pointee.pw_uid
    gid = entry.pointee.pw_gid
  }

  /// Gives `path` (not following a link) to this user and its group.
  package func own(_ path: String) {
    lchown(path, uid, gid)
  }

  /// Removes the user and its group.
  package func remove() {
    guard !isRemoved else { return }
    isRemoved = true
    for _ in 0..<20 {
      guard let result = try? ProcessRunner.current.run(["userdel"] + (home != nil ? ["--remove"] : []) + [name]),
        !result.succeeded, getpwnam(name) != nil
      else { return }
      usleep(100_000)
    }
  }

  deinit { remove() }
}

/// A test user could not be made.
package struct LocalUserError: Error, CustomStringConvertible {
  package let message: String
  package var description: String { message }
}
