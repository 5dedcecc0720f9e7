import CLibYAML
import DstackEngine
import DstackLua

/// `dstack.yaml`: YAML text (a Compose file) to tables, read by libyaml.
enum YAMLAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "yaml",
      summary: """
        YAML text to Lua values, read by libyaml with YAML 1.2's core schema: mappings \
        become tables with string keys, sequences sequences; plain `null`, `~` and nothing \
        nil, `true`/`false` booleans, integers (`42`, `0o17`, `0x1F`) integers and other \
        numbers numbers; everything else, quoted scalars and timestamps included, strings. \
        Anchors and aliases are followed. Since level 3.
        """,
      members: [
        .function(
          "decode(text) -> value | nil, message",
          "The value of the first YAML document in `text` (nil for an empty one), or nil and a message with the line and column where the text is not YAML, or where a mapping has a key that is not a string.",
          since: 3
        ) { arguments in
          switch YAMLDocument.decode(try arguments.bytes(1)) {
          case .success(let value): return [value.map(LuaValue.init(json:)) ?? .nil]
          case .failure(let problem): return failure(problem.message)
          }
        }
      ])
  }
}

/// One YAML document read by libyaml's loader, as the JSON values scripts get from
/// `dstack.json` too.
enum YAMLDocument {
  struct Problem: Error {
    let message: String
  }

  /// The first document in `bytes` (nil when it is empty), or why it cannot be read.
  static func decode(_ bytes: [UInt8]) -> Result<JSONValue?, Problem> {
    Result { () throws(Problem) in try load(bytes) }
  }

  private static func load(_ bytes: [UInt8]) throws(Problem) -> JSONValue? {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else { throw Problem(message: "cannot start the YAML parser") }
    defer { yaml_parser_delete(&parser) }
    var document = yaml_document_t()
    let loaded = bytes.withUnsafeBufferPointer { buffer in
      yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
      return yaml_parser_load(&parser, &document)
    }
    guard loaded == 1 else {
      let problem = parser.problem.map { String(cString: $0) } ?? "unreadable"
      throw Problem(
        message:
          "not YAML: \(problem) at line \(parser.problem_mark.line + 1), column \(parser.problem_mark.column + 1)")
    }
    defer { yaml_document_delete(&document) }
    guard let root = yaml_document_get_root_node(&document) else { return nil }
    return try value(of: root, in: &document, depth: 0)
  }

  private static func value(of node: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t, depth: Int)
    throws(Problem) -> JSONValue
  {
    guard depth < 64 else { throw Problem(message: "not a plain YAML document: nested more than 64 deep") }
    switch node.pointee.type {
    case YAML_SCALAR_NODE:
      let scalar = node.pointee.data.scalar
      let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
      return scalar.style == YAML_PLAIN_SCALAR_STYLE ? resolved(text) : .string(text)
    case YAML_SEQUENCE_NODE:
      var items: [JSONValue] = []
      var item = node.pointee.data.sequence.items.start
      while let current = item, current < node.pointee.data.sequence.items.top {
        guard let child = yaml_document_get_node(&document, current.pointee) else { break }
        items.append(try value(of: child, in: &document, depth: depth + 1))
        item = current + 1
      }
      return .array(items)
    case YAML_MAPPING_NODE:
      var members: [String: JSONValue] = [:]
      var pair = node.pointee.data.mapping.pairs.start
      while let current = pair, current < node.pointee.data.mapping.pairs.top {
        guard let key = yaml_document_get_node(&document, current.pointee.key),
          let child = yaml_document_get_node(&document, current.pointee.value)
        else { break }
        guard key.pointee.type == YAML_SCALAR_NODE else {
          throw Problem(
            message: "not a plain YAML mapping: a key at line \(key.pointee.start_mark.line + 1) is not a string")
        }
        let scalar = key.pointee.data.scalar
        let name = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
        members[name] = try value(of: child, in: &document, depth: depth + 1)
        pair = current + 1
      }
      return .object(members)
    default:
      return .null
    }
  }

  /// A plain scalar by YAML 1.2's core schema.
  static func resolved(_ text: String) -> JSONValue {
    switch text {
    case "", "~", "null", "Null", "NULL": return .null
    case "true", "True", "TRUE": return .bool(true)
    case "false", "False", "FALSE": return .bool(false)
    case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .number(.infinity)
    case "-.inf", "-.Inf", "-.INF": return .number(-.infinity)
    case ".nan", ".NaN", ".NAN": return .number(.nan)
    default: break
    }
    if text.wholeMatch(of: /[-+]?[0-9]+/) != nil,
      let integer = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    {
      return .integer(integer)
    }
    if text.hasPrefix("0o"), let integer = Int64(text.dropFirst(2), radix: 8) { return .integer(integer) }
    if text.hasPrefix("0x"), let integer = Int64(text.dropFirst(2), radix: 16) { return .integer(integer) }
    if text.wholeMatch(of: /[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?/) != nil, let number = Double(text) {
      return .number(number)
    }
    return .string(text)
  }
}
