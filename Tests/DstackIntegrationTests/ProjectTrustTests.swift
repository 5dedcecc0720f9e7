import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// Project files are input, not trust (issue 21): settings from other users' files and
/// folders are ignored, and a project's links do not show host files to its tests.
@Suite("Whose files count", .serialized, .requiresDocker, .ownThreads)
final class ProjectTrustTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// Runs `dstack run-script ARGS` in `directory` with the mini scripts from this checkout,
  /// as root or, with `user`, as that user (in the docker group, with a home of its own).
  private func dstack(_ arguments: [String], in directory: String, as user: LocalUser? = nil) throws -> ProcessResult {
    let command = ["run-script", "--offline", "--scripts", Checkout.miniScripts] + arguments
    let home = scratch.path("home-\(user?.name ?? "root")")
    try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    user?.own(home)
    let environment = [
      "DSTACK_NAMESPACE": "", "HOME": home, "DSTACK_CACHE_DIR": home + "/cache", "XDG_CONFIG_HOME": home + "/config",
      "DSTACK_WORK": home + "/work",
    ]
    guard let user else { return try DstackBinary.run(command, directory: directory, environment: environment) }
    let docker = getgrnam("docker").map { $0.pointee.gr_gid } ?? 0
    return try runner.run(
      ["setpriv", "--reuid=\(user.uid)", "--regid=\(user.gid)", "--groups=\(docker)", DstackBinary.path] + command,
      directory: directory, extraEnvironment: environment)
  }

  @Test(
    "a Dockerfile or pyproject.toml that another user owns in a shared folder above is ignored, with a warning",
    .requiresLocalUsers)
  func otherUsersSettings() throws {
    let mallory = try LocalUser()
    let alice = try LocalUser(groups: ["docker"])
    defer {
      mallory.remove()
      alice.remove()
    }
    // A shared sticky folder, as /srv/shared: Mallory's project asks for the host's / .
    let shared = scratch.path("shared")
    let dockerfile = try scratch.write(
      "shared/docker/Dockerfile", "FROM busybox\n# dstack: test-options=-v /:/host --user=0\n")
    #expect(chmod(shared, 0o1777) == 0)
    for path in [scratch.path("shared/docker"), dockerfile] { mallory.own(path) }
    try scratch.write("shared/root/notes.txt", "")
    try scratch.write("shared/alice/notes.txt", "")
    for path in [scratch.path("shared/alice"), scratch.path("shared/alice/notes.txt")] { alice.own(path) }
    for (user, folder) in [(nil, scratch.path("shared/root")), (alice, scratch.path("shared/alice"))] {
      let result = try dstack(["build", "--dry-run"], in: folder, as: user)
      #expect(result.status == 1, "\(result.output)")
      #expect(!result.output.contains("/:/host"), "\(result.output)")
      #expect(
        result.errorOutput.contains(
          "warning: ignoring \(dockerfile): it belongs to user \(mallory.name) (uid \(mallory.uid)), and dstack "
            + "takes settings only from your own files and root's; if you trust it, make it yours (chown -R $USER "
            + "\(shared)/docker) or add \(shared)/docker to DSTACK_SAFE_DIRECTORIES"), "\(result.errorOutput)")
      #expect(result.errorOutput.contains("dstack: no project in \(folder) or any folder above it"))
    }

    // Alice's own project below it counts for her.
    try scratch.write("shared/alice/docker/Dockerfile", "FROM busybox\n")
    for path in [scratch.path("shared/alice/docker"), scratch.path("shared/alice/docker/Dockerfile")] {
      alice.own(path)
    }
    let own = try dstack(
      ["build", "--dry-run", "--no-test", "--name", scratch.image("alice")], in: scratch.path("shared/alice"), as: alice
    )
    #expect(own.status == 0, "\(own.errorOutput)")
    #expect(own.output.contains("docker build"), "\(own.output)")

    // A package whose pyproject.toml Mallory owns; then a folder of Mallory's stops the walk.
    let pyproject = try scratch.write(
      "pkg/pyproject.toml", "[project]\nname = \"evil\"\n[tool.dstack]\ntest-options = \"-v /:/host\"\n")
    mallory.own(pyproject)
    let package = try dstack(["build", "--dry-run"], in: scratch.path("pkg"))
    #expect(
      package.status == 1
        && package.errorOutput.contains("warning: ignoring \(pyproject): it belongs to user \(mallory.name)"))
    try scratch.write("top/docker/Dockerfile", "FROM busybox\n")
    try scratch.write("top/mallory/sub/.keep", "")
    mallory.own(scratch.path("top/mallory"))
    let stopped = try dstack(["build", "--dry-run"], in: scratch.path("top/mallory/sub"))
    #expect(stopped.status == 1)
    #expect(
      stopped.errorOutput.contains(
        "(dstack did not look in \(scratch.path("top/mallory")) or above it: it belongs to user \(mallory.name)"),
      "\(stopped.errorOutput)")
  }

  @Test(
    "a Dockerfile that other users can write is ignored, unless only the user's private group can",
    .requiresLocalUsers)
  func writableSettings() throws {
    let mallory = try LocalUser()
    defer { mallory.remove() }
    let dockerfile = try scratch.write("writable/docker/Dockerfile", "FROM busybox\n")
    for (mode, group, counts) in [(0o666, 0, false), (0o664, mallory.gid, false), (0o664, 0, true)] {
      #expect(chown(dockerfile, 0, gid_t(group)) == 0 && chmod(dockerfile, mode_t(mode)) == 0)
      let result = try dstack(
        ["build", "--dry-run", "--no-test", "--name", scratch.image("writable")], in: scratch.path("writable"))
      #expect(result.status == (counts ? 0 : 1), "mode \(String(mode, radix: 8)): \(result.errorOutput)")
      #expect(
        result.errorOutput.contains("warning: ignoring \(dockerfile): other users can write it") != counts,
        "\(result.errorOutput)")
    }
  }

  @Test(
    "a pin file that another user owns does not choose the mini",
    .requiresLocalUsers)
  func otherUsersPinFile() throws {
    let mallory = try LocalUser()
    defer { mallory.remove() }
    let pin = try scratch.write("pinned/.dstack-mini", "127.0.0.1:1/evil/mini:24.01.01\n")
    mallory.own(pin)
    try scratch.write("pinned/work/.keep", "")
    let result = try DstackBinary.run(
      ["scripts", "--offline"], directory: scratch.path("pinned/work"),
      environment: ["DSTACK_CACHE_DIR": scratch.path("cache-pin"), "DSTACK_MINI": ""])
    #expect(!result.output.contains("evil"), "\(result.output)")
    #expect(
      result.errorOutput.contains("warning: ignoring \(pin): it belongs to user \(mallory.name)"),
      "\(result.errorOutput)")
  }

  @Test(
    "another user's link counts for nothing, even to a root-owned file; a safe folder the user names counts",
    .requiresLocalUsers)
  func otherUsersLinks() throws {
    let mallory = try LocalUser()
    defer { mallory.remove() }
    // A shared sticky folder, as /srv/shared, where Mallory links a root-owned project's docker/
    // folder and a root-owned file as the pin file.
    let sticky = scratch.path("sticky")
    try scratch.write("sticky/work/.keep", "")
    try scratch.write("rootproject/docker/Dockerfile", "FROM busybox\n# dstack: name=\(scratch.image("chosen"))\n")
    #expect(chmod(sticky, 0o1777) == 0)
    for (link, target) in [("docker", scratch.path("rootproject/docker")), (".dstack-mini", "/etc/hostname")] {
      #expect(symlink(target, sticky + "/" + link) == 0)
      mallory.own(sticky + "/" + link)
    }
    let chosen = try dstack(["build", "--dry-run", "--no-test"], in: sticky + "/work")
    #expect(chosen.status == 1, "\(chosen.output)")
    #expect(!chosen.output.contains(scratch.image("chosen")), "\(chosen.output)")
    #expect(
      chosen.errorOutput.contains(
        "warning: ignoring \(sticky)/docker/Dockerfile: its folder does not count: it is a link that belongs to user "
          + "\(mallory.name) (uid \(mallory.uid))"), "\(chosen.errorOutput)")
    let pinned = try DstackBinary.run(
      ["scripts", "--offline"], directory: sticky + "/work",
      environment: ["DSTACK_CACHE_DIR": scratch.path("cache-links"), "DSTACK_MINI": ""])
    #expect(
      pinned.errorOutput.contains(
        "warning: ignoring \(sticky)/.dstack-mini: it is a link that belongs to user \(mallory.name)"),
      "\(pinned.errorOutput)")

    // A folder of Mallory's stops the walk up, unless the user names it in DSTACK_SAFE_DIRECTORIES.
    try scratch.write("safe/docker/Dockerfile", "FROM busybox\n")
    try scratch.write("safe/mallory/sub/.keep", "")
    mallory.own(scratch.path("safe/mallory"))
    let arguments = ["run-script", "--offline", "--scripts", Checkout.miniScripts, "build", "--dry-run", "--no-test"]
    let stopped = try DstackBinary.run(
      arguments + ["--name", scratch.image("safe")], directory: scratch.path("safe/mallory/sub"),
      environment: ["DSTACK_NAMESPACE": ""])
    #expect(stopped.status == 1)
    #expect(
      stopped.errorOutput.contains(
        "add \(scratch.path("safe/mallory")) to DSTACK_SAFE_DIRECTORIES"), "\(stopped.errorOutput)")
    let safe = try DstackBinary.run(
      arguments + ["--name", scratch.image("safe")], directory: scratch.path("safe/mallory/sub"),
      environment: ["DSTACK_NAMESPACE": "", "DSTACK_SAFE_DIRECTORIES": scratch.path("safe/mallory")])
    #expect(safe.status == 0, "\(safe.errorOutput)")
    #expect(safe.output.contains("docker build"), "\(safe.output)")
  }

  @Test(
    "a group-writable file counts when the user is the group's only member, as the group database says; a folder others can write does not",
    .requiresLocalUsers)
  func groupMembers() throws {
    let mallory = try LocalUser()
    let alice = try LocalUser(groups: ["docker"])
    let group = "dstack-g-" + scratch.prefix.suffix(8)
    defer {
      _ = try? runner.run(["groupdel", group])
      mallory.remove()
      alice.remove()
    }
    #expect(try runner.run(["groupadd", group]).succeeded)
    #expect(try runner.run(["gpasswd", "--add", alice.name, group]).succeeded)
    let groupID = try #require(getgrnam(group)).pointee.gr_gid
    let dockerfile = try scratch.write("grouped/docker/Dockerfile", "FROM busybox\n")
    for path in [scratch.path("grouped"), scratch.path("grouped/docker")] { alice.own(path) }
    #expect(chown(dockerfile, alice.uid, groupID) == 0 && chmod(dockerfile, 0o664) == 0)
    let arguments = ["build", "--dry-run", "--no-test", "--name", scratch.image("grouped")]
    let alone = try dstack(arguments, in: scratch.path("grouped"), as: alice)
    #expect(alone.status == 0, "alice alone in \(group) (gid \(groupID), her uid \(alice.uid)): \(alone.errorOutput)")
    #expect(!alone.errorOutput.contains("ignoring"), "\(alone.errorOutput)")
    #expect(try runner.run(["gpasswd", "--add", mallory.name, group]).succeeded)
    let shared = try dstack(arguments, in: scratch.path("grouped"), as: alice)
    #expect(shared.status == 1)
    #expect(
      shared.errorOutput.contains("warning: ignoring \(dockerfile): other users can write it (mode 664)"),
      "\(shared.errorOutput)")
    // A folder where others can replace the file (a Dockerfile swapped during the build) counts neither.
    #expect(chmod(dockerfile, 0o644) == 0 && chmod(scratch.path("grouped/docker"), 0o777) == 0)
    let open = try dstack(arguments, in: scratch.path("grouped"), as: alice)
    #expect(open.status == 1)
    #expect(
      open.errorOutput.contains(
        "warning: ignoring \(dockerfile): its folder does not count: other users can add or replace files in it "
          + "(mode 777)"), "\(open.errorOutput)")
  }

  @Test("a top-level link out of the project is not shown to the tests; one inside it is")
  func linksOutOfTheProject() throws {
    try scratch.write("outside/secret", "host secret")
    try scratch.write("linked/docker/Dockerfile", "FROM busybox\n")
    try scratch.write("linked/real-docs/readme", "inside")
    try scratch.write("linked/check", "test ! -e /dstack/project/notes && test -f /dstack/project/docs/readme\n")
    let project = scratch.path("linked")
    try FileManager.default.createSymbolicLink(atPath: project + "/notes", withDestinationPath: scratch.path("outside"))
    try FileManager.default.createSymbolicLink(atPath: project + "/docs", withDestinationPath: "real-docs")
    try FileManager.default.createSymbolicLink(atPath: project + "/gone", withDestinationPath: "/nonexistent")
    let result = try dstack(
      ["build", "--name", scratch.image("linked"), "--test-command", "sh /dstack/project/check"], in: project)
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(
      result.errorOutput.contains(
        "warning: not showing \(project)/notes to the tests: it is a link to \(scratch.path("outside")), outside the project"
      ),
      "\(result.errorOutput)")
    #expect(result.errorOutput.contains("warning: not showing \(project)/gone to the tests: it is a link to nothing"))
  }

  @Test("options from a project file that reach the host are refused until allowed, and again when the file changes")
  func allowHostOptions() throws {
    let name = scratch.image("allowed")
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):24.01.01"]).succeeded)
    let root = scratch.path(name)
    let dockerfile = try scratch.write(
      "\(name)/docker/Dockerfile", "FROM busybox\n# dstack: run-options=-v /:/host --pid=host -e A=1\n")
    let refused = try dstack(["run", "--dry-run", name, "true"], in: root)
    #expect(refused.status == 1)
    #expect(
      refused.errorOutput.split(separator: "\n").last.map(String.init)
        == "dstack: run-options in \(dockerfile) asks for options that reach the host: -v /:/host (mounts / from "
        + "outside the project), --pid=host (shares the host's pid namespace); read them, then allow them with "
        + "`dstack run-script allow` in \(root), or remove them", "\(refused.errorOutput)")

    let allowed = try dstack(["allow"], in: root)
    #expect(allowed.status == 0, "\(allowed.errorOutput)")
    #expect(allowed.output.contains("reaches the host: -v /:/host (mounts / from outside the project)"))
    #expect(allowed.output.contains("allowed \(dockerfile) as it is now (sha256:"), "\(allowed.output)")
    let run = try dstack(["run", "--dry-run", name, "true"], in: root)
    #expect(run.status == 0, "\(run.errorOutput)")
    // docker gets them in dstack's spelling of what it judged.
    let judged = "--mount=type=bind,source=/,target=/host --pid=host --env=A=1"
    #expect(run.output.contains(" \(judged) "), "\(run.output)")
    #expect(
      run.errorOutput.contains("options from run-options in \(dockerfile) (allowed): \(judged)"),
      "--dry-run names where options come from: \(run.errorOutput)")

    try scratch.write(
      "\(name)/docker/Dockerfile", "FROM busybox\n# dstack: run-options=-v /:/host --pid=host -e A=1 --privileged\n")
    let changed = try dstack(["run", "--dry-run", name, "true"], in: root)
    #expect(changed.status == 1)
    #expect(changed.errorOutput.contains("the file changed since you allowed it"), "\(changed.errorOutput)")

    // Only docker options: no words that would replace the image or command, none of dstack's options.
    for (options, expected) in [
      ("-e A=1 sh", "'sh' is not an option"), ("--hostsrcdir /", "--hostsrcdir is dstack's own option"),
    ] {
      try scratch.write("\(name)/docker/Dockerfile", "FROM busybox\n# dstack: run-options=\(options)\n")
      let result = try dstack(["run", "--dry-run", name, "true"], in: root)
      #expect(result.status == 1)
      #expect(result.errorOutput.contains("dstack: run-options in \(dockerfile): \(expected)"), "\(result.errorOutput)")
    }

    // test-options too, before anything is built.
    try scratch.write("\(name)/docker/Dockerfile", "FROM busybox\n# dstack: test-options=--volume=/etc:/x --user=0\n")
    let build = try dstack(["build", "--dry-run", "--name", name], in: root)
    #expect(build.status == 1)
    #expect(
      build.errorOutput.contains(
        "test-options in \(dockerfile) asks for options that reach the host: --volume=/etc:/x (mounts /etc from outside the project), --user=0 (runs as root)"
      ), "\(build.errorOutput)")
    #expect(!build.output.contains("docker build"))
  }
}
