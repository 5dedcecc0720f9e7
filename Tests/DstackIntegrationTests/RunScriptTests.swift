import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

@Suite("The run script", .serialized, .requiresDocker, .ownThreads)
final class RunScriptTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit { scratch.cleanUp() }

  /// Runs `dstack run-script run ARGS` with the work folders under the scratch folder.
  private func run(
    _ arguments: [String], stdin: InputMode = .null, environment: [String: String] = [:]
  ) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--offline", "--scripts", Checkout.miniScripts, "run"] + arguments, stdin: stdin,
      environment: ["DSTACK_WORK": scratch.path("work"), "TZ": "Europe/Berlin"].merging(environment) { $1 })
  }

  /// A busybox image of its own (a distinct ID), so its containers can be counted while
  /// other tests run theirs.
  private func ownImage(_ name: String) throws -> String {
    let image = "\(scratch.image(name)):24.01.01"
    let built = try runner.run(
      ["docker", "build", "--quiet", "--label", "test=\(scratch.prefix)", "--tag", image, "-"],
      stdin: .bytes(Array("FROM busybox\n".utf8)))
    #expect(built.succeeded, "\(built)")
    return image
  }

  private func containers(of image: String) throws -> Int {
    try runner.run(["docker", "ps", "-aq", "--filter", "ancestor=\(image)"]).output.split(separator: "\n").count
  }

  @Test("output and exit status reach the caller, including death by a signal, and no container is left")
  func exitStatus() throws {
    let image = try ownImage("exit")
    let ok = try run([image, "echo", "hello"])
    #expect(ok.status == 0)
    #expect(ok.output == "hello")
    #expect(try run([image, "sh", "-c", "exit 7"]).status == 7)
    #expect(try run([image, "sh", "-c", "kill -9 $$"]).status == 137)
    #expect(try containers(of: image) == 0)
  }

  @Test("a signal to dstack reaches the container, whose status is dstack's, and no container is left")
  func signalsReachTheContainer() throws {
    let image = try ownImage("signal")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: DstackBinary.path)
    process.arguments = ["run-script", "--offline", "--scripts", Checkout.miniScripts, "run", image, "sleep", "60"]
    process.environment = ProcessInfo.processInfo.environment.merging(["DSTACK_WORK": scratch.path("work")]) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    // Wait until the container runs, then interrupt dstack as Ctrl-C or `kill -INT` would.
    for _ in 0..<100 where try containers(of: image) == 0 { usleep(100_000) }
    #expect(try containers(of: image) == 1, "the container started")
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    // The container ended by SIGINT, so dstack ends by it too (a shell shows 130).
    #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGINT)
    for _ in 0..<50 where try containers(of: image) > 0 { usleep(100_000) }
    #expect(try containers(of: image) == 0, "--rm removed the container")
  }

  @Test("arguments with spaces, quotes, $(…) and ; reach the container unchanged")
  func arguments() throws {
    let result = try run(["busybox:latest", "printf", "[%s]", "a b", "it's", "\"q\"", "$(id)", "a;b", "*"])
    #expect(result.output == "[a b][it's][\"q\"][$(id)][a;b][*]")
  }

  @Test("piped stdin reaches the container")
  func pipedStdin() throws {
    let result = try run(["busybox:latest", "cat"], stdin: .bytes(Array("x\n".utf8)))
    #expect(result.output == "x")
  }

  @Test("work folders are created and mounted; the environment is set")
  func foldersAndEnvironment() throws {
    try scratch.write("work/data/input.txt", "data file")
    let result = try run([
      "-e", "EXTRA=1", "busybox:latest", "sh", "-c",
      "cat $DATADIR/input.txt; echo; ls -d $LOGDIR; echo $IMAGE_NAME $HOST_UID $HOST_GID $HOST_USER $TZ $EXTRA",
    ])
    #expect(result.status == 0, "\(result.errorOutput)")
    let user = try runner.run(["id", "-un"]).output
    #expect(result.output == "data file\n/root/log\nbusybox \(getuid()) \(getgid()) \(user) Europe/Berlin 1")
    #expect(FileManager.default.fileExists(atPath: scratch.path("work/log")), "a missing host folder is created")
    let noData = try run(["--hostdatadir", "no", "busybox:latest", "sh", "-c", "echo ${DATADIR:-none}"])
    #expect(noData.output == "none")
  }

  @Test("development mode mounts ~/work/src/NAME at ~/src and works there")
  func developmentMode() throws {
    let repository = scratch.image("devapp")
    #expect(try runner.run(["docker", "tag", "busybox", "\(repository):24.01.01"]).succeeded)
    try scratch.write("work/src/\(repository)/src/module.py", "")
    let result = try run([repository, "sh", "-c", "pwd; echo $PYTHONPATH; ls src"])
    #expect(result.output == "/root/src\n/root/src/src\nmodule.py", "\(result.errorOutput)")
  }

  @Test("the newest version is used when no tag is given; on a root host the image's user runs as root")
  func newestVersionAndUser() throws {
    let repository = scratch.image("app")
    for (tag, user) in [("24.01.01", "root"), ("24.02.01", "nobody"), ("latest", "root")] {
      let built = try runner.run(
        ["docker", "build", "--quiet", "--tag", "\(repository):\(tag)", "-"],
        stdin: .bytes(Array("FROM busybox\nUSER \(user)\n".utf8)))
      #expect(built.succeeded, "\(built)")
    }
    let result = try run([repository, "sh", "-c", "echo $IMAGE_VERSION $(id -u)"])
    #expect(result.output == "24.02.01 \(getuid() == 0 ? 0 : getuid())", "\(result.errorOutput)")
    #expect(try run(["--root", repository, "id", "-u"]).output == "0")
    #expect(try run(["\(repository):24.01.01", "sh", "-c", "echo $IMAGE_VERSION"]).output == "24.01.01")
  }

  @Test("-d with --name leaves the named container running; a restart policy keeps it")
  func detached() throws {
    let name = scratch.container("detached")
    let started = try run(["-d", "--name", name, "--restart", "unless-stopped", "busybox:latest", "sleep", "30"])
    #expect(started.status == 0, "\(started.errorOutput)")
    let state = try runner.run(
      ["docker", "inspect", "--format", "{{.State.Running}} {{.HostConfig.AutoRemove}}", name])
    #expect(state.output == "true false")
  }

  @Test("two runs in the same second get different container names")
  func uniqueNames() throws {
    let first = try run(["--dry-run", "busybox:latest", "true"]).output
    let second = try run(["--dry-run", "busybox:latest", "true"]).output
    let name = { (line: String) in line.split(separator: " ").first { $0.hasPrefix("--name=") } }
    #expect(name(first) != nil)
    #expect(name(first) != name(second))
  }

  @Test("the notebook command line and the --gpu flags in dry-run")
  func notebookAndGPUDryRun() throws {
    let result = try run(["--dry-run", "--gpu", "--nb-port", "9999", "busybox:latest", "notebook"])
    #expect(result.status == 0, "\(result.errorOutput)")
    #expect(result.output.contains(" --gpus all "))
    #expect(result.output.contains(" --publish=127.0.0.1:9999:9999 "))
    #expect(
      result.output.hasSuffix(
        " busybox:latest jupyter lab --no-browser --ip=0.0.0.0 --port=9999 --allow-root"),
      "\(result.output)")
    let exposed = try run([
      "--dry-run", "--gpus", "\"device=0,1\"", "--nb-address", "0.0.0.0", "busybox:latest", "notebook",
    ])
    #expect(exposed.output.contains(" --gpus '\"device=0,1\"' "))
    #expect(exposed.output.contains("--publish=0.0.0.0:8888:8888"))
    #expect(!exposed.output.contains("token"), "a notebook keeps Jupyter's token, wherever it is published")
  }

  @Test("--gpu on a machine without GPU support fails with one line and starts nothing")
  func gpuMissing() throws {
    let image = try ownImage("gpu")
    let result = try run(["--gpu", image, "true"])
    #expect(result.status == 1)
    #expect(
      result.errorOutput.hasPrefix(
        "dstack: --gpu: this Docker engine has no GPU support (no nvidia runtime, CDI GPU device or NVIDIA container toolkit found); install nvidia-container-toolkit"
      ), "\(result.errorOutput)")
    #expect(result.errorOutput.split(separator: "\n").count == 1)
    #expect(try containers(of: image) == 0)
    let counted = try run(["--gpus", "2", image, "true"])
    #expect(counted.errorOutput.hasPrefix("dstack: --gpus: this Docker engine has no GPU support"))
    #expect(counted.errorOutput.hasSuffix("or run without --gpus"), "\(counted.errorOutput)")
  }

  @Test("run-script without a name lists the scripts with what each does")
  func scriptList() throws {
    let listed = try DstackBinary.run(["run-script", "--offline", "--scripts", Checkout.miniScripts])
    #expect(listed.status == 0)
    #expect(listed.output.hasPrefix("usage: dstack run-script NAME [ARGUMENTS...]"))
    let lines = listed.output.split(separator: "\n").map { $0.trimmed }
    #expect(lines.contains("build       builds the project's image with a sortable datetime tag."), "\(listed.output)")
    #expect(lines.contains { $0.hasPrefix("run         runs a project container") })
  }

  @Test("an image without versions or a missing one is an error naming where it was looked for, never :latest")
  func missingImage() throws {
    let missing = scratch.image("nothing")
    for arguments in [[missing, "true"], ["--dry-run", missing, "true"], ["busybox", "true"]] {
      let result = try run(arguments)
      #expect(result.status == 1)
      #expect(result.output.isEmpty, "nothing runs, not even in a dry run: \(result.output)")
      let name = arguments[arguments.count - 2]
      #expect(
        result.errorOutput.contains(
          "no version of \(name) (tags YY.MM.DD or YYYYMMDD-HHMMSS) found in the local engine; build it with "),
        "\(result.errorOutput)")
    }
  }

  @Test("a short name finds the namespace's image, in the local engine and in the registry")
  func shortNames() throws {
    let name = scratch.image("short")
    let namespace = "\(DockerProbe.registry)/\(scratch.prefix)-team"
    #expect(try runner.run(["docker", "tag", "busybox", "\(namespace)/\(name):24.01.01"]).succeeded)
    let local = try run(["--dry-run", name, "true"])
    #expect(
      local.output.hasSuffix(" \(namespace)/\(name):24.01.01 true"), "the only local \(name): \(local.errorOutput)")

    #expect(try runner.run(["docker", "tag", "busybox", "\(namespace)/\(name):24.02.01"]).succeeded)
    #expect(try runner.run(["docker", "push", "--quiet", "\(namespace)/\(name):24.02.01"]).succeeded)
    #expect(try runner.run(["docker", "rmi", "--no-prune", "\(namespace)/\(name):24.02.01"]).succeeded)
    let found = try DstackBinary.run(
      ["find-image", name], environment: ["DSTACK_NAMESPACE": namespace, "DSTACK_CACHE_DIR": scratch.path("cache")])
    #expect(found.output == "\(namespace)/\(name):24.02.01", "\(found.errorOutput)")

    // A package project names its namespace in pyproject.toml.
    try scratch.write(
      "package/pyproject.toml", "[project]\nname = \"package\"\n\n[tool.dstack]\nnamespace = \"\(namespace)\"\n")
    let inPackage = try DstackBinary.run(
      ["find-image", name], directory: scratch.path("package"),
      environment: ["DSTACK_NAMESPACE": "", "DSTACK_CACHE_DIR": scratch.path("cache")])
    #expect(inPackage.output == "\(namespace)/\(name):24.02.01", "\(inPackage.errorOutput)")
  }

  @Test(
    "a short name never picks an older image silently: the newest place wins and the others are named; in a project its own repository wins"
  )
  func shortNameNewestWins() throws {
    let name = scratch.image("moved")
    let namespace = "\(DockerProbe.registry)/\(scratch.prefix)-moved"
    // Built once without a namespace, then again with one: the newer is the namespace's.
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):20240101-000000"]).succeeded)
    #expect(try runner.run(["docker", "tag", "busybox", "\(namespace)/\(name):20240102-000000"]).succeeded)
    let environment = ["DSTACK_NAMESPACE": namespace, "DSTACK_CACHE_DIR": scratch.path("cache-moved")]
    let chosen = try run(["--dry-run", name, "true"], environment: environment)
    #expect(chosen.output.hasSuffix(" \(namespace)/\(name):20240102-000000 true"), "\(chosen.output)")
    #expect(
      chosen.errorOutput.contains(
        "\(name) is \(namespace)/\(name):20240102-000000, the newest; also found: \(name):20240101-000000"),
      "\(chosen.errorOutput)")

    let all = try DstackBinary.run(["find-image", "--all", name], environment: environment)
    #expect(
      all.output
        == "\(namespace)/\(name):20240102-000000\t\(namespace)/\(name)\n\(name):20240101-000000\tthe local engine",
      "\(all.output) \(all.errorOutput)")

    // A newer local build elsewhere wins outside the project; in the project's folder (it
    // builds NAMESPACE/NAME), the project's own repository wins.
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):20240103-000000"]).succeeded)
    let newerLocal = try run(["--dry-run", name, "true"], environment: environment)
    #expect(newerLocal.output.hasSuffix(" \(name):20240103-000000 true"), "\(newerLocal.output)")
    try scratch.write("\(name)/docker/Dockerfile", "FROM busybox\n")
    let inProject = try DstackBinary.run(
      ["run-script", "--offline", "--scripts", Checkout.miniScripts, "run", "--dry-run", name, "true"],
      directory: scratch.path(name), environment: environment.merging(["DSTACK_WORK": scratch.path("work")]) { $1 })
    #expect(
      inProject.output.hasSuffix(" \(namespace)/\(name):20240102-000000 true"),
      "\(inProject.output) \(inProject.errorOutput)")
  }

  @Test("a version dated after today is used as the newest, with a warning naming it")
  func futureVersion() throws {
    let name = scratch.image("future")
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):20991231-000000"]).succeeded)
    let result = try run(["--dry-run", name, "true"])
    #expect(result.output.hasSuffix(" \(name):20991231-000000 true"))
    #expect(
      result.errorOutput.contains("\(name):20991231-000000 is dated 2099-12-31, after today"), "\(result.errorOutput)")
  }

  @Test("a second notebook on a taken port is refused in one line naming --nb-port and the container")
  func notebookPortTaken() throws {
    let port = Int.random(in: 20000..<30000)
    let holder = scratch.container("notebook")
    let started = try runner.run([
      "docker", "run", "-d", "--rm", "--name", holder, "--publish", "127.0.0.1:\(port):\(port)", "busybox", "sleep",
      "60",
    ])
    #expect(started.succeeded, "\(started)")
    defer { _ = try? runner.run(["docker", "rm", "--force", holder]) }
    let result = try run(["--nb-port", "\(port)", "busybox:latest", "notebook"])
    #expect(result.status == 1)
    #expect(
      result.errorOutput
        == "dstack: port \(port) is taken by the container \(holder) (a notebook already running?); start this one with --nb-port PORT before the image, or stop that one (`dstack run-script stop \(holder)`)"
    )
  }

  @Test("a program reading its input gets the terminal, whatever the command")
  func terminal() throws {
    let session = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Fixtures/terminal_session.py"
    let result = try runner.run(
      [
        "python3", session, "name?", "dstack\n", DstackBinary.path, "run-script", "--offline", "--scripts",
        Checkout.miniScripts, "run", "busybox:latest", "sh", "-c",
        "printf 'name? '; read answer; echo got-$answer; [ -t 0 ] && echo on-a-terminal",
      ], extraEnvironment: ["DSTACK_WORK": scratch.path("work")])
    #expect(result.output.contains("got-dstack"), "\(result.output)")
    #expect(result.output.contains("on-a-terminal"), "\(result.output)")
    let captured = try run(["--dry-run", "busybox:latest", "true"], stdin: .bytes([]))
    #expect(captured.output.contains(" --interactive ") && !captured.output.contains("--tty"), "\(captured.output)")
  }

  /// Runs `dstack run-script run ARGS` as `uid` (gid the same, in the docker group), with
  /// a home, work folders and cache of that user's under the scratch folder.
  private func runAs(_ uid: uid_t, _ arguments: [String], script: String = "run") throws -> ProcessResult {
    let home = scratch.path("home-\(uid)")
    if !FileManager.default.fileExists(atPath: home) {
      try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
      #expect(chown(home, uid, uid) == 0)
    }
    let docker = getgrnam("docker").map { $0.pointee.gr_gid } ?? 0
    return try runner.run(
      [
        "setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--groups=\(docker)", DstackBinary.path, "run-script",
        "--offline", "--scripts", Checkout.miniScripts, script,
      ] + arguments,
      extraEnvironment: ["HOME": home, "DSTACK_WORK": "\(home)/work", "DSTACK_CACHE_DIR": "\(home)/cache"])
  }

  /// The size of what image `derived` holds beyond image `parent`, in bytes.
  private func ownSize(_ derived: String, over parent: String) throws -> Int {
    func size(_ image: String) throws -> Int {
      Int(try runner.run(["docker", "image", "inspect", "--format", "{{.Size}}", image]).output) ?? -1
    }
    return try size(derived) - size(parent)
  }

  @Test(
    "any host uid: files in the work folders are the user's, whoami works, the image's group-writable trees stay writable, and the derived image is one small layer made once",
    .enabled(if: getuid() == 0, "becoming another uid takes root; scripts/test runs as root"))
  func anyUidRunsAsTheImageUser() throws {
    let uid: uid_t = 1234
    let image = "\(scratch.image("user")):24.01.01"
    // The layout py3 has: docker-user's home and environment group-writable, with setgid folders.
    let built = try runner.run(
      ["docker", "build", "--quiet", "--tag", image, "-"],
      stdin: .bytes(
        Array(
          """
          FROM busybox
          RUN echo docker-user:x:1000:1000::/home/docker-user:/bin/sh >> /etc/passwd && \\
              echo docker-user:x:1000: >> /etc/group && mkdir -p /home/docker-user /opt/venv/lib && \\
              chown -R 1000:1000 /home/docker-user /opt/venv && chmod -R 2775 /home/docker-user /opt/venv
          USER docker-user

          """.utf8)))
    #expect(built.succeeded, "\(built)")
    let first = try runAs(
      uid,
      [
        image, "sh", "-c",
        "touch ~/data/written ~/in-home /opt/venv/lib/installed && id -u && id -un && id -G && echo $HOME",
      ])
    #expect(first.status == 0, "\(first.errorOutput)")
    let lines = first.output.split(separator: "\n").map(String.init)
    #expect(lines.count == 4 && lines[0] == "\(uid)" && lines[1] == "docker-user", "\(first.output)")
    #expect(lines.count == 4 && lines[2].split(separator: " ").contains("1000"), "keeps its group: \(first.output)")
    #expect(lines.last == "/home/docker-user")
    #expect(first.errorOutput.contains("giving docker-user"), "\(first.errorOutput)")
    var info = stat()
    let written = scratch.path("home-\(uid)/work/data/written")
    #expect(stat(written, &info) == 0 && info.st_uid == uid && info.st_gid == uid)

    let derived = try runner.run([
      "docker", "image", "ls", "--filter", "label=io.dstack.derived-from", "--filter",
      "reference=dstack-user/\(image.split(separator: "/").last!.split(separator: ":")[0]):*", "--format",
      "{{.Repository}}:{{.Tag}}",
    ]).output
    #expect(derived.hasSuffix("-\(uid)-\(uid)"), "\(derived)")
    #expect(try ownSize(derived, over: image) < 100_000, "the derived image holds only /etc/passwd and /etc/group")
    let derivations = [
      "docker", "ps", "-aq", "--filter", "label=io.dstack.derivation", "--filter", "ancestor=\(image)",
    ]
    #expect(try runner.run(derivations).output.isEmpty, "no derivation container of this image is left behind")

    let again = try runAs(uid, [image, "whoami"])
    #expect(again.output == "docker-user", "\(again.errorOutput)")
    #expect(!again.errorOutput.contains("giving docker-user"), "the derived image is made once")
    // doctor counts the user's own derived images, not those made for other uids.
    let doctor = try runAs(uid, [], script: "doctor")
    let line = doctor.output.split(separator: "\n").first { $0.contains("derived images: ") }.map(String.init) ?? ""
    #expect(
      line.range(of: #"derived images: [1-9][0-9]*, holding [0-9.]+ kB of their own"#, options: .regularExpression)
        != nil, "\(doctor.output)")
    let rootDoctor = try DstackBinary.run(["run-script", "--offline", "--scripts", Checkout.miniScripts, "doctor"])
    #expect(rootDoctor.output.contains("derived images: 0,"), "root derives none: \(rootDoctor.output)")
    _ = try runner.run(["docker", "rmi", "--no-prune", derived])

    // A root host runs the image's user as root, with the user's home, and derives nothing.
    let asRoot = try run([image, "sh", "-c", "id -u && echo $HOME"])
    #expect(asRoot.output == "0\n/home/docker-user", "\(asRoot.output) \(asRoot.errorOutput)")
  }

  @Test(
    "an image user that is uid 0 under another name, or root written with a group, runs as root",
    .enabled(if: getuid() == 0, "becoming another uid takes root; scripts/test runs as root"))
  func rootByAnotherName() throws {
    for (name, user) in [("toor", "toor"), ("rootgroup", "root:root"), ("zero", "0:0")] {
      let image = "\(scratch.image(name)):24.01.01"
      let built = try runner.run(
        ["docker", "build", "--quiet", "--tag", image, "-"],
        stdin: .bytes(Array("FROM busybox\nRUN echo toor:x:0:0::/root:/bin/sh >> /etc/passwd\nUSER \(user)\n".utf8)))
      #expect(built.succeeded, "\(built)")
      let result = try runAs(1234, [image, "id", "-u"])
      #expect(result.status == 0 && result.output == "0", "\(user): \(result.output) \(result.errorOutput)")
      #expect(!result.errorOutput.contains("giving"), "\(user): \(result.errorOutput)")
    }
  }

  @Test(
    "a port the project publishes that another container holds is refused in one line naming it; --no-run-options runs")
  func publishedPortTaken() throws {
    let name = scratch.image("ported")
    let port = try LoopbackRegistry.freePort()
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):24.01.01"]).succeeded)
    try scratch.write(
      "\(name)/docker/Dockerfile", "FROM busybox\n# dstack: run-options=-p 127.0.0.1:\(port):80\n")
    let dstack = { (arguments: [String]) throws -> ProcessResult in
      try DstackBinary.run(
        ["run-script", "--offline", "--scripts", Checkout.miniScripts, "run"] + arguments,
        directory: self.scratch.path(name), environment: ["DSTACK_WORK": self.scratch.path("work")])
    }
    let first = try dstack(["-d", name, "sleep", "60"])
    #expect(first.status == 0, "\(first.errorOutput)")
    let holder = try runner.run(["docker", "ps", "--filter", "publish=\(port)", "--format", "{{.Names}}"]).output
    defer { _ = try? runner.run(["docker", "rm", "--force", holder]) }
    let second = try dstack([name, "true"])
    #expect(second.status != 0)
    #expect(
      second.errorOutput
        == "dstack: port \(port) (--publish=127.0.0.1:\(port):80) is taken by the container \(holder); stop it "
        + "(`dstack run-script stop \(holder)`), or publish another host port (-p PORT:80; `run --no-run-options` "
        + "leaves the project's own options out)", "\(second.errorOutput)")
    let started = try runner.run(["docker", "ps", "-aq", "--filter", "label=io.dstack.image=\(name)"]).output
    #expect(started.split(separator: "\n").count == 1, "nothing else started: \(started)")
    let without = try dstack(["--no-run-options", name, "echo", "ran"])
    #expect(without.output == "ran", "\(without.errorOutput)")
  }

  @Test("a project's run-options apply to its images, before the command line's")
  func projectRunOptions() throws {
    let name = scratch.image("proj")
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):24.01.01"]).succeeded)
    try scratch.write(
      "\(name)/docker/Dockerfile", "FROM busybox\n# dstack: run-options=-e FROM_PROJECT=1 --shm-size=64m\n")
    try scratch.write("\(name)/src/readme.txt", "")
    let result = try DstackBinary.run(
      [
        "run-script", "--offline", "--scripts", Checkout.miniScripts, "run", "--dry-run", "-e", "FROM_PROJECT=2", name,
        "true",
      ],
      directory: scratch.path("\(name)/src"), environment: ["DSTACK_WORK": scratch.path("work")])
    // The project's in dstack's spelling of what it judged; the command line's as typed, after them.
    #expect(result.output.contains(" --env=FROM_PROJECT=1 --shm-size=64m -e FROM_PROJECT=2 "), "\(result.output)")
    let elsewhere = try run(["--dry-run", "busybox:latest", "true"])
    #expect(!elsewhere.output.contains("FROM_PROJECT"))
    // --no-run-options leaves them out of one run (a port that another run holds, say).
    let without = try DstackBinary.run(
      [
        "run-script", "--offline", "--scripts", Checkout.miniScripts, "run", "--dry-run", "--no-run-options", name,
        "true",
      ],
      directory: scratch.path("\(name)/src"), environment: ["DSTACK_WORK": scratch.path("work")])
    #expect(without.status == 0 && !without.output.contains("FROM_PROJECT"), "\(without.output)")
  }
}
