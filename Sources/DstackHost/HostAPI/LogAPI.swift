import DstackLua
import Logging

/// `dstack.log`: messages for the user, on standard error.
enum LogAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    func logger(_ level: Logger.Level) -> (HostFunction.Arguments) throws -> [LuaValue] {
      { arguments in
        let words = try arguments.values.indices.map { index -> String in
          switch arguments.values[index] {
          case .string, .integer, .number, .boolean, .nil:
            return arguments.values[index].displayText
          case .table: throw arguments.bad(index + 1, "string expected, got table")
          }
        }
        context.logger.log(level: level, "\(words.joined(separator: " "))")
        return []
      }
    }
    return APINamespace(
      name: "log",
      summary:
        "Messages for the user on standard error, coloured only on a terminal. `--quiet` hides info and debug; debug shows only with `--verbose`. Arguments are joined with spaces.",
      members: [
        .function("debug(...)", "Detail for `--verbose` runs.", logger(.debug)),
        .function("info(...)", "Progress.", logger(.info)),
        .function("warn(...)", "Something the user should know.", logger(.warning)),
        .function("error(...)", "A failure (the script decides whether to stop).", logger(.error)),
      ])
  }
}

extension LuaValue {
  /// The value as `tostring` would show it (tables excepted).
  var displayText: String {
    switch self {
    case .nil: "nil"
    case .boolean(let flag): flag ? "true" : "false"
    case .integer(let number): String(number)
    case .number(let number): String(number)
    case .string: textValue ?? ""
    case .table: "table"
    }
  }
}
