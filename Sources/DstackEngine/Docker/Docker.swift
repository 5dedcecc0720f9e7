import FoundationEssentials
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Runs the `docker` CLI with argv arrays, so `DOCKER_HOST`, contexts, credential
/// helpers and BuildKit behave exactly as the user's own docker does.
///
/// Commands that change state go through `change`, which in dry-run mode prints the
/// exact command (shell-quoted, ready to paste) instead of running it; queries always run.
package final class Docker {
  /// The docker program (looked up on PATH).
  package let program: String
  let runner: ProcessRunner
  private let dryRunSwitch: DryRunSwitch
  private let printCommand: (String) -> Void
  /// The local Engine API socket for the hot image queries, when the CLI would use it too;
  /// its answers are remembered while the engine's event log proves them current.
  private let answers: EngineAnswerCache?

  package init(
    runner: ProcessRunner, environment: HostEnvironment, dryRun: DryRunSwitch, program: String = "docker",
    printCommand: @escaping (String) -> Void = { print($0) }
  ) {
    self.runner = runner
    self.dryRunSwitch = dryRun
    self.program = program
    self.printCommand = printCommand
    self.answers = DockerEngineSocket.detect(environment: environment).map {
      EngineAnswerCache(folder: environment.cacheDirectory + "/engine", engine: $0)
    }
    if let answers { HTTP.connectInBackground(socket: answers.engine.path) }
  }

  /// Whether state-changing commands are printed instead of run.
  package var isDryRun: Bool { dryRunSwitch.isOn }

  /// Runs a state-changing command, or prints it in dry-run mode (then returns nil).
  /// Output goes where `stdout`/`stderr` say; a non-zero status is returned, except
  /// that an unreachable daemon or missing CLI throws `DockerError`. An `uninterruptible`
  /// command runs to its end whatever stop signal arrives (`ProcessRunner.run`).
  package func change(
    _ arguments: [String], stdin: InputMode = .null, stdout: OutputMode = .standardError,
    stderr: OutputMode = .inherit, uninterruptible: Bool = false, timeout: Duration? = nil
  ) throws(DockerError) -> ProcessResult? {
    let argv = [program] + arguments
    if isDryRun {
      printCommand(shellCommandLine(argv))
      return nil
    }
    defer { answers?.forgetEvents() }
    let result = try start(
      argv, stdin: stdin, stdout: stdout, stderr: stderr, uninterruptible: uninterruptible, timeout: timeout)
    if !result.succeeded { try checkDaemon() }
    return result
  }

  /// Runs a query (always, even in dry-run mode) and captures its output.
  /// - Throws: `DockerError` when docker is missing, the daemon is unreachable, or the
  ///   command fails.
  package func query(_ arguments: [String]) throws(DockerError) -> ProcessResult {
    let argv = [program] + arguments
    let result = try start(argv, stdin: .null, stdout: .capture, stderr: .capture)
    guard result.succeeded else {
      if let unreachable = DockerError.daemonProblem(in: result.errorOutput) { throw unreachable }
      throw .failed(command: argv, status: result.status, detail: result.errorOutput)
    }
    return result
  }

  /// Runs a query (always, even in dry-run mode) with the terminal shared, so its output
  /// shows live (`docker logs --follow`); a non-zero status is returned.
  package func stream(_ arguments: [String]) throws(DockerError) -> ProcessResult {
    let result = try start([program] + arguments, stdin: .inherit, stdout: .inherit, stderr: .inherit)
    if !result.succeeded { try checkDaemon() }
    return result
  }

  /// Decodes one JSON document per output line (`--format '{{json .}}'`).
  package func queryJSONLines(_ arguments: [String]) throws(DockerError) -> [JSONValue] {
    let result = try query(arguments)
    var values: [JSONValue] = []
    for line in result.stdout.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
      guard let value = try? JSONValue.decode(line) else {
        throw .unexpectedOutput(command: [program] + arguments)
      }
      values.append(value)
    }
    return values
  }

  /// The local tags of `repository` and the image ID each points to. On the engine
  /// socket, an answer read earlier is reused while the engine's events prove it current
  /// (see `EngineAnswerCache`), so the cost does not grow with the engine's image count.
  package func localTags(_ repository: String) throws(DockerError) -> [(tag: String, imageID: Digest)] {
    let filter = #"{"reference":["\#(repository)"]}"#
    if let (status, body) = answers?.get(
      "/images/json?filters=" + DockerEngineSocket.encode(filter), about: RegistryRepository(repository)),
      status == 200
    {
      struct Image: Decodable {
        let id: Digest
        let repoTags: [String]?
        enum CodingKeys: String, CodingKey {
          case id = "Id"
          case repoTags = "RepoTags"
        }
      }
      guard let images = try? JSONDecoder().decode([Image].self, from: Data(body)) else {
        throw .unexpectedOutput(command: [program, "image", "ls", repository])
      }
      // Podman names `team/app` as `docker.io/team/app`: the same repository.
      let wanted = RegistryRepository(repository)
      return images.flatMap { image in
        (image.repoTags ?? []).map { ImageReference(parsing: $0) }.filter {
          RegistryRepository($0.repository) == wanted
        }
        .compactMap { reference in reference.tag.map { ($0, image.id) } }
      }
    }
    let listing = try query(["image", "ls", "--no-trunc", "--format", "{{.Tag}}\t{{.ID}}", repository])
    return listing.output.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: "\t")
      guard fields.count == 2, let id = Digest(String(fields[1])) else { return nil }
      return (String(fields[0]), id)
    }
  }

  /// The containers, in every state, that match every one of `filters` (docker ps's:
  /// `("label", "io.dstack.user=ann")`, `("name", "web")`, `("status", "running")`). On the
  /// engine socket when the CLI would use it, never remembered (containers come and go).
  package func containers(filters: [(name: String, value: String)]) throws(DockerError) -> [ContainerSummary] {
    if let engine = answers?.engine {
      var grouped: [String: [String]] = [:]
      for filter in filters { grouped[filter.name, default: []].append(filter.value) }
      let query = String(decoding: (try? JSONEncoder().encode(grouped)) ?? Data("{}".utf8), as: UTF8.self)
      if let (status, body) = engine.get("/containers/json?all=1&filters=" + DockerEngineSocket.encode(query)),
        status == 200
      {
        guard let rows = try? JSONDecoder().decode([ContainerSummary].self, from: Data(body)) else {
          throw .unexpectedOutput(command: [program, "ps"])
        }
        return rows
      }
    }
    let words = filters.flatMap { ["--filter", "\($0.name)=\($0.value)"] }
    let listing = try query(["ps", "--all", "--no-trunc", "--format", "{{json .}}"] + words)
    return try listing.output.split(separator: "\n").map { (line) throws(DockerError) -> ContainerSummary in
      guard let row = try? JSONDecoder().decode(ContainerSummary.self, from: Data(line.utf8)) else {
        throw .unexpectedOutput(command: [program, "ps"])
      }
      return row
    }
  }

  /// `docker image inspect` of one image, or nil when there is no such image locally.
  package func inspectImage(_ reference: String) throws(DockerError) -> JSONValue? {
    // A name or ID only: path parts such as `..` would reach other endpoints of the socket.
    let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
    guard !reference.isEmpty, !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }),
      !reference.contains(where: { $0 == "?" || $0 == "#" || $0 == "%" || $0.isWhitespace })
    else { return nil }
    if let (status, body) = answers?.get("/images/\(DockerEngineSocket.encode(reference))/json"),
      status == 200 || status == 404
    {
      guard status == 200 else { return nil }
      guard let image = try? JSONValue.decode(body) else {
        throw .unexpectedOutput(command: [program, "image", "inspect", reference])
      }
      return image
    }
    let result = try start(
      [program, "image", "inspect", "--format", "{{json .}}", reference], stdin: .null, stdout: .capture,
      stderr: .capture)
    guard result.succeeded else {
      if let problem = DockerError.daemonProblem(in: result.errorOutput) { throw problem }
      return nil
    }
    guard let image = try? JSONValue.decode(result.stdout) else {
      throw .unexpectedOutput(command: [program, "image", "inspect", reference])
    }
    return image
  }

  /// Confirms the daemon answers; throws the reason when it does not.
  package func checkDaemon() throws(DockerError) {
    let result = try start(
      [program, "version", "--format", "{{.Server.Version}}"], stdin: .null, stdout: .capture,
      stderr: .capture)
    if !result.succeeded {
      throw DockerError.daemonProblem(in: result.errorOutput)
        ?? .daemonUnreachable(detail: result.errorOutput.lastLine)
    }
  }

  private func start(
    _ argv: [String], stdin: InputMode, stdout: OutputMode, stderr: OutputMode, uninterruptible: Bool = false,
    timeout: Duration? = nil
  ) throws(DockerError) -> ProcessResult {
    do {
      return try runner.run(
        argv, stdin: stdin, stdout: stdout, stderr: stderr, timeout: timeout, uninterruptible: uninterruptible)
    } catch .notFound {
      throw .cliMissing(program: program)
    } catch .timedOut(_, let limit) {
      throw .timedOut(command: argv, limit: limit)
    } catch {
      throw .cannotStart(detail: error.description)
    }
  }
}

/// One container as `Docker.containers` lists it, read from the engine's list (`Names` a
/// list, `Labels` a map) or from `docker ps --format '{{json .}}'` (a string each).
package struct ContainerSummary: Sendable, Equatable, Decodable {
  package let id: String
  /// Its names, joined with commas (as `docker ps` shows them).
  package let names: String
  package let image: String
  /// `running`, `exited`, `created`, …
  package let state: String
  /// For people: `Up 3 minutes (healthy)`.
  package let status: String
  package let labels: [String: String]

  private enum Field: String, CodingKey {
    case engineID = "Id"
    case cliID = "ID"
    case names = "Names"
    case image = "Image"
    case state = "State"
    case status = "Status"
    case labels = "Labels"
  }

  package init(from decoder: any Decoder) throws {
    let fields = try decoder.container(keyedBy: Field.self)
    id = try fields.decodeIfPresent(String.self, forKey: .engineID) ?? fields.decode(String.self, forKey: .cliID)
    if let list = try? fields.decode([String].self, forKey: .names) {
      names = list.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 }.joined(separator: ",")
    } else {
      names = try fields.decodeIfPresent(String.self, forKey: .names) ?? ""
    }
    image = try fields.decodeIfPresent(String.self, forKey: .image) ?? ""
    state = try fields.decodeIfPresent(String.self, forKey: .state) ?? ""
    status = try fields.decodeIfPresent(String.self, forKey: .status) ?? ""
    if let map = try? fields.decode([String: String].self, forKey: .labels) {
      labels = map
    } else {
      // The CLI's `key=value,key=value` (a value with a comma cannot be told apart there).
      var pairs: [String: String] = [:]
      for pair in (try fields.decodeIfPresent(String.self, forKey: .labels) ?? "").split(separator: ",") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        pairs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
      }
      labels = pairs
    }
  }
}

/// Whether docker commands that change state are only printed. Scripts may turn it
/// on (for their own `--dry-run` option) but never off.
package final class DryRunSwitch: Sendable {
  private let on: Atomic<Bool>
  package init(_ isOn: Bool) { on = Atomic(isOn) }
  package var isOn: Bool { on.load(ordering: .relaxed) }
  package func enable() { on.store(true, ordering: .relaxed) }
}

/// Why a docker command could not do its job.
package enum DockerError: Error, CustomStringConvertible {
  case cliMissing(program: String)
  case cannotStart(detail: String)
  case daemonUnreachable(detail: String)
  case permissionDenied(detail: String)
  case failed(command: [String], status: Int32, detail: String)
  case unexpectedOutput(command: [String])
  /// The command ran past its time limit and was stopped.
  case timedOut(command: [String], limit: Duration)

  /// True for problems of the machine rather than of the command (scripts cannot fix them).
  package var isEnvironmentProblem: Bool {
    switch self {
    case .cliMissing, .cannotStart, .daemonUnreachable, .permissionDenied: true
    case .failed, .unexpectedOutput, .timedOut: false
    }
  }

  package var description: String {
    switch self {
    case .cliMissing(let program):
      "the Docker CLI ('\(program)') is not on PATH; install it (Debian: apt-get install docker.io) or fix PATH"
    case .cannotStart(let detail):
      "cannot start the Docker CLI: \(detail)"
    case .daemonUnreachable(let detail):
      "cannot reach the Docker daemon (\(detail)); start it (systemctl start docker, or run dockerd as root) or point DOCKER_HOST at a running one"
    case .permissionDenied(let detail):
      "no permission to use the Docker daemon (\(detail)); add your user to the 'docker' group and log in again"
    case .failed(let command, let status, let detail):
      "\(shellCommandLine(Array(command.prefix(3)))) failed (exit \(status))"
        + (detail.isEmpty ? "" : ": \(detail.lastLine)")
    case .unexpectedOutput(let command):
      "\(shellCommandLine(Array(command.prefix(3)))) printed output dstack cannot read"
    case .timedOut(let command, let limit):
      "\(shellCommandLine(Array(command.prefix(3)))) did not finish within \(limit.secondsText) and was stopped"
    }
  }

  /// Recognises the CLI's messages for a daemon that is down or forbidden.
  static func daemonProblem(in stderr: String) -> DockerError? {
    let detail = stderr.lastLine
    if stderr.contains("permission denied while trying to connect") {
      return .permissionDenied(detail: detail)
    }
    if stderr.contains("Cannot connect to the Docker daemon") || stderr.contains("Is the docker daemon running")
      || stderr.contains("error during connect")
    {
      return .daemonUnreachable(detail: detail)
    }
    return nil
  }
}

extension String {
  /// The last non-empty line, trimmed (docker's most specific message).
  var lastLine: String {
    split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }
      .map(\.trimmed) ?? ""
  }
}
