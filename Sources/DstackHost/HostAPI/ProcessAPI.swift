import DstackEngine
import DstackLua
import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// `dstack.proc`: other programs.
enum ProcessAPI {
  static func namespace(_ context: HostContext) -> APINamespace {
    APINamespace(
      name: "proc",
      summary:
        "Other programs (such as `git`, `ssh` or an editor), started from an argument list, never a shell. Not affected by dry-run: use `dstack.docker.change` for docker commands that change state.",
      members: [
        .function(
          "run(argv, options) -> {code, stdout, stderr} | integer | nil, message",
          "Runs `argv` to completion and captures its output as `{code, stdout, stderr}`; a non-zero `code` is a result, not an error. Options: `cwd`, `stdin` (string), `env` (map added to the environment), `timeout` (seconds, at most 86400: past it the program gets SIGTERM, then SIGKILL a second later), `terminal = true` (share stdin, stdout and stderr and return the exit status; not with `stdin`). Signals that dstack receives (Ctrl-C, SIGTERM, SIGHUP) are passed on to the program, and raise an error once it ends; after one, no program starts (the call raises), so the script's clean-up runs, and dstack then ends by that signal. Returns nil and a message when the program cannot be started or ran out of time."
        ) { arguments in
          let argv = try arguments.stringList(1)
          guard !argv.isEmpty else { throw arguments.bad(1, "the command list is empty") }
          let options = try arguments.options(2, allowed: ["cwd", "stdin", "env", "terminal", "timeout"])
          let timeout = try options.seconds("timeout", limit: 86400)
          let terminal = try options.bool("terminal") == true
          let input = try options.bytes("stdin")
          if terminal && input != nil { throw arguments.bad(2, "'stdin' cannot be given with 'terminal'") }
          let environment = Dictionary(
            uniqueKeysWithValues: (try options.stringMap("env") ?? []).map { ($0.key, $0.value) })
          if let name = environment.keys.sorted().first(where: { $0.isEmpty || $0.contains("=") }) {
            throw arguments.bad(
              2, "option 'env': '\(name)' is not a variable name (a name is not empty and holds no '=')")
          }
          try Interruption.refuseToStart(argv)
          let outcome: [LuaValue]
          do {
            if terminal {
              let result = try context.runner.run(
                argv, stdin: .inherit, stdout: .inherit, stderr: .inherit, directory: try options.string("cwd"),
                extraEnvironment: environment, timeout: timeout)
              outcome = [.integer(Int64(result.status))]
            } else {
              let result = try context.runner.run(
                argv, stdin: input.map { .bytes($0) } ?? .null, directory: try options.string("cwd"),
                extraEnvironment: environment, timeout: timeout)
              outcome = [
                [
                  "code": .integer(Int64(result.status)), "stdout": .string(result.stdout),
                  "stderr": .string(result.stderr),
                ]
              ]
            }
          } catch let error as ProcessError {
            outcome = failure(error.description)
          }
          try Interruption.checkAfter(argv)
          return outcome
        },
        .function(
          "which(name) -> string | nil",
          "The absolute path of program `name` on PATH (as `run` would start it), or nil when there is none."
        ) { arguments in
          let name = try arguments.string(1)
          guard !name.isEmpty else { throw arguments.bad(1, "the program name is empty") }
          return [(try? context.runner.executablePath(name)).map(LuaValue.text) ?? .nil]
        },
        .function(
          "sleep(seconds)",
          "Waits `seconds` (a number, fractions allowed, at most 3600) before going on; a stop signal (Ctrl-C, SIGTERM) ends the wait with an error."
        ) { arguments in
          let seconds: Double =
            switch arguments[1] {
            case .integer(let value): Double(value)
            case .number(let value): value
            default: throw arguments.bad(1, "number expected, got \(arguments[1].typeName)")
            }
          guard seconds >= 0, seconds <= 3600 else { throw arguments.bad(1, "seconds must be between 0 and 3600") }
          try Interruption.refuseToStart(["dstack.proc.sleep"])
          var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
          var remaining = timespec()
          while nanosleep(&request, &remaining) != 0 && errno == EINTR && StopSignals.received == nil {
            request = remaining
          }
          try Interruption.checkAfter(["dstack.proc.sleep"])
          return []
        },
      ])
  }
}
