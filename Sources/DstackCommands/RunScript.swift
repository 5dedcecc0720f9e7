import ArgumentParser
import DstackEngine
import DstackHost

struct RunScript: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run-script",
    abstract: "Run a dstack script, such as build or run.",
    discussion: """
      Every argument after NAME belongs to the script: `dstack run-script run --help` \
      shows the run script's help. The script's exit status is dstack's. Without NAME, \
      lists the scripts.
      """)

  @Option(
    name: .long, help: ArgumentHelp("Run the scripts in this folder instead of a mini image's.", valueName: "dir"))
  var scripts: String?

  @Flag(help: "Print the docker commands that would change something instead of running them.")
  var dryRun = false

  @OptionGroup var miniOptions: MiniOptions
  @OptionGroup var lookup: LookupOptions
  @OptionGroup var output: OutputOptions

  @Argument(help: "The script to run (NAME.lua); without one, the scripts are listed.")
  var name: String?

  @Argument(parsing: .captureForPassthrough, help: "Arguments for the script.")
  var arguments: [String] = []

  func run() throws {
    let environment = HostEnvironment.current()
    let services = HostServices(
      environment: environment, logger: output.logger(environment), dryRun: DryRunSwitch(dryRun),
      policy: lookup.policy(environment))
    let source: any ScriptSource =
      try scripts.map { DirectoryScriptSource(directory: $0) } ?? miniOptions.selection(services: services).source
    guard let name else {
      print("usage: dstack run-script NAME [ARGUMENTS...]\n\nscripts of \(source.origin):")
      let names = source.scriptNames
      let width = names.map(\.count).max() ?? 0
      for name in names {
        let padding = String(repeating: " ", count: width - name.count)
        print("  \(name)\(padding)  \(source.summary(of: name) ?? "")")
      }
      return
    }
    try runScript(name, arguments: arguments, from: source, services: services, verbose: output.verbose)
  }
}

/// Runs script `name` and exits with its status; failures become one `dstack: …` line
/// (with the Lua stack under `--verbose`).
func runScript(
  _ name: String, arguments: [String], from source: any ScriptSource, services: HostServices, verbose: Bool
) throws {
  let status: Int32
  do {
    status = try ScriptRunner(source: source, services: services).run(name, arguments: arguments)
  } catch {
    // The traceback repeats the message; --verbose adds only the stack.
    func stack(_ traceback: String?) -> String? {
      guard verbose else { return nil }
      return traceback.flatMap { text in
        text.firstRange(of: "stack traceback:").map { String(text[$0.lowerBound...]) }
      }
    }
    switch error {
    case .failed(let message, let traceback): throw CommandFailure(message: message, detail: stack(traceback))
    case .interrupted(let signal, let message, let traceback):
      throw CommandFailure(message: message, detail: stack(traceback), signal: signal)
    default: throw CommandFailure(message: error.description)
    }
  }
  if status != 0 { throw ExitCode(status) }
}
