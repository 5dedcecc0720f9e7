import DstackEngine
import DstackTestSupport
import Foundation
import Testing

/// Services beside the project (issue 29): a Compose file's services start fresh for each
/// build's tests on a network of their own, healthy first, reachable by their names, and go
/// afterwards, also when the build was killed; what reaches the host needs allowing.
@Suite("Services for the tests (compose.yaml)", .serialized, .requiresDocker, .ownThreads)
final class ServicesTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  deinit {
    // The images the test's builds made, its services' among them (their layers stay as
    // the build cache, or as dstack-test/services:NAME).
    let made =
      (try? runner.run([
        "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=\(scratch.prefix)-*",
        "--filter", "reference=dstack-services/*-\(scratch.prefix)-*",
      ]).output) ?? ""
    let references = made.split(separator: "\n").map(String.init)
    if !references.isEmpty { _ = try? runner.run(["docker", "rmi", "--no-prune"] + references) }
    scratch.cleanUp()
  }

  private func dstack(_ arguments: [String], in directory: String) throws -> ProcessResult {
    try DstackBinary.run(
      ["run-script", "--offline", "--scripts", Checkout.miniScripts] + arguments, directory: directory,
      environment: ["DSTACK_NAMESPACE": "", "XDG_CONFIG_HOME": scratch.path("config")])
  }

  /// A project whose tests run `check` (sh) against the services of `compose`; the `web`
  /// folder holds a service image's Dockerfile (busybox).
  private func project(_ name: String, compose: String, check: String) throws -> String {
    try scratch.write("\(name)/docker/Dockerfile", "FROM busybox\n# dstack: test=sh /dstack/project/tests/check.sh\n")
    try scratch.write("\(name)/compose.yaml", compose)
    try scratch.write("\(name)/web/Dockerfile", "FROM busybox\n")
    try scratch.write("\(name)/tests/check.sh", check)
    return scratch.path(name)
  }

  /// What of the services' groups of this test's projects is left in the engine.
  private func leftOver(_ name: String) throws -> String {
    let containers = try runner.run([
      "docker", "ps", "--all", "--filter", "label=io.dstack.services", "--format", "{{.Names}}",
    ]).output
    let networks = try runner.run([
      "docker", "network", "ls", "--filter", "label=io.dstack.services", "--format", "{{.Name}}",
    ]).output
    let volumes = try runner.run(["docker", "volume", "ls", "--format", "{{.Name}}"]).output
    return (containers + "\n" + networks + "\n" + volumes).split(separator: "\n").filter {
      $0.contains("-\(name)-svc-")
    }
    .joined(separator: " ")
  }

  @Test(
    "a service that becomes healthy after a few seconds answers the tests by its name, then goes; its environment is never on a command line"
  )
  func healthyService() throws {
    let name = scratch.image("web")
    let root = try project(
      name,
      compose: """
        services:
          web:
            build: web
            command: ["sh", "-c", "sleep 2; echo ready-page $GREETING > /tmp/index.html; touch /tmp/ready; httpd -f -p 8080 -h /tmp"]
            environment: {GREETING: "hello there"}
            volumes: ["cache:/cache"]
            healthcheck:
              test: ["CMD", "test", "-f", "/tmp/ready"]
              interval: 1s
              retries: 20
        """,
      check: "wget -qO- http://web:8080/index.html | grep ready-page\n")
    let dry = try dstack(["build", "--dry-run", "--name", name], in: root)
    let serviceRun = dry.output.split(separator: "\n").first { $0.contains("--network-alias=web") } ?? ""
    #expect(serviceRun.contains(" --env-file=/"), "\(dry.output)")
    #expect(!dry.output.contains("hello there"), "the value is on a command line: \(dry.output)")
    let built = try dstack(["build", "--name", name], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")
    #expect(built.errorOutput.contains("starting the service web"), "\(built.errorOutput)")
    #expect(
      built.output.contains("ready-page hello there"),
      "the tests reached web:8080 once it was healthy, and its environment: \(built.output)")
    let left = try leftOver(name)
    #expect(left.isEmpty, "nothing left: \(left)")
  }

  @Test("a service that ends or stays unhealthy is named with its last log lines; nothing is left, nor the tag")
  func failingService() throws {
    let name = scratch.image("broken")
    for (compose, reason) in [
      (
        // A healthcheck, so it is waited for (without one, running at the first look is started).
        "services:\n  web:\n    build: web\n    command: [\"sh\", \"-c\", \"echo bad-config-line; exit 3\"]\n"
          + "    healthcheck: {test: [\"CMD\", \"true\"], interval: 1s}\n",
        "the service web did not start: it ended (exit 3); its last log lines:\n  bad-config-line"
      ),
      (
        "services:\n  web:\n    build: web\n    command: [\"sh\", \"-c\", \"echo waiting; sleep 60\"]\n"
          + "    healthcheck: {test: [\"CMD\", \"false\"], interval: 1s, retries: 2}\n",
        "the service web did not start: its healthcheck says unhealthy; its last log lines:\n  waiting"
      ),
    ] {
      let root = try project(name, compose: compose, check: "true\n")
      let built = try dstack(["build", "--name", name], in: root)
      #expect(built.status != 0)
      #expect(built.errorOutput.contains(reason), "\(built.errorOutput)")
      let left = try leftOver(name)
      #expect(left.isEmpty, "nothing left: \(left)")
      #expect(try runner.run(["docker", "image", "ls", "-q", name]).output.isEmpty, "the untested tag is removed")
    }
  }

  @Test("a service's bind mount from outside the project needs allowing; a key outside the subset is named")
  func hostReachNeedsAllowing() throws {
    let name = scratch.image("mounts")
    let root = try project(
      name,
      compose:
        "services:\n  web:\n    build: web\n    command: [\"sleep\", \"60\"]\n    volumes: [\"/etc:/host-etc:ro\"]\n",
      check: "true\n")
    let refused = try dstack(["build", "--name", name], in: root)
    #expect(refused.status != 0)
    #expect(
      refused.errorOutput.contains(
        "services.web in \(root)/compose.yaml asks for options that reach the host: --volume=/etc:/host-etc:ro "
          + "(mounts /etc from outside the project)"), "\(refused.errorOutput)")
    let allowed = try dstack(["allow"], in: root)
    #expect(allowed.status == 0, "\(allowed.errorOutput)")
    #expect(allowed.output.contains("services.web in \(root)/compose.yaml:"), "\(allowed.output)")
    #expect(allowed.output.contains("allowed \(root)/compose.yaml as it is now"), "\(allowed.output)")
    let built = try dstack(["build", "--name", name], in: root)
    #expect(built.status == 0, "\(built.errorOutput)")

    try scratch.write(
      "\(name)/compose.yaml", "services:\n  web:\n    build: web\n    privileged: true\n    restart: always\n")
    let unknown = try dstack(["build", "--name", name], in: root)
    #expect(
      unknown.errorOutput.contains(
        "\(root)/compose.yaml: services.web: 'restart' is not in the part of the Compose Specification dstack reads"),
      "\(unknown.errorOutput)")
    let left = try leftOver(name)
    #expect(left.isEmpty, "nothing left: \(left)")
  }

  @Test("long-lived services: up, run joins them, down keeps their data until --volumes")
  func longLived() throws {
    let name = scratch.image("kept")
    let root = try project(
      name,
      compose: """
        services:
          web:
            build: web
            command: ["sh", "-c", "echo run >> /data/starts; cp /data/starts /tmp/index.html; httpd -f -p 8080 -h /tmp"]
            volumes: ["data:/data"]
            healthcheck: {test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/index.html"], interval: 1s, timeout: 5s, retries: 30}
        """, check: "true\n")
    #expect(try runner.run(["docker", "tag", "busybox", "\(name):24.01.01"]).succeeded)
    let group = "dstack-root-\(name)"
    defer { _ = try? dstack(["services", "down", "--volumes"], in: root) }
    let up = try dstack(["services", "up"], in: root)
    #expect(up.status == 0 && up.output.contains("\(group): up"), "\(up.errorOutput)")
    let listed = try dstack(["services", "ps"], in: root)
    #expect(listed.output.contains("\(group)-web") && listed.output.contains("running"), "\(listed.output)")
    // run of the project's image joins their network; a second `up` leaves them as they are.
    let fetched = try dstack(["run", name, "wget", "-qO-", "http://web:8080/index.html"], in: root)
    #expect(fetched.status == 0 && fetched.output == "run", "\(fetched.output) \(fetched.errorOutput)")
    #expect(!fetched.errorOutput.contains("starting the service"), "already up: \(fetched.errorOutput)")
    let down = try dstack(["services", "down"], in: root)
    #expect(down.status == 0, "\(down.errorOutput)")
    #expect(try runner.run(["docker", "ps", "-aq", "--filter", "name=\(group)-web"]).output.isEmpty)
    // Up again: the data is the same volume's.
    #expect(try dstack(["services", "up"], in: root).status == 0)
    let again = try dstack(["run", name, "wget", "-qO-", "http://web:8080/index.html"], in: root)
    #expect(again.output == "run\nrun", "the volume kept the first start: \(again.output)")
    let gone = try dstack(["services", "down", "--volumes"], in: root)
    #expect(gone.status == 0, "\(gone.errorOutput)")
    let volumes = try runner.run(["docker", "volume", "ls", "-q", "--filter", "name=\(group)-"]).output
    #expect(volumes.isEmpty, "\(volumes)")
  }

  @Test(
    "a web app's tests get a fresh PostgreSQL each build (its own USER postgres), and run a kept one, as the README shows"
  )
  func postgres() throws {
    let name = scratch.image("shop")
    let debian = "FROM dstack-test/debian:bookworm\nRUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get "
    try scratch.write(
      "\(name)/docker/Dockerfile",
      debian + "install -y -qq --no-install-recommends postgresql-client >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        + "# dstack: test=sh /dstack/project/tests/check.sh\n")
    // PostgreSQL from Debian's packages; it refuses to run as root, so its USER must stay.
    try scratch.write(
      "\(name)/db/Dockerfile",
      debian + "install -y -qq --no-install-recommends postgresql >/dev/null && rm -rf /var/lib/apt/lists/*\n"
        + "USER postgres\nENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data\n"
        + "RUN initdb --auth=trust --username=postgres >/dev/null && echo \"listen_addresses='*'\" >> $PGDATA/postgresql.conf"
        + " && echo 'host all all 0.0.0.0/0 trust' >> $PGDATA/pg_hba.conf\nCMD [\"postgres\"]\n")
    try scratch.write(
      "\(name)/compose.yaml",
      """
      services:
        db:
          build: db
          volumes: ["pgdata:/var/lib/postgresql/data"]
          healthcheck: {test: ["CMD", "pg_isready", "-h", "127.0.0.1"], interval: 1s, retries: 60}
      """)
    // A table that exists already fails the tests: the database is fresh for each build.
    try scratch.write(
      "\(name)/tests/check.sh",
      "set -e\npsql -h db -U postgres -c 'create table orders (id int)'\n"
        + "psql -h db -U postgres -tAc 'select count(*) from orders'\n")
    let root = scratch.path(name)
    for round in 1...2 {
      let built = try dstack(["build", "--name", name], in: root)
      #expect(built.status == 0, "build \(round): \(built.errorOutput)")
      #expect(built.output.contains("CREATE TABLE"), "build \(round): \(built.output)")
      try keepServiceLayers(of: name)
    }
    #expect(try leftOver(name).isEmpty, "nothing left")

    // Long-lived: run (which starts them) writes, a later run reads it back.
    defer { _ = try? dstack(["services", "down", "--volumes"], in: root) }
    let made = try dstack(
      ["run", name, "psql", "-h", "db", "-U", "postgres", "-c", "create table kept (id int)"], in: root)
    #expect(made.status == 0 && made.output == "CREATE TABLE", "\(made.output) \(made.errorOutput)")
    let read = try dstack(
      ["run", name, "psql", "-h", "db", "-U", "postgres", "-tAc", "select count(*) from kept"], in: root)
    #expect(read.output == "0", "the kept database: \(read.output) \(read.errorOutput)")
  }

  /// Keeps the layers of the test's app and database images for the next test run (as
  /// `dstack-test/services:NAME`): apt-get install is the slow part of their builds.
  private func keepServiceLayers(of name: String) throws {
    let images = try runner.run([
      "docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=\(name):*",
      "--filter", "reference=dstack-services/*-\(name)-db:*",
    ]).output.split(separator: "\n")
    for image in images {
      let kind = image.hasPrefix("dstack-services/") ? "postgres-db" : "postgres-app"
      _ = try runner.run(["docker", "tag", String(image), "dstack-test/services:\(kind)"])
    }
  }

  @Test("the services start while the image builds, and a build stopped then (SIGTERM) removes them")
  func stoppedWhileBuilding() throws {
    let name = scratch.image("stopped")
    let root = try project(
      name, compose: "services:\n  web:\n    build: web\n    command: [\"sleep\", \"300\"]\n", check: "true\n")
    // A step no cache holds, so the build is still running when the signal comes.
    try scratch.write("\(name)/docker/Dockerfile", "FROM busybox\nRUN echo \(name) && sleep 60\n# dstack: test=true\n")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: DstackBinary.path)
    process.arguments = ["run-script", "--offline", "--scripts", Checkout.miniScripts, "build", "--name", name]
    process.currentDirectoryURL = URL(fileURLWithPath: root)
    process.environment = ProcessInfo.processInfo.environment.merging(["DSTACK_NAMESPACE": ""]) { $1 }
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    var running = ""
    // Until the service runs, which is before the image's build ends: two minutes at most.
    for _ in 0..<480 where !running.contains("-\(name)-svc-") {
      running = try runner.run([
        "docker", "ps", "--filter", "label=io.dstack.services", "--filter", "status=running", "--format", "{{.Names}}",
      ]).output
      usleep(250_000)
    }
    #expect(running.contains("-\(name)-svc-"), "the service runs during the build")
    usleep(500_000)
    kill(process.processIdentifier, SIGTERM)
    let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGTERM, "\(output)")
    #expect(output.contains("building \(name):"), "the signal came during the image's build: \(output)")
    let left = try leftOver(name)
    #expect(left.isEmpty, "nothing left: \(left)")
  }

  @Test("the services of a build that was killed are removed by the next build")
  func killedBuild() throws {
    let name = scratch.image("killed")
    let root = try project(
      name, compose: "services:\n  web:\n    build: web\n    command: [\"sleep\", \"300\"]\n", check: "sleep 300\n")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: DstackBinary.path)
    process.arguments = ["run-script", "--offline", "--scripts", Checkout.miniScripts, "build", "--name", name]
    process.currentDirectoryURL = URL(fileURLWithPath: root)
    process.environment = ProcessInfo.processInfo.environment.merging(["DSTACK_NAMESPACE": ""]) { $1 }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    var started = ""
    // Until its tests run (their container is named after the project), two minutes at most.
    for _ in 0..<480 where !started.contains("\(name)-test-") {
      started = try runner.run(["docker", "ps", "--filter", "name=\(name)-test-", "--format", "{{.Names}}"]).output
      usleep(250_000)
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    let killedLeft = try leftOver(name)
    #expect(!killedLeft.isEmpty, "the killed build left its services: \(started)")
    try scratch.write("\(name)/tests/check.sh", "true\n")
    try scratch.write("\(name)/compose.yaml", "services:\n  web:\n    build: web\n    command: [\"sleep\", \"300\"]\n")
    let next = try dstack(["build", "--name", name], in: root)
    #expect(next.status == 0, "\(next.errorOutput)")
    #expect(next.errorOutput.contains("removing the services of a build that did not end"), "\(next.errorOutput)")
    let left = try leftOver(name)
    #expect(left.isEmpty, "nothing left: \(left)")
  }

  @Test(
    "two teammates build one project at once on one engine: each build's tests see its own service, image and data; a name without a tag then means each one's own build",
    .requiresLocalUsers)
  func teammates() throws {
    let name = scratch.image("team")
    let users = [try LocalUser(groups: ["docker"]), try LocalUser(groups: ["docker"])]
    defer { users.forEach { $0.remove() } }
    let docker = getgrnam("docker").map { $0.pointee.gr_gid } ?? 0
    var builds: [(user: LocalUser, root: String, process: Process, output: Pipe)] = []
    for user in users {
      let home = scratch.path("home-\(user.name)")
      let root = home + "/team"
      try scratch.write(
        "home-\(user.name)/team/docker/Dockerfile",
        "FROM busybox\nCOPY who.txt /who.txt\n# dstack: test=sh /dstack/project/tests/check.sh\n")
      try scratch.write("home-\(user.name)/team/docker/who.txt", user.name + "\n")
      try scratch.write(
        "home-\(user.name)/team/compose.yaml",
        """
        services:
          web:
            build: web
            command: ["sh", "-c", "ls /data > /www/data.txt; touch /data/used; touch /www/ready; httpd -f -p 8080 -h /www"]
            volumes: ["data:/data"]
            healthcheck: {test: ["CMD", "test", "-f", "/www/ready"], interval: 1s, retries: 60}
        """)
      try scratch.write("home-\(user.name)/team/web/Dockerfile", "FROM busybox\nCOPY index.html /www/index.html\n")
      try scratch.write("home-\(user.name)/team/web/index.html", user.name + "\n")
      try scratch.write(
        "home-\(user.name)/team/tests/check.sh",
        "set -e\nwget -qO- http://web:8080/index.html | grep -x \(user.name)\n"
          + "test -z \"$(wget -qO- http://web:8080/data.txt)\"\necho SAW-OWN-SERVICE\n")
      user.own(home)
      _ = try runner.run(["chown", "-R", "\(user.uid):\(user.gid)", home])
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
      process.arguments = [
        "--reuid=\(user.uid)", "--regid=\(user.gid)", "--groups=\(docker)", DstackBinary.path, "run-script",
        "--offline", "--scripts", Checkout.miniScripts, "build", "--name", name,
      ]
      process.currentDirectoryURL = URL(fileURLWithPath: root)
      process.environment = ProcessInfo.processInfo.environment.merging(teammate(home)) { $1 }
      let output = Pipe()
      (process.standardOutput, process.standardError) = (output, output)
      builds.append((user, root, process, output))
    }
    for build in builds { try build.process.run() }
    for build in builds {
      let output = String(decoding: build.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      build.process.waitUntilExit()
      #expect(build.process.terminationStatus == 0, "\(build.user.name): \(output)")
      #expect(output.contains("SAW-OWN-SERVICE"), "\(build.user.name)'s tests saw their own service: \(output)")
    }
    for build in builds {
      let home = scratch.path("home-\(build.user.name)")
      let ran = try runner.run(
        [
          "setpriv", "--reuid=\(build.user.uid)", "--regid=\(build.user.gid)", "--groups=\(docker)", DstackBinary.path,
          "run-script", "--offline", "--scripts", Checkout.miniScripts, "run", "--root", name, "cat", "/who.txt",
        ], directory: home, extraEnvironment: teammate(home))
      #expect(ran.output == build.user.name, "\(build.user.name)'s run: \(ran.output) \(ran.errorOutput)")
    }
    let left = try leftOver(name)
    #expect(left.isEmpty, "nothing left: \(left)")
  }

  /// A teammate's own settings: home, configuration, cache and work folders.
  private func teammate(_ home: String) -> [String: String] {
    [
      "DSTACK_NAMESPACE": "", "HOME": home, "DSTACK_CACHE_DIR": home + "/cache", "XDG_CONFIG_HOME": home + "/config",
      "DSTACK_WORK": home + "/work",
    ]
  }
}
