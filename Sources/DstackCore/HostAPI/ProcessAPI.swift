/// `dstack.proc`: other programs.
enum ProcessAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    APINamespace(
      name: "proc",
      summary:
        "Other programs (such as `git`), started from an argument list, never a shell. Not affected by dry-run: use it for queries.",
      members: [
        .function(
          "run(argv, options) -> {code, stdout, stderr} | nil, message",
          "Runs `argv` to completion and captures its output; a non-zero `code` is a result, not an error. Options: `cwd`, `stdin` (string), `env` (map added to the environment). Returns nil and a message when the program cannot be started."
        ) { arguments in
          let argv = try arguments.stringList(1)
          guard !argv.isEmpty else { throw arguments.bad(1, "the command list is empty") }
          let options = try arguments.options(2, allowed: ["cwd", "stdin", "env"])
          let stdin = try options.string("stdin").map { InputMode.bytes(Array($0.utf8)) } ?? .null
          let environment = Dictionary(
            uniqueKeysWithValues: (try options.stringMap("env") ?? []).map { ($0.key, $0.value) })
          do {
            let result = try context.runner.run(
              argv, stdin: stdin, directory: try options.string("cwd"), extraEnvironment: environment)
            let outcome: LuaValue = [
              "code": .integer(Int64(result.status)), "stdout": .string(result.stdout),
              "stderr": .string(result.stderr),
            ]
            return [outcome]
          } catch let error as ProcessError {
            return failure(error.description)
          }
        }
      ])
  }
}
