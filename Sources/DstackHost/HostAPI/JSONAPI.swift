import DstackEngine
import DstackLua

/// `dstack.json`: JSON text to tables and back.
enum JSONAPI {
  static var namespace: APINamespace {
    APINamespace(
      name: "json",
      summary: """
        JSON text to Lua values and back. Objects become tables with string keys, arrays \
        sequences, `null` nil (so a `null` in an array leaves a hole). Integers stay \
        integers.
        """,
      members: [
        .function(
          "encode(value, options) -> string",
          "`value` (a table, string, number or boolean) as JSON text. A table with keys 1…n is an array, one with string keys an object (keys sorted), an empty table `{}`; a table with both, or with other keys, raises. Options: `pretty = true` indents it."
        ) { arguments in
          let options = try arguments.options(2, allowed: ["pretty"])
          let json: JSONValue
          do {
            json = try JSONValue(lua: arguments[1])
          } catch {
            throw arguments.bad(1, "\(error)")
          }
          do {
            return [.string(try json.encoded(pretty: try options.bool("pretty") == true))]
          } catch {
            throw arguments.bad(1, "cannot be JSON (numbers must be finite)")
          }
        },
        .function(
          "decode(text) -> value | nil, message",
          "The value in JSON `text`, or nil and a message saying where the text is not JSON."
        ) { arguments in
          let bytes = try arguments.bytes(1)
          if let offset = JSONAPI.trailingComma(in: bytes) {
            return failure("not JSON: a comma at byte \(offset + 1) is followed by the end of its list or object")
          }
          do {
            return [LuaValue(json: try JSONValue.decode(bytes))]
          } catch {
            return failure("not JSON: \(JSONAPI.reason(error))")
          }
        },
      ])
  }

  /// The offset of a comma that is followed (after white space) by `]` or `}`, outside
  /// strings: JSON has no trailing commas, though the decoder would accept them.
  static func trailingComma(in bytes: [UInt8]) -> Int? {
    var inString = false
    var escaped = false
    var comma: Int?
    for (offset, byte) in bytes.enumerated() {
      if inString {
        if escaped {
          escaped = false
        } else if byte == UInt8(ascii: "\\") {
          escaped = true
        } else if byte == UInt8(ascii: "\"") {
          inString = false
        }
        continue
      }
      switch byte {
      case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): continue
      case UInt8(ascii: "]"), UInt8(ascii: "}"): if let comma { return comma }
      case UInt8(ascii: "\""): inString = true
      default: break
      }
      comma = byte == UInt8(ascii: ",") ? offset : nil
    }
    return nil
  }

  private static func reason(_ error: Error) -> String {
    guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
    let underlying = (context.underlyingError as? CustomStringConvertible)?.description
    return underlying.map { context.debugDescription + " (" + $0 + ")" } ?? context.debugDescription
  }
}

extension LuaValue {
  /// The Lua form of a JSON value: objects are tables with fields, arrays sequences, null nil.
  init(json: JSONValue) {
    switch json {
    case .null: self = .nil
    case .bool(let value): self = .boolean(value)
    case .integer(let value): self = .integer(value)
    case .number(let value): self = .number(value)
    case .string(let value): self = .text(value)
    case .array(let values): self = .table(LuaTable(array: values.map(LuaValue.init(json:))))
    case .object(let members): self = .table(LuaTable(fields: members.mapValues(LuaValue.init(json:))))
    }
  }
}

/// A Lua value that has no JSON form.
struct NotJSON: Error, CustomStringConvertible {
  let description: String
}

extension JSONValue {
  /// The JSON form of a Lua value; see `dstack.json.encode`.
  init(lua value: LuaValue) throws(NotJSON) {
    switch value {
    case .nil: self = .null
    case .boolean(let flag): self = .bool(flag)
    case .integer(let number): self = .integer(number)
    case .number(let number): self = .number(number)
    case .string: self = .string(value.textValue ?? "")
    case .table(let table):
      if !table.array.isEmpty && !table.fields.isEmpty {
        throw NotJSON(description: "a table with both list items and named keys has no JSON form")
      }
      if table.fields.isEmpty && !table.array.isEmpty {
        var items: [JSONValue] = []
        for item in table.array { items.append(try JSONValue(lua: item)) }
        self = .array(items)
      } else {
        var members: [String: JSONValue] = [:]
        for (key, item) in table.fields { members[key] = try JSONValue(lua: item) }
        self = .object(members)
      }
    }
  }
}
