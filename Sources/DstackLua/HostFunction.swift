/// A Swift function that Lua scripts can call.
///
/// The body receives the call's arguments and returns its results. It never raises a
/// Lua error itself: whatever it throws is turned into one by the C trampoline after
/// the Swift frame has returned.
/// - `LuaArgumentError` and other errors raise at the calling script line.
/// - `HostAbort` raises its message with no script position (a broken environment,
///   not a script bug).
package struct HostFunction {
  /// The name scripts see in messages, such as `dstack.fs.read`.
  package let name: String
  let body: (Arguments) throws -> [LuaValue]

  package init(_ name: String, body: @escaping (Arguments) throws -> [LuaValue]) {
    self.name = name
    self.body = body
  }

  /// The arguments of one call, with typed accessors that report misuse the Lua way:
  /// `bad argument #1 to 'dstack.fs.read' (string expected, got nil)`.
  package struct Arguments {
    /// The called function's name.
    package let function: String
    /// The raw values, in order.
    package let values: [LuaValue]

    /// The value at `position` (1-based), `.nil` past the end.
    package subscript(position: Int) -> LuaValue {
      position <= values.count ? values[position - 1] : .nil
    }

    /// A misuse error for the argument at `position`.
    package func bad(_ position: Int, _ problem: String) -> LuaArgumentError {
      LuaArgumentError("bad argument #\(position) to '\(function)' (\(problem))")
    }

    private func expected(_ type: String, at position: Int) -> LuaArgumentError {
      bad(position, "\(type) expected, got \(self[position].typeName)")
    }

    package func string(_ position: Int) throws -> String {
      guard let text = self[position].textValue else { throw expected("string", at: position) }
      guard !text.contains("\0") else { throw bad(position, "the string contains a NUL byte") }
      return text
    }

    package func optionalString(_ position: Int) throws -> String? {
      self[position] == .nil ? nil : try string(position)
    }

    package func bytes(_ position: Int) throws -> [UInt8] {
      guard case .string(let bytes) = self[position] else { throw expected("string", at: position) }
      return bytes
    }

    package func integer(_ position: Int) throws -> Int64 {
      switch self[position] {
      case .integer(let value): return value
      case .number(let value) where value.rounded() == value && abs(value) < 9e15: return Int64(value)
      default: throw expected("integer", at: position)
      }
    }

    package func table(_ position: Int) throws -> LuaTable {
      guard case .table(let table) = self[position] else { throw expected("table", at: position) }
      return table
    }

    package func optionalTable(_ position: Int) throws -> LuaTable? {
      self[position] == .nil ? nil : try table(position)
    }

    /// A sequence of strings (a table with keys 1...n).
    package func stringList(_ position: Int) throws -> [String] {
      let list = try table(position)
      guard list.fields.isEmpty else { throw bad(position, "list of strings expected, got a map") }
      return try list.array.enumerated().map { index, item in
        guard let text = item.textValue else {
          throw bad(position, "item \(index + 1) is a \(item.typeName), expected a string")
        }
        guard !text.contains("\0") else { throw bad(position, "item \(index + 1) contains a NUL byte") }
        return text
      }
    }

    /// Reads the option table at `position` (nil means empty), rejecting unknown keys.
    package func options(_ position: Int, allowed: Set<String>) throws -> Options {
      let table = try optionalTable(position) ?? LuaTable()
      if let unknown = table.fields.keys.sorted().first(where: { !allowed.contains($0) }) {
        throw bad(
          position, "unknown option '\(unknown)'; known: \(allowed.sorted().joined(separator: ", "))")
      }
      if !table.array.isEmpty { throw bad(position, "options must be named, as in {name = value}") }
      return Options(table: table, argument: self, position: position)
    }
  }

  /// A validated option table with typed getters that name the option on misuse.
  package struct Options {
    let table: LuaTable
    let argument: Arguments
    let position: Int

    private func wrong(_ key: String, _ type: String) -> LuaArgumentError {
      argument.bad(position, "option '\(key)' must be \(type), got \(table[key].typeName)")
    }

    package func string(_ key: String) throws -> String? {
      switch table[key] {
      case .nil: return nil
      case .string(let bytes):
        guard !bytes.contains(0) else { throw argument.bad(position, "option '\(key)' contains a NUL byte") }
        return table[key].textValue
      default: throw wrong(key, "a string")
      }
    }

    /// A string option as bytes (data such as a child's standard input; NUL allowed).
    package func bytes(_ key: String) throws -> [UInt8]? {
      switch table[key] {
      case .nil: return nil
      case .string(let bytes): return bytes
      default: throw wrong(key, "a string")
      }
    }

    package func bool(_ key: String) throws -> Bool? {
      switch table[key] {
      case .nil: return nil
      case .boolean(let value): return value
      default: throw wrong(key, "a boolean")
      }
    }

    /// A number of seconds (fractions allowed) from above 0 up to `limit`, as a duration.
    package func seconds(_ key: String, limit: Double) throws -> Duration? {
      let value: Double
      switch table[key] {
      case .nil: return nil
      case .integer(let number): value = Double(number)
      case .number(let number): value = number
      default: throw wrong(key, "a number of seconds")
      }
      guard value > 0, value <= limit else {
        throw argument.bad(position, "option '\(key)' must be more than 0 and at most \(Int(limit)) seconds")
      }
      return .milliseconds(Int64((value * 1000).rounded(.up)))
    }

    package func strings(_ key: String) throws -> [String]? {
      switch table[key] {
      case .nil: return nil
      case .table(let list) where list.fields.isEmpty:
        return try list.array.map { item in
          guard let text = item.textValue, !text.contains("\0") else {
            throw wrong(key, "a list of strings without NUL bytes")
          }
          return text
        }
      default: throw wrong(key, "a list of strings")
      }
    }

    /// A map of string to string (`{KEY = "value"}`), sorted by key for stable output.
    package func stringMap(_ key: String) throws -> [(key: String, value: String)]? {
      switch table[key] {
      case .nil: return nil
      case .table(let map) where map.array.isEmpty:
        return try map.fields.sorted { $0.key < $1.key }.map { entry in
          switch entry.value {
          case .string(let bytes) where !bytes.contains(0) && !entry.key.contains("\0"):
            return (entry.key, entry.value.textValue ?? "")
          case .integer(let number): return (entry.key, String(number))
          default: throw wrong(key, "a map of strings")
          }
        }
      default: throw wrong(key, "a map of strings, as in {KEY = \"value\"}")
      }
    }
  }
}

/// A script called a host function the wrong way; raised at the script's line.
package struct LuaArgumentError: Error, CustomStringConvertible {
  package let description: String
  package init(_ description: String) { self.description = description }
}

/// A failure the script cannot handle (the Docker daemon is down, say): raised
/// without a script position and reported to the user as it is.
package struct HostAbort: Error, CustomStringConvertible {
  package let description: String
  package init(_ description: String) { self.description = description }
}

/// A value or function to install in the Lua state: the shape of the `dstack` table.
package indirect enum HostExport {
  case value(LuaValue)
  case function(HostFunction)
  /// A locked table of members: reading a missing one or assigning raises an error
  /// naming the table (`dstack.fs has no member 'reed'`).
  case namespace(name: String, members: [String: HostExport])
}
