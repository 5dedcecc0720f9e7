/// A Lua value that crosses the bridge: nil, boolean, integer, number, string or a
/// plain table. Strings are byte strings, as in Lua, so output that is not UTF-8
/// passes through unchanged.
package enum LuaValue: Sendable, Hashable {
  case `nil`
  case boolean(Bool)
  case integer(Int64)
  case number(Double)
  case string([UInt8])
  case table(LuaTable)

  /// A string value from Swift text.
  package static func text(_ string: String) -> LuaValue { .string(Array(string.utf8)) }

  /// The string as text (invalid UTF-8 repaired), or nil when this is not a string.
  package var textValue: String? {
    if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
    return nil
  }

  /// Lua's type name for this value ("nil", "boolean", "number", "string", "table").
  package var typeName: String {
    switch self {
    case .nil: "nil"
    case .boolean: "boolean"
    case .integer, .number: "number"
    case .string: "string"
    case .table: "table"
    }
  }
}

/// A Lua table as a sequence part (keys 1...n) and a part with string keys.
package struct LuaTable: Sendable, Hashable {
  /// Values at keys 1, 2, ... n.
  package var array: [LuaValue]
  /// Values at string keys.
  package var fields: [String: LuaValue]

  package init(array: [LuaValue] = [], fields: [String: LuaValue] = [:]) {
    self.array = array
    self.fields = fields
  }

  /// The value at a string key, `.nil` when absent.
  package subscript(key: String) -> LuaValue {
    get { fields[key] ?? .nil }
    set { fields[key] = newValue == .nil ? nil : newValue }
  }
}

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  package init(nilLiteral: ()) { self = .nil }
  package init(booleanLiteral value: Bool) { self = .boolean(value) }
  package init(integerLiteral value: Int64) { self = .integer(value) }
  package init(floatLiteral value: Double) { self = .number(value) }
  package init(stringLiteral value: String) { self = .text(value) }
  package init(arrayLiteral elements: LuaValue...) { self = .table(LuaTable(array: elements)) }
  package init(dictionaryLiteral elements: (String, LuaValue)...) {
    var table = LuaTable()
    for (key, value) in elements { table[key] = value }
    self = .table(table)
  }
}

extension LuaValue {
  /// A list of strings as a Lua sequence.
  package static func list(_ strings: [String]) -> LuaValue {
    .table(LuaTable(array: strings.map(LuaValue.text)))
  }
}
