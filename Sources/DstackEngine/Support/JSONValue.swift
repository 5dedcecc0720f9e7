import FoundationEssentials

/// A JSON document as data: what docker and registries answer, and what scripts
/// read and write with `dstack.json`. Integers that fit 64 bits stay integers.
package enum JSONValue: Sendable, Hashable {
  case null
  case bool(Bool)
  case integer(Int64)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// The member `key` of an object, `.null` otherwise.
  package subscript(key: String) -> JSONValue {
    if case .object(let members) = self { return members[key] ?? .null }
    return .null
  }

  /// The string, or nil when this is not a string.
  package var string: String? {
    if case .string(let text) = self { return text }
    return nil
  }

  /// An object's members as text (`Config.Labels`), skipping values that are not strings.
  package var stringMembers: [String: String] {
    guard case .object(let members) = self else { return [:] }
    return members.compactMapValues(\.string)
  }

  /// Decodes one JSON document.
  package static func decode(_ bytes: some DataProtocol) throws -> JSONValue {
    try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
  }

  /// Encodes as JSON text; object members are sorted so equal values give equal text.
  package func encoded(pretty: Bool = false) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting =
      pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    return Array(try encoder.encode(self))
  }
}

extension JSONValue: Codable {
  package init(from decoder: any Decoder) throws {
    // Strings first: they are most of what docker and registries send, and every failed
    // try costs a thrown error.
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Int64.self) {
      self = .integer(value)
    } else if let value = try? container.decode(Double.self) {
      self = .number(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .integer(let value): try container.encode(value)
    case .number(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }
}
