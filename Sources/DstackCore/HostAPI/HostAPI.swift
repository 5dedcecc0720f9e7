import Logging

/// The Lua API that dstack offers scripts: one global table `dstack`, with namespaces
/// (`dstack.docker`, `dstack.fs`, …) of snake_case functions taking and returning plain
/// tables. Misuse raises an error; expected failures return `nil, message`.
///
/// This is a promise: every member belongs to an API level (`since`) and never changes
/// incompatibly. New capability means a new level, and scripts check `dstack.api` or call
/// `dstack.require_api(level)`. The reference page (`images/mini/API.md`) is generated
/// from these declarations, and a test fails when the two differ.
public enum HostAPI {
  /// The API level this host offers.
  public static let level = 1
  /// This host's version.
  public static let hostVersion = "0.1.0"

  /// The `dstack` table for one script run.
  public static func export(for context: HostContext) -> HostExport {
    var root: [String: HostExport] = [:]
    for namespace in namespaces(for: context) {
      let members = Dictionary(
        uniqueKeysWithValues: namespace.members.map { ($0.name, $0.export(in: namespace.name)) })
      if namespace.name.isEmpty {
        root.merge(members) { first, _ in first }
      } else {
        root[namespace.name] = .table(members)
      }
    }
    return .table(root)
  }

  /// The namespaces in reference order; the root namespace has an empty name.
  public static func namespaces(for context: HostContext) -> [APINamespace] {
    [
      RootAPI.namespace(context), VersionAPI.namespace, DockerAPI.namespace(context),
      FileSystemAPI.namespace, EnvironmentAPI.namespace, ProcessAPI.namespace(context),
      LogAPI.namespace(context),
    ]
  }

  /// The reference page for script authors, in Markdown.
  public static func reference() -> String {
    let context = HostContext(
      scriptName: "reference", scriptOrigin: "", arguments: [],
      services: HostServices(logger: Logger(label: "dstack"), dryRun: DryRunSwitch(true)))
    var page = """
      # dstack host API, level \(level)

      Generated from the host's declarations (`swift run dstack api-reference`); a test fails
      when this page and the code differ. Scripts run in a sandbox: `string`, `table`, `math`,
      `utf8`, `coroutine`, `print` (to standard output), `os.time`/`os.date`/`os.clock`, and
      `require` for modules shipped beside the scripts (`lib/NAME.lua`). Everything else
      that touches the machine goes through `dstack`.

      Conventions:
      - Misuse (a wrong argument type, an unknown option) raises an error at the calling line.
      - Expected failures (a missing file, a failed docker command) return `nil, message`.
      - A broken environment (no Docker CLI, daemon down) stops the script with one line
        naming the cause and the fix.
      - `since` is the API level that introduced a member. Members never change
        incompatibly; new ones come with a new level.

      """
    for namespace in namespaces(for: context) {
      let title = namespace.name.isEmpty ? "dstack" : "dstack.\(namespace.name)"
      page += "\n## `\(title)`\n\n\(namespace.summary)\n\n"
      page += "| member | since | description |\n|---|---|---|\n"
      for member in namespace.members {
        let cells = [member.signature, member.summary].map { $0.replacingAll("|", with: "\\|") }
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

/// The machinery host functions use: processes, docker, registries, logging, dry-run.
public struct HostServices {
  public let runner: ProcessRunner
  public let docker: Docker
  public let registry: RegistryClient
  public let logger: Logger
  public let dryRun: DryRunSwitch
  /// When true, registries are not asked (only the local engine and the cache).
  public let offline: Bool
  /// Where look-ups and mini scripts are cached.
  public let cache: MiniCache
  /// When true, remembered look-ups are not trusted: registries are asked again.
  public let refresh: Bool

  public init(
    runner: ProcessRunner = ProcessRunner(), logger: Logger, dryRun: DryRunSwitch = DryRunSwitch(false),
    offline: Bool = false, refresh: Bool = false, cache: MiniCache = MiniCache(root: MiniCache.defaultRoot()),
    printCommand: @escaping (String) -> Void = { print($0) }
  ) {
    self.runner = runner
    self.docker = Docker(runner: runner, dryRun: dryRun, printCommand: printCommand)
    self.registry = RegistryClient(credentials: DockerCredentials(environment: runner.environment, runner: runner))
    self.logger = logger
    self.dryRun = dryRun
    self.offline = offline
    self.refresh = refresh
    self.cache = cache
  }

  /// Finds newest image versions locally and (unless offline) in registries.
  public var imageFinder: ImageFinder {
    ImageFinder(docker: docker, registry: registry, offline: offline, cache: cache, refresh: refresh)
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
}

/// The results of an expected failure: `nil, message`.
func failure(_ message: String) -> [LuaValue] { [.nil, .text(message)] }
