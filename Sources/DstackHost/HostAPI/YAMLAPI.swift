import DstackEngine
import DstackLua
import Yams

/// `dstack.yaml`: YAML text (a Compose file) to tables, read by Yams (libyaml).
enum YAMLAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "yaml",
      summary: """
        YAML text to Lua values, as YAML 1.1's core schema reads it (Yams, over libyaml): \
        mappings become tables with string keys, sequences sequences, `null` and `~` nil, \
        `true`/`false` booleans, integers integers; timestamps stay strings. Anchors and \
        aliases are followed. Since level 3.
        """,
      members: [
        .function(
          "decode(text) -> value | nil, message",
          "The value of the one YAML document in `text` (nil for an empty one), or nil and a message with the line and column where the text is not YAML, or where a mapping has a key that is not a string.",
          since: 3
        ) { arguments in
          let text = String(decoding: try arguments.bytes(1), as: UTF8.self)
          do {
            guard let root = try Yams.compose(yaml: text) else { return [.nil] }
            return [LuaValue(json: try YAMLAPI.json(root))]
          } catch let error as YAMLAPI.NotPlain {
            return failure(error.message)
          } catch {
            return failure("not YAML: \(error)".replacingOccurrences(of: "\n", with: " "))
          }
        }
      ])
  }

  /// A document with something a Lua table cannot hold as JSON would.
  struct NotPlain: Error {
    let message: String
  }

  /// `node` as a JSON value (the tables scripts get from `dstack.json` too).
  static func json(_ node: Node) throws -> JSONValue {
    switch node {
    case .scalar:
      switch node.tag.rawValue {
      case Tag.Name.null.rawValue: return .null
      case Tag.Name.bool.rawValue: return node.bool.map(JSONValue.bool) ?? .string(node.string ?? "")
      case Tag.Name.int.rawValue: return node.int.map { .integer(Int64($0)) } ?? .string(node.string ?? "")
      case Tag.Name.float.rawValue: return node.float.map(JSONValue.number) ?? .string(node.string ?? "")
      default: return .string(node.string ?? "")
      }
    case .sequence(let sequence):
      return .array(try sequence.map(json))
    case .mapping(let mapping):
      var members: [String: JSONValue] = [:]
      for (key, value) in mapping {
        guard case .scalar = key, let name = key.string else {
          throw NotPlain(message: "not a plain YAML mapping: a key at line \(key.mark?.line ?? 0) is not a string")
        }
        members[name] = try json(value)
      }
      return .object(members)
    case .alias:
      throw NotPlain(message: "not a plain YAML document: an alias at line \(node.mark?.line ?? 0) was not followed")
    }
  }
}
