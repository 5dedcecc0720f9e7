import DstackEngine
import DstackHost
import DstackTestSupport
import Foundation
import Testing

/// `submit`, `jobs`, `logs` and `cancel`: project images run as jobs on a real Swarm, a
/// second engine of the test's own made a single-node manager (see `SecondEngine`) that
/// pulls from the loopback registry and advertises two fake GPUs; dstack reaches it
/// through a docker context, so the local engine stays the main one, never in swarm mode.
@Suite("Jobs on a Docker Swarm cluster", .serialized, .requiresDocker, .ownThreads)
final class SwarmTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  let engine: SecondEngine
  /// The docker context that names the swarm engine (in the test's own DOCKER_CONFIG).
  let context: String
  /// The node's host name, as jobs report it.
  let node: String
  /// A version of a busybox image in the loopback registry, and the repository.
  let repository: String
  let image: String

  init() throws {
    engine = try SecondEngine(
      directory: scratch.path("engine"), genericResources: ["NVIDIA-GPU=fake-gpu-0", "NVIDIA-GPU=fake-gpu-1"],
      role: .manager())
    context = scratch.prefix + "-swarm"
    let created = try runner.run([
      "docker", "--config", scratch.path("docker-config"), "context", "create", context, "--docker",
      "host=\(engine.host)",
    ])
    guard created.succeeded else { throw SecondEngine.Failure("docker context create failed: \(created.errorOutput)") }
    node = try engine.docker(["node", "ls", "--format", "{{.Hostname}}"]).output
    repository = "\(DockerProbe.registry)/\(scratch.prefix)-team/job"
    image = repository + ":24.01.01"
    #expect(try runner.run(["docker", "tag", "busybox", image]).succeeded)
    #expect(try runner.run(["docker", "push", "--quiet", image]).succeeded)
  }

  deinit {
    engine.stop()
    scratch.cleanUp()
  }

  /// `dstack run-script SCRIPT ARGUMENTS` with the checkout's scripts, the user's own engine
  /// choice and namespace left out, plus `variables`.
  private func dstack(
    _ script: String, _ arguments: [String], _ variables: [String: String] = [:], in directory: String? = nil
  ) throws -> ProcessResult {
    var environment = ProcessInfo.processInfo.environment
    for name in ["DOCKER_HOST", "DOCKER_CONTEXT", "DSTACK_NAMESPACE", "DSTACK_CLUSTER"] { environment[name] = nil }
    environment["DOCKER_CONFIG"] = scratch.path("docker-config")
    environment["DSTACK_CACHE_DIR"] = scratch.path("cache")
    environment["XDG_CONFIG_HOME"] = scratch.path("config")
    return try ProcessRunner(environment: environment.merging(variables) { $1 }).run(
      [DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts, script] + arguments, directory: directory)
  }

  /// The services on the swarm engine.
  private func services() throws -> [String] {
    try engine.docker(["service", "ls", "--format", "{{.Name}}"]).output.split(separator: "\n").map(String.init)
  }

  /// The raw output of every task of `job`, one line each.
  private func output(of job: String) throws -> [String] {
    try engine.docker(["service", "logs", "--raw", job]).output.split(separator: "\n").map(String.init)
  }

  /// The job's name, from submit's progress line `following job NAME (…`.
  private func jobName(_ result: ProcessResult) -> String {
    let line = result.errorOutput.split(separator: "\n").first { $0.contains("following job ") } ?? ""
    return line.components(separatedBy: "following job ").last?.split(separator: " ").first.map(String.init) ?? ""
  }

  @Test("a 3-task job runs the newest version pinned by digest, each DSTACK_TASK_INDEX exactly once, with the labels")
  func shards() throws {
    let submitted = try dstack(
      "submit",
      [
        "--context", context, "--replicas", "3", "-e", "GREETING=hi", repository, "sh", "-c",
        "echo \"$GREETING index=$DSTACK_TASK_INDEX of $DSTACK_TASK_COUNT\"",
      ])
    #expect(submitted.status == 0, "\(submitted.errorOutput)")
    let job = jobName(submitted)
    #expect(job.hasPrefix("root-job-") || job.contains("-job-"), "\(submitted.errorOutput)")
    for index in 0..<3 {
      #expect(
        submitted.output.contains("task \(index) on \(node): complete, exit code 0"), "\(submitted.output)")
    }
    #expect(try output(of: job).sorted() == ["hi index=0 of 3", "hi index=1 of 3", "hi index=2 of 3"])

    let spec = try engine.docker(["service", "inspect", "--format", "{{json .Spec}}", job]).output
    let decoded = try #require(try JSONSerialization.jsonObject(with: Data(spec.utf8)) as? [String: Any])
    let labels = try #require(decoded["Labels"] as? [String: String])
    #expect(labels["io.dstack.image"] == repository)
    #expect(labels["io.dstack.version"] == "24.01.01")
    #expect(labels["io.dstack.job"] == job)
    #expect(labels["io.dstack.user"] == String(cString: getpwuid(getuid()).pointee.pw_name))
    let digest = try runner.run(["docker", "image", "inspect", "--format", "{{index .RepoDigests 0}}", image]).output
    let pinned = ((decoded["TaskTemplate"] as? [String: Any])?["ContainerSpec"] as? [String: Any])?["Image"] as? String
    #expect(pinned == image + "@" + (digest.split(separator: "@").last.map(String.init) ?? "?"))

    let logs = try dstack("logs", ["--context", context, job])
    #expect(logs.status == 0, "\(logs.errorOutput)")
    for index in 0..<3 { #expect(logs.output.contains("\(job).\(index)@\(node)"), "\(logs.output)") }

    let running = try dstack("jobs", ["--context", context])
    #expect(!running.output.contains(job), "a finished job is listed without --all: \(running.output)")
    let all = try dstack("jobs", ["--context", context, "--all"])
    let row = all.output.split(separator: "\n").first { $0.hasPrefix(job) }.map {
      $0.split(separator: " ").map(String.init)
    }
    #expect(row.map { Array($0.prefix(7)) } == [job, repository, "24.01.01", "3/3", "0", "0", "0"], "\(all.output)")
    let pruned = try dstack("jobs", ["--context", context, "--prune"])
    #expect(pruned.output == "removed \(job)", "\(pruned.errorOutput)")
    #expect(try services().isEmpty)
  }

  @Test("a failing task is retried with its own index, and submit exits with its code, naming task and node")
  func failure() throws {
    let submitted = try dstack(
      "submit",
      [
        "--context", context, "--replicas", "2", "--retries", "1", image, "sh", "-c",
        "echo attempt of $DSTACK_TASK_INDEX; [ $DSTACK_TASK_INDEX = 1 ] && exit 7; exit 0",
      ])
    #expect(submitted.status == 7, "\(submitted.errorOutput)")
    let job = jobName(submitted)
    #expect(
      submitted.errorOutput.contains("task 1 of job \(job) failed on node \(node) with exit code 7"),
      "\(submitted.errorOutput)")
    #expect(submitted.output.contains("task 0 on \(node): complete, exit code 0"), "\(submitted.output)")
    #expect(submitted.output.contains("task 1 on \(node): failed, exit code 7"), "\(submitted.output)")
    #expect(try output(of: job).sorted() == ["attempt of 0", "attempt of 1", "attempt of 1"])
  }

  @Test(
    "GPU tasks get a fake GPU each; a task no node can take is refused with Swarm's reason, removed or left waiting")
  func gpus() throws {
    let submitted = try dstack("submit", ["--context", context, "--gpus", "1", "--replicas", "2", image, "env"])
    #expect(submitted.status == 0, "\(submitted.errorOutput)")
    let seen = try output(of: jobName(submitted)).filter { $0.hasPrefix("DOCKER_RESOURCE_NVIDIA-GPU=") }
    #expect(seen.count == 2 && seen.allSatisfy { $0.hasPrefix("DOCKER_RESOURCE_NVIDIA-GPU=fake-gpu-") }, "\(seen)")

    let refused = try dstack(
      "submit", ["--context", context, "--gpus", "3", "--pending-timeout", "2", image, "true"])
    #expect(refused.status != 0)
    let job = jobName(refused)
    #expect(
      refused.errorOutput.contains(
        "task 0 of job \(job) could not be placed within 2 s: no suitable node (insufficient resources on 1 node); "
          + "removed the job"), "\(refused.errorOutput)")
    #expect(try !services().contains(job))

    // A constraint no node matches, with --keep-pending: the job is left waiting.
    let waiting = try dstack(
      "submit",
      [
        "--context", context, "--constraint", "node.labels.zone==nowhere", "--pending-timeout", "1", "--keep-pending",
        image, "true",
      ])
    #expect(waiting.status == 1)
    let left = jobName(waiting)
    #expect(
      waiting.errorOutput.contains(
        "could not be placed within 1 s: no suitable node (scheduling constraints not satisfied on 1 node); "
          + "the job keeps waiting (`dstack run-script cancel \(left)` removes it)"), "\(waiting.errorOutput)")
    #expect(try services().contains(left))
  }

  @Test("doctor shows the cluster: the swarm, its node and the GPUs it advertises")
  func doctor() throws {
    let checked = try dstack("doctor", [], ["DSTACK_CLUSTER": context])
    #expect(checked.output.contains("swarm: manager, 1 node(s), 1 manager(s)"), "\(checked.output)")
    #expect(
      checked.output.contains("node \(node): active, manager, ready, GPUs: fake-gpu-0, fake-gpu-1"),
      "\(checked.output)")
  }

  @Test("a detached job is listed while it runs, and cancel by image removes it")
  func cancel() throws {
    let submitted = try dstack("submit", ["--context", context, "--detach", image, "sleep", "300"])
    #expect(submitted.status == 0, "\(submitted.errorOutput)")
    let job = submitted.output
    #expect(try services() == [job])
    let listed = try dstack("jobs", ["--context", context])
    #expect(listed.output.split(separator: "\n").contains { $0.hasPrefix(job + " ") }, "\(listed.output)")
    let cancelled = try dstack("cancel", ["--context", context, "job"])
    #expect(cancelled.output == "cancelled \(job)", "\(cancelled.errorOutput)")
    #expect(try services().isEmpty)
  }

  @Test("--dry-run prints every docker command, the push of a local-only image too, and changes nothing")
  func dryRun() throws {
    let local = scratch.image("local") + ":24.01.01"
    #expect(try runner.run(["docker", "tag", "busybox", local]).succeeded)
    let namespace = "\(DockerProbe.registry)/\(scratch.prefix)-dry"
    let printed = try dstack(
      "submit", ["--dry-run", "--replicas", "2", local, "true"],
      ["DSTACK_CLUSTER": context, "DSTACK_NAMESPACE": namespace])
    #expect(printed.status == 0, "\(printed.errorOutput)")
    let lines = printed.output.split(separator: "\n").map(String.init)
    #expect(lines.contains("docker tag \(local) \(namespace)/\(local)"), "\(printed.output)")
    #expect(lines.contains("docker push \(namespace)/\(local)"), "\(printed.output)")
    let create = lines.first { $0.hasPrefix("docker --context \(context) service create ") } ?? ""
    #expect(create.contains("--mode replicated-job --replicas 2"), "\(printed.output)")
    #expect(create.hasSuffix(" \(namespace)/\(local) true"), "\(create)")
    #expect(try services().isEmpty)
    #expect(try !runner.run(["docker", "image", "inspect", "\(namespace)/\(local)"]).succeeded)

    let refused = try dstack("submit", ["--dry-run", local, "true"], ["DSTACK_CLUSTER": context])
    #expect(refused.status == 1)
    #expect(refused.errorOutput.contains("\(local) exists only in this engine"), "\(refused.errorOutput)")
    #expect(refused.errorOutput.contains("set DSTACK_NAMESPACE=REGISTRY/TEAM"), "\(refused.errorOutput)")
    // In a project: `cluster=` names the cluster once the user allowed the file (a cloned
    // project must not choose where the user's credentials go), and run options become
    // service options.
    let dockerfile = try scratch.write(
      "job/docker/Dockerfile",
      "FROM busybox\n# dstack: namespace=\(DockerProbe.registry)/\(scratch.prefix)-team\n# dstack: cluster=\(context)\n"
        + "# dstack: run-options=-e MODE=fast --workdir /tmp --cpus=0.5\n")
    let unallowed = try dstack("submit", ["--dry-run", "job", "true"], in: scratch.path("job"))
    #expect(unallowed.status == 1)
    #expect(
      unallowed.errorOutput.contains(
        "cluster=\(context) in \(dockerfile) picks docker context \(context) for the job, which receives your registry credentials"
      ), "\(unallowed.errorOutput)")
    #expect(!unallowed.output.contains("service create"), "\(unallowed.output)")
    let allowed = try dstack("allow", [], in: scratch.path("job"))
    #expect(
      allowed.output.contains("cluster: \(context)\n  reaches the host: picks docker context"), "\(allowed.output)")
    let project = try dstack("submit", ["--dry-run", "job", "true"], in: scratch.path("job"))
    #expect(project.status == 0, "\(project.errorOutput)")
    #expect(
      project.output.contains(" --env=MODE=fast --workdir=/tmp --reserve-cpu=0.5 \(image)@sha256:"), "\(project.output)"
    )
    try (String(contentsOfFile: dockerfile, encoding: .utf8) + "# dstack: run-options=--shm-size=1g\n").write(
      toFile: dockerfile, atomically: true, encoding: .utf8)
    #expect(try dstack("allow", [], in: scratch.path("job")).status == 0)
    let unmapped = try dstack("submit", ["--dry-run", "job", "true"], in: scratch.path("job"))
    #expect(unmapped.status == 1)
    #expect(
      unmapped.errorOutput.contains("run-options in docker/Dockerfile: --shm-size has no equivalent for a Swarm job"),
      "\(unmapped.errorOutput)")
    #expect(try services().isEmpty)
  }

  @Test("an engine that is not in swarm mode is refused with `docker swarm init`")
  func notASwarm() throws {
    let refused = try dstack("submit", [image, "true"])
    #expect(refused.status == 1)
    #expect(
      refused.errorOutput.contains(
        "this machine's Docker engine is not in swarm mode: make it a cluster's manager with `docker swarm init`"),
      "\(refused.errorOutput)")
  }
}

/// A two-node cluster: the manager on this machine, and a worker engine in a network
/// namespace of the test's own (see `NetworkNamespace`), with a host name of its own.
@Suite("Jobs on a two-node Swarm cluster", .serialized, .requiresDocker, .ownThreads)
final class SwarmClusterTests {
  let scratch = Scratch()
  let runner = ProcessRunner.current
  let namespace: NetworkNamespace
  let manager: SecondEngine
  let worker: SecondEngine

  init() throws {
    namespace = try NetworkNamespace(registry: DockerProbe.registry)
    manager = try SecondEngine(directory: scratch.path("manager"), role: .manager(address: namespace.hostAddress))
    worker = try SecondEngine(directory: scratch.path("worker"), role: .worker(manager: manager, namespace: namespace))
  }

  deinit {
    worker.stop()
    manager.stop()
    namespace.stop()
    scratch.cleanUp()
  }

  /// A version of a busybox image in the loopback registry, which both nodes pull.
  private func pushedImage() throws -> String {
    let image = "\(DockerProbe.registry)/\(scratch.prefix)-team/job:24.01.01"
    #expect(try runner.run(["docker", "tag", "busybox", image]).succeeded)
    #expect(try runner.run(["docker", "push", "--quiet", image]).succeeded)
    return image
  }

  /// The environment of a dstack whose engine is `engine` (DOCKER_HOST: the cluster,
  /// image look-ups included), with the user's own cluster and namespace left out.
  private func environment(engine: SecondEngine) -> [String: String] {
    var environment = ProcessInfo.processInfo.environment
    for name in ["DOCKER_CONTEXT", "DSTACK_NAMESPACE", "DSTACK_CLUSTER"] { environment[name] = nil }
    environment["DSTACK_CACHE_DIR"] = scratch.path("cache")
    environment["DOCKER_HOST"] = engine.host
    return environment
  }

  @Test("a 4-task job with --max-concurrent 2 runs on both nodes, each DSTACK_TASK_INDEX once")
  func bothNodes() throws {
    let hostnames = try manager.docker(["node", "ls", "--format", "{{.Hostname}}"]).output.split(separator: "\n")
      .map(String.init)
    #expect(hostnames.count == 2 && Set(hostnames).count == 2, "\(hostnames)")
    let image = try pushedImage()
    let submitted = try ProcessRunner(environment: environment(engine: manager)).run([
      DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts, "submit", "--replicas", "4",
      "--max-concurrent", "2", image, "sh", "-c", "echo index=$DSTACK_TASK_INDEX; sleep 1",
    ])
    #expect(submitted.status == 0, "\(submitted.errorOutput)")
    let lines = submitted.output.split(separator: "\n").map(String.init)
    for hostname in hostnames {
      #expect(lines.contains { $0.contains(" on \(hostname): complete") }, "no task on \(hostname): \(lines)")
    }
    let job = try manager.docker(["service", "ls", "--format", "{{.Name}}"]).output
    let output = try manager.docker(["service", "logs", "--raw", job]).output.split(separator: "\n").sorted()
    #expect(output == ["index=0", "index=1", "index=2", "index=3"])

    // A worker takes no jobs: submit says to point at a manager.
    let refused = try ProcessRunner(environment: environment(engine: worker)).run([
      DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts, "submit", image, "true",
    ])
    #expect(refused.status == 1)
    #expect(
      refused.errorOutput.contains(
        "the engine at \(worker.host) is a swarm worker, and jobs go to a manager: point dstack at a manager with "
          + "--context NAME"), "\(refused.errorOutput)")
  }

  @Test("a node that goes down mid-job: submit names the task, the node and its state, and ends instead of waiting")
  func nodeDown() throws {
    let image = try pushedImage()
    let workerName = try worker.docker(["info", "--format", "{{.Name}}"]).output
    let cluster = environment(engine: manager)
    let submit = Process()
    submit.executableURL = URL(fileURLWithPath: DstackBinary.path)
    submit.arguments = [
      "run-script", "--scripts", Checkout.miniScripts, "submit", "--constraint", "node.role==worker", image, "sleep",
      "600",
    ]
    submit.environment = cluster
    let log = scratch.path("submit.log")
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    submit.standardError = FileHandle(forWritingAtPath: log)
    submit.standardOutput = FileHandle(forWritingAtPath: log)
    try submit.run()
    defer { if submit.isRunning { submit.terminate() } }
    var running = false
    for _ in 0..<120 where !running {
      usleep(500_000)
      running = !(try worker.docker(["ps", "--quiet"]).output.isEmpty)
    }
    #expect(running, "the task did not start on the worker")
    worker.stop()
    for _ in 0..<180 where submit.isRunning { usleep(500_000) }
    #expect(!submit.isRunning, "submit still follows a job whose node went down")
    submit.waitUntilExit()
    let output = try String(contentsOfFile: log, encoding: .utf8)
    #expect(submit.terminationStatus == 1, "\(output)")
    #expect(
      output.contains("task 0 on \(workerName): the node is down; the task was running, and Swarm does not move it"),
      "\(output)")
    #expect(output.contains("task 0 of job "), "\(output)")
    #expect(output.contains(" was lost: its node \(workerName) is down (the task was running there"), "\(output)")
    #expect(output.contains("`dstack run-script cancel "), "\(output)")
    // `jobs` counts the lost task as failed, so the job is over, not running forever.
    let listed = try ProcessRunner(environment: cluster).run([
      DstackBinary.path, "run-script", "--scripts", Checkout.miniScripts, "jobs", "--all",
    ])
    let row = listed.output.split(separator: "\n").last.map { $0.split(separator: " ").map(String.init) } ?? []
    #expect(
      row.count == 8 && row[3] == "0/1" && row[4] == "0" && row[6] == "1", "\(listed.output)\(listed.errorOutput)")
  }
}
