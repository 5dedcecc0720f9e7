import DstackEngine
import DstackLua
import FoundationEssentials

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
package enum HostAPI {
  /// The API level this host offers.
  package static let level = 4
  /// This host's version.
  package static let hostVersion = DstackRelease.version

  /// The `dstack` table for one script run.
  package static func export(for context: HostContext) -> HostExport {
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
  package static func namespaces(for context: HostContext) -> [APINamespace] {
    [
      RootAPI.namespace(context), VersionAPI.namespace, DockerAPI.namespace(context),
      RegistryAPI.namespace(context), FileSystemAPI.namespace(context), JSONAPI.namespace, YAMLAPI.namespace,
      EnvironmentAPI.namespace(context), ProcessAPI.namespace(context), LogAPI.namespace(context),
    ]
  }
}

/// A group of API members under `dstack.NAME`.
package struct APINamespace {
  package let name: String
  package let summary: String
  package let members: [APIMember]
}

/// One documented member of the API: a value or a function.
package struct APIMember {
  package let name: String
  /// How it is called, with its results: `read(path) -> string | nil, message`.
  package let signature: String
  package let summary: String
  package let since: Int
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

/// The results of an expected failure: `nil, message`.
func failure(_ message: String) -> [LuaValue] { [.nil, .text(message)] }
