import DstackEngine
import DstackLua
import FoundationEssentials
import Logging

/// The Lua API that dstack offers scripts: one global table `dstack`, with namespaces
/// (`dstack.docker`, `dstack.fs`, …) of snake_case functions taking and returning plain
/// tables. Misuse raises an error; expected failures return `nil, message`.
///
/// This is a promise: every member belongs to an API level (`since`) and never changes
/// incompatibly. Level 1 is final from the first published mini on; new capability
/// means a new level, and scripts check `dstack.api` or call `dstack.require_api(level)`.
/// The host offers mechanisms (any docker command, registry reads, files, JSON,
/// processes); policy (which tag is newest, which flags a run gets) lives in the
/// scripts and their `lib/` modules. The reference page (`images/mini/API.md`) is
/// generated from these declarations, and a test fails when the two differ.
public enum HostAPI {
  /// The API level this host offers.
  public static let level = 2
  /// This host's version.
  public static let hostVersion = DstackRelease.version

  /// The `dstack` table for one script run.
  public static func export(for context: HostContext) -> HostExport {
    var root: [String: HostExport] = [:]
    for namespace in namespaces(for: context) {
      let members = Dictionary(
        uniqueKeysWithValues: namespace.members.map { ($0.name, $0.export(in: namespace.name)) })
      if namespace.name.isEmpty {
        root.merge(members) { first, _ in first }
      } else {
        root[namespace.name] = .namespace(name: "dstack.\(namespace.name)", members: members)
      }
    }
    return .namespace(name: "dstack", members: root)
  }

  /// The namespaces in reference order; the root namespace has an empty name.
  public static func namespaces(for context: HostContext) -> [APINamespace] {
    [
      RootAPI.namespace(context), VersionAPI.namespace, DockerAPI.namespace(context),
      RegistryAPI.namespace(context), FileSystemAPI.namespace(context), JSONAPI.namespace,
      EnvironmentAPI.namespace(context), ProcessAPI.namespace(context), LogAPI.namespace(context),
    ]
  }

  /// The reference page for script authors, in Markdown.
  public static func reference() -> String {
    let context = HostContext(
      scriptName: "reference", scriptOrigin: "", arguments: [],
      services: HostServices(
        environment: HostEnvironment(variables: [:], currentDirectory: "/"), logger: Logger(label: "dstack"),
        dryRun: DryRunSwitch(true)))
    var page = """
      # dstack host API, level \(level)

      Generated from the host's declarations (`swift run dstack api-reference`); a test fails
      when this page and the code differ. Scripts run in a sandbox: `string`, `table`, `math`,
      `utf8`, `coroutine`, `print` (to standard output), `os.time`/`os.date`/`os.clock`, and
      `require` for modules shipped beside the scripts (`lib/NAME.lua`). Everything else
      that touches the machine goes through `dstack`.

      **Level 1 is final.** It freezes with the first published mini: its members never
      change incompatibly and are never removed. New members come with level 2 and later,
      and a script that uses them calls `dstack.require_api(2)` (and its mini carries the
      `io.dstack.api` label that `scripts/publish-mini` sets), so an older dstack skips
      that mini instead of failing halfway.

      A test keeps the promise, as Neovim's does for its API levels: `api-level-1.txt` (beside
      this page) lists level 1's members with their signatures, and `APIReferenceTests` fails
      when one of them disappears or changes its signature, or when a member that is not in
      the list claims `since` 1.

      **Mechanism here, policy in the scripts.** The host runs any docker command
      (`docker.change`, `docker.query`), reads registries, files, JSON and processes. What
      to do with them (which tag is newest, which flags a run gets, how `build` maps its
      options) lives in the mini's `lib/` modules: `lib/docker.lua` offers `build`, `run`,
      `push`, `pull`, `tag`, `rmi`, `images`, `containers`, `info` and `newest` over these
      primitives.

      Conventions:
      - Misuse (a wrong argument type, an unknown option or member) raises an error at the
        calling line: `dstack.fs.reed` raises "dstack.fs has no member 'reed'".
      - Expected failures (a missing file, a registry that does not answer) return
        `nil, message`.
      - A broken environment (no Docker CLI, daemon down) stops the script with one line
        naming the cause and the fix.
      - In dry-run mode every docker command that changes state is printed, shell-quoted,
        instead of run; queries (`docker.query`, `docker.inspect_image`, …) always run and
        never change anything.
      - `since` is the API level that introduced a member.

      """
    for namespace in namespaces(for: context) {
      let title = namespace.name.isEmpty ? "dstack" : "dstack.\(namespace.name)"
      page += "\n## `\(title)`\n\n\(namespace.summary)\n\n"
      page += "| member | since | description |\n|---|---|---|\n"
      for member in namespace.members {
        let cells = [member.signature, member.summary].map { $0.replacing("|", with: "\\|") }
        page += "| `\(cells[0])` | \(member.since) | \(cells[1]) |\n"
      }
    }
    return page
  }
}

/// A group of API members under `dstack.NAME`.
public struct APINamespace {
  public let name: String
  public let summary: String
  public let members: [APIMember]
}

/// One documented member of the API: a value or a function.
public struct APIMember {
  public let name: String
  /// How it is called, with its results: `read(path) -> string | nil, message`.
  public let signature: String
  public let summary: String
  public let since: Int
  private let content: Content

  private enum Content {
    case value(LuaValue)
    case function((HostFunction.Arguments) throws -> [LuaValue])
  }

  /// A constant value.
  static func value(_ name: String, _ value: LuaValue, _ summary: String, since: Int = 1) -> APIMember {
    APIMember(name: name, signature: name, summary: summary, since: since, content: .value(value))
  }

  /// A function; `signature` documents its arguments and results.
  static func function(
    _ signature: String, _ summary: String, since: Int = 1,
    _ body: @escaping (HostFunction.Arguments) throws -> [LuaValue]
  ) -> APIMember {
    let name = String(signature.prefix { $0 != "(" })
    return APIMember(name: name, signature: signature, summary: summary, since: since, content: .function(body))
  }

  func export(in namespace: String) -> HostExport {
    switch content {
    case .value(let value): return .value(value)
    case .function(let body):
      let qualified = namespace.isEmpty ? "dstack.\(name)" : "dstack.\(namespace).\(name)"
      return .function(HostFunction(qualified, body: body))
    }
  }
}

/// The machinery host functions use: setup, processes, docker, registries, logging,
/// dry-run and the look-up policy. Built once per command from one `HostEnvironment`.
public struct HostServices {
  public let environment: HostEnvironment
  public let runner: ProcessRunner
  public let docker: Docker
  public let registry: RegistryClient
  public let logger: Logger
  public let dryRun: DryRunSwitch
  /// Whether registries are asked, and remembered look-ups trusted.
  public let policy: LookupPolicy
  /// Where mini scripts are cached.
  public let cache: MiniCache

  public init(
    environment: HostEnvironment, logger: Logger, dryRun: DryRunSwitch = DryRunSwitch(false),
    policy: LookupPolicy = LookupPolicy(offline: false, refresh: false),
    printCommand: @escaping (String) -> Void = { print($0) }
  ) {
    self.environment = environment
    self.runner = ProcessRunner(environment: environment.variables)
    self.docker = Docker(runner: runner, environment: environment, dryRun: dryRun, printCommand: printCommand)
    let credentials = DockerCredentials(environment: environment, runner: runner)
    if let problem = credentials.problem { logger.warning("\(problem)") }
    self.registry = RegistryClient(
      credentials: credentials,
      timeout: environment.variables["DSTACK_REGISTRY_TIMEOUT"].flatMap { Int64($0) }.map { max(1, $0) } ?? 30)
    self.logger = logger
    self.dryRun = dryRun
    self.policy = policy
    self.cache = MiniCache(root: environment.cacheDirectory)
  }

  /// Registry reads with the look-up policy applied (offline, remembered tag lists).
  public var registryLookups: RegistryLookups {
    RegistryLookups(client: registry, policy: policy, cacheDirectory: environment.cacheDirectory)
  }

  /// Chooses the mini whose scripts run.
  public var miniResolver: MiniResolver {
    MiniResolver(
      docker: docker, registry: registry, cache: cache, logger: logger, policy: policy, hostAPILevel: HostAPI.level)
  }
}

/// What one script run shares with the host functions.
public struct HostContext {
  /// The running script's name (without `.lua`).
  public let scriptName: String
  /// Where the script came from, for messages.
  public let scriptOrigin: String
  /// The script's arguments.
  public let arguments: [String]
  public let services: HostServices

  /// Folders made by `dstack.fs.tmpdir()`, removed when the script ends.
  let temporaryFolders = TemporaryFolders()

  public init(scriptName: String, scriptOrigin: String, arguments: [String], services: HostServices) {
    self.scriptName = scriptName
    self.scriptOrigin = scriptOrigin
    self.arguments = arguments
    self.services = services
  }

  var runner: ProcessRunner { services.runner }
  var docker: Docker { services.docker }
  var logger: Logger { services.logger }
  var dryRun: DryRunSwitch { services.dryRun }
  var environment: HostEnvironment { services.environment }
}

/// Temporary folders a script made; `removeAll` deletes them (the script runner calls
/// it when the script ends, however it ends).
final class TemporaryFolders {
  private(set) var paths: [String] = []

  func add(_ path: String) { paths.append(path) }

  func removeAll() {
    for path in paths { try? FileManager.default.removeItem(atPath: path) }
    paths.removeAll()
  }
}

/// The results of an expected failure: `nil, message`.
func failure(_ message: String) -> [LuaValue] { [.nil, .text(message)] }
