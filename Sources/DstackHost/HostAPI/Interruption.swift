import DstackEngine
import DstackLua

/// What a stop signal (Ctrl-C, SIGTERM, SIGHUP) means to a script: the step it interrupted
/// raises an error, so the script's `pcall`-protected clean-up runs and nothing after it;
/// from then on no new step starts, except docker commands that stop or remove something
/// (clean-up). The script runner ends dstack by the signal once the script ends.
enum Interruption {
  /// Throws when dstack was asked to stop, unless `docker` (docker's arguments, when it
  /// is a docker command) only stops or removes something.
  static func refuseToStart(_ argv: [String], docker: Bool = false) throws {
    guard let signal = StopSignals.received, !(docker && isCleanUp(argv)) else { return }
    throw HostAbort(
      "interrupted by \(StopSignals.name(of: signal)); `\(summary(argv, docker: docker))` was not started")
  }

  /// Throws when a stop signal arrived while `argv` ran (a clean-up command excepted).
  static func checkAfter(_ argv: [String], docker: Bool = false) throws {
    guard let signal = StopSignals.received, !(docker && isCleanUp(argv)) else { return }
    throw HostAbort("interrupted by \(StopSignals.name(of: signal)) during `\(summary(argv, docker: docker))`")
  }

  /// Docker commands that only stop or remove: clean-up, allowed after a stop request.
  static func isCleanUp(_ arguments: [String]) -> Bool {
    let removing: Set<String> = ["rm", "rmi", "stop", "kill"]
    guard let command = arguments.first else { return false }
    if removing.contains(command) { return true }
    guard ["container", "image", "network", "volume"].contains(command), arguments.count > 1 else { return false }
    return removing.contains(arguments[1]) || arguments[1] == "remove"
  }

  /// The command's first words and its last (the container or image it acts on), for messages.
  private static func summary(_ argv: [String], docker: Bool) -> String {
    let words = (docker ? ["docker"] : []) + argv
    let head = Array(words.prefix { !$0.hasPrefix("-") }.prefix(3))
    guard words.count > head.count, let last = words.last else { return shellCommandLine(head) }
    return shellCommandLine(head) + " … " + shellCommandLine([last])
  }
}
