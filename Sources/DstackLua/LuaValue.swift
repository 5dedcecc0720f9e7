/// A Lua value that crosses the bridge: nil, boolean, integer, number, string or a
/// plain table. Strings are byte strings, as in Lua, so output that is not UTF-8
/// passes through unchanged.
public enum LuaValue: Sendable, Hashable {
  case `nil`
  case boolean(Bool)
  case integer(Int64)
  case number(Double)
  case string([UInt8])
  case table(LuaTable)

  /// A string value from Swift text.
  public static func text(_ string: String) -> LuaValue { .string(Array(string.utf8)) }

  /// The string as text (invalid UTF-8 repaired), or nil when this is not a string.
  public var textValue: String? {
    if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
    return nil
  }

  /// Lua's type name for this value ("nil", "boolean", "number", "string", "table").
  public var typeName: String {
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
public struct LuaTable: Sendable, Hashable {
  /// Values at keys 1, 2, ... n.
  public var array: [LuaValue]
  /// Values at string keys.
  public var fields: [String: LuaValue]

  public init(array: [LuaValue] = [], fields: [String: LuaValue] = [:]) {
    self.array = array
    self.fields = fields
  }

  /// The value at a string key, `.nil` when absent.
  public subscript(key: String) -> LuaValue {
    get { fields[key] ?? .nil }
    set { fields[key] = newValue == .nil ? nil : newValue }
  }
}

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  public init(nilLiteral: ()) { self = .nil }
  public init(booleanLiteral value: Bool) { self = .boolean(value) }
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(stringLiteral value: String) { self = .text(value) }
  public init(arrayLiteral elements: LuaValue...) { self = .table(LuaTable(array: elements)) }
  public init(dictionaryLiteral elements: (String, LuaValue)...) {
    var table = LuaTable()
    for (key, value) in elements { table[key] = value }
    self = .table(table)
  }
}

extension LuaValue {
  /// A list of strings as a Lua sequence.
  public static func list(_ strings: [String]) -> LuaValue {
    .table(LuaTable(array: strings.map(LuaValue.text)))
  }
}
