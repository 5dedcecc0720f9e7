/// Quotes `argument` for a POSIX shell, leaving it bare when that is safe, so a
/// printed command can be pasted as it is.
package func shellQuoted(_ argument: String) -> String {
  let bare = argument.unicodeScalars.allSatisfy { scalar in
    scalar.isASCII
      && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
        || "_@%+=:,./-".unicodeScalars.contains(scalar))
  }
  if bare && !argument.isEmpty { return argument }
  return "'" + argument.replacing("'", with: "'\\''") + "'"
}

/// A command line for people to read or paste: each argument shell-quoted.
package func shellCommandLine(_ argv: [String]) -> String {
  argv.map(shellQuoted).joined(separator: " ")
}
