import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

@Suite("The init script", .serialized, .requiresDocker, .ownThreads)
final class InitScriptTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  static let rule =
    "a project name is lower-case letters and digits, with single '-', '_' or '.' between them, "
    + "starting with a letter (such as my-project); at most 64 characters"

  /// Runs `dstack run-script init ARGS` in `directory` with the mini scripts from this checkout.
  private func initProject(
    _ arguments: [String], in directory: String, environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return try DstackBinary.run(
      ["run-script", "--scripts", Checkout.miniScripts, "init"] + arguments, directory: directory,
      environment: [
        "DSTACK_NAMESPACE": "", "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
      ].merging(environment) { $1 })
  }

  /// A local parent image with a version tag (a busybox of its own).
  private func parent() throws -> String {
    let image = "\(scratch.image("parent")):24.01.01"
    #expect(try runner.run(["docker", "tag", "busybox", image]).succeeded)
    return image
  }

  private func contents(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
  }

  @Test(
    "a project gets its package, test, pyproject.toml, Dockerfile, README, ignore files and a git repository with a first commit"
  )
  func creates() throws {
    let parent = try parent()
    let result = try initProject(["my-app.x", "--parent", parent], in: scratch.path("projects"))
    #expect(result.status == 0, "\(result.errorOutput)")
    let root = scratch.path("projects/my-app.x")
    #expect(result.output == root)
    for file in [
      "src/my_app_x/__init__.py", "tests/test_my_app_x.py", "pyproject.toml", "docker/Dockerfile", "README.md",
      ".gitignore", ".dockerignore",
    ] {
      #expect(FileManager.default.fileExists(atPath: root + "/" + file), "\(file)")
    }
    #expect(FileManager.default.fileExists(atPath: root + "/.git"), "git init ran")
    let status = try runner.run(["git", "-C", root, "status", "--porcelain"])
    let commits = try runner.run(["git", "-C", root, "rev-list", "--count", "HEAD"])
    #expect(status.succeeded && status.output.isEmpty && commits.output == "1", "a first commit: \(result.errorOutput)")
    // A parent without uv (busybox) cannot lock: said, and init goes on (LockTests: with py3's).
    #expect(
      result.errorOutput.contains("dstack: warning: not locked (\(parent) has no uv (py3 older than 26.12.07)"),
      "\(result.errorOutput)")
    let dockerfile = try String(contentsOfFile: root + "/docker/Dockerfile", encoding: .utf8)
    #expect(dockerfile.contains("ARG PARENT=\(parent)\n"))
    #expect(dockerfile.contains("# dstack: context=root\n"))
    let pyproject = try String(contentsOfFile: root + "/pyproject.toml", encoding: .utf8)
    #expect(pyproject.contains("name = \"my-app.x\""))
    #expect(pyproject.contains("dependencies = []"))
    let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
    #expect(readme.contains("dstack run-script build\n"))
    #expect(readme.contains("dstack run-script run my-app.x python -c \"import my_app_x; print(my_app_x.greet())\""))
    let test = try String(contentsOfFile: root + "/tests/test_my_app_x.py", encoding: .utf8)
    #expect(test.hasPrefix("import my_app_x\n"))
  }

  @Test("the default parent is the namespace's py3; --dir chooses the folder; --dry-run writes nothing")
  func defaultsAndDryRun() throws {
    let namespace = scratch.image("team")
    #expect(try runner.run(["docker", "tag", "busybox", "\(namespace)/py3:24.02.02"]).succeeded)
    let dry = try initProject(
      ["demo", "--dir", "elsewhere/demo-project", "--dry-run"], in: scratch.path("work"),
      environment: ["DSTACK_NAMESPACE": namespace + "/"])
    #expect(dry.status == 0, "\(dry.errorOutput)")
    #expect(dry.output.contains("would create \(scratch.path("work/elsewhere/demo-project"))/docker/Dockerfile"))
    #expect(!FileManager.default.fileExists(atPath: scratch.path("work/elsewhere")), "nothing written")

    let made = try initProject(
      ["demo", "--dir", "elsewhere/demo-project"], in: scratch.path("work"),
      environment: ["DSTACK_NAMESPACE": namespace])
    #expect(made.status == 0, "\(made.errorOutput)")
    let dockerfile = try String(
      contentsOfFile: scratch.path("work/elsewhere/demo-project/docker/Dockerfile"), encoding: .utf8)
    #expect(dockerfile.contains("ARG PARENT=\(namespace)/py3\n"), "the newest version is found at each build")
    let readme = try String(contentsOfFile: scratch.path("work/elsewhere/demo-project/README.md"), encoding: .utf8)
    #expect(
      readme.contains("dstack run-script run \(namespace)/demo-project python"),
      "the image is named after the folder, in the namespace")
  }

  @Test("an invalid name gets one line with the rule, and nothing is written")
  func invalidNames() throws {
    let parent = try parent()
    for name in ["9lives", "My-App", "a--b", "trailing-", "with space", "-x", String(repeating: "a", count: 65)] {
      let result = try initProject(["--parent", parent, "--", name], in: scratch.path("names"))
      #expect(result.status == 1, "\(name)")
      #expect(result.errorOutput == "dstack: '\(name)' is not a valid project name: \(Self.rule)", "\(name)")
    }
    let keyword = try initProject(["class", "--parent", parent], in: scratch.path("names"))
    #expect(
      keyword.errorOutput == "dstack: 'class' is not a valid project name: its import name class is a Python keyword")
    #expect(contents(scratch.path("names")).isEmpty, "nothing written")
  }

  @Test("a folder that is not empty is refused in one line, and left as it was")
  func nonEmptyFolder() throws {
    let parent = try parent()
    try scratch.write("busy/demo/notes.txt", "mine")
    let result = try initProject(["demo", "--parent", parent], in: scratch.path("busy"))
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: \(scratch.path("busy/demo")) is not empty; init writes only into a new or empty folder (choose another with --dir DIR)"
    )
    #expect(contents(scratch.path("busy/demo")) == ["notes.txt"])

    // An empty folder is fine.
    try FileManager.default.createDirectory(atPath: scratch.path("busy/empty"), withIntermediateDirectories: true)
    let empty = try initProject(["demo", "--parent", parent, "--dir", "empty"], in: scratch.path("busy"))
    #expect(empty.status == 0, "\(empty.errorOutput)")
  }

  @Test("--dir at a link to nothing is refused in one line, and nothing is written")
  func danglingLink() throws {
    let parent = try parent()
    try FileManager.default.createDirectory(atPath: scratch.path("dangling"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: scratch.path("dangling/demo"), withDestinationPath: scratch.path("dangling/gone"))
    let result = try initProject(["demo", "--parent", parent, "--dir", "demo"], in: scratch.path("dangling"))
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: \(scratch.path("dangling/demo")) is a link to something that does not exist; remove it, or choose another folder with --dir DIR"
    )
    #expect(contents(scratch.path("dangling")) == ["demo"])
  }

  @Test("a parent that cannot be found is refused in one line saying how to get one, and nothing is written")
  func missingParent() throws {
    let namespace = "\(DockerProbe.registry)/\(scratch.image("nothing"))"
    let result = try initProject(
      ["demo"], in: scratch.path("orphans"), environment: ["DSTACK_NAMESPACE": namespace])
    #expect(result.status == 1)
    #expect(!result.errorOutput.contains("\n"), "\(result.errorOutput)")
    #expect(result.errorOutput.hasPrefix("dstack: cannot use \(namespace)/py3 as the parent image: no version of"))
    #expect(result.errorOutput.contains("scripts/publish-images"))
    #expect(result.errorOutput.hasSuffix("or name an existing image with --parent REF"))

    let unreachable = try initProject(
      ["demo", "--parent", "127.0.0.1:9/team/py3"], in: scratch.path("orphans"))
    #expect(unreachable.status == 1)
    #expect(!unreachable.errorOutput.contains("\n"), "\(unreachable.errorOutput)")
    #expect(unreachable.errorOutput.hasPrefix("dstack: cannot use 127.0.0.1:9/team/py3 as the parent image:"))
    #expect(contents(scratch.path("orphans")).isEmpty, "nothing written")
  }
}
