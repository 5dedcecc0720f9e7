import ArgumentParser
import DstackEngine
import DstackHost
import Logging

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The `dstack` command: runs the team's build and run scripts, fetched as data.
package struct Dstack: ParsableCommand {
  package static let configuration = CommandConfiguration(
    commandName: "dstack",
    abstract: "Build and run project containers the same way on every machine.",
    discussion: """
      Behaviour lives in Lua scripts that ship inside the `mini` image; dstack runs \
      them. Start with `dstack run-script build` in a project, or \
      `dstack run-script run IMAGE`.
      """,
    version: Version.banner,
    subcommands: [
      RunScript.self, Scripts.self, Version.self, MakeDateVersion.self, MakeDatetimeVersion.self, FindImage.self,
      APIReference.self,
    ])

  package init() {}

  /// Parses the command line, runs the command and exits; errors print as one
  /// `dstack: …` line on standard error.
  package static func runMain(_ arguments: [String]? = nil) -> Never {
    // A child that stops reading its input must not kill dstack: writes then fail with
    // EPIPE, which the process runner treats as the child's choice. Children get the
    // default handler back (ProcessRunner resets it).
    signal(SIGPIPE, SIG_IGN)
    do {
      var command: ParsableCommand
      do {
        command = try parseAsRoot(arguments)
      } catch {
        if let typo = mistypedCommand(arguments ?? Array(CommandLine.arguments.dropFirst())) {
          StandardError.emit("dstack: \(typo)\n")
          terminate(64)
        }
        throw error
      }
      try command.run()
      terminate(0)
    } catch let failure as CommandFailure {
      fflush(nil)
      StandardError.emit("dstack: \(failure.message)\n" + (failure.detail.map { "\($0)\n" } ?? ""))
      if let signal = failure.signal { StopSignals.end(by: signal) }
      terminate(failure.status)
    } catch {
      fflush(nil)
      exit(withError: error)
    }
  }
}

/// What to say when the first argument looks like a mistyped command name, else nil.
private func mistypedCommand(_ arguments: [String]) -> String? {
  guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
  let names = Dstack.configuration.subcommands.compactMap { $0.configuration.commandName }
  guard !names.contains(first), let guess = closest(to: first, among: names) else { return nil }
  return "'\(first)' is not a dstack command; did you mean '\(guess)'? (`dstack --help` lists them)"
}

/// Ends the process with `status` (ParsableCommand's own `exit` means something else).
private func terminate(_ status: Int32) -> Never { exit(status) }

/// A failure to report as `dstack: MESSAGE` and an exit status.
struct CommandFailure: Error {
  let message: String
  /// More lines for `--verbose` (such as a traceback).
  var detail: String? = nil
  var status: Int32 = 1
  /// The stop signal to end by instead of `status` (the script was interrupted).
  var signal: Int32? = nil
}

/// `--verbose` and `--quiet`, shared by commands that log.
struct OutputOptions: ParsableArguments {
  @Flag(name: .shortAndLong, help: "Show debug messages and Lua tracebacks.")
  var verbose = false

  @Flag(name: .shortAndLong, help: "Show only warnings and errors.")
  var quiet = false

  func logger(_ environment: HostEnvironment) -> Logger {
    let level: Logger.Level = verbose ? .debug : quiet ? .warning : .info
    let colour = StderrLogHandler.colourful(in: environment)
    return Logger(label: "dstack") { _ in StderrLogHandler(level: level, useColour: colour) }
  }
}
