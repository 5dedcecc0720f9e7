import DstackEngine
import DstackHost
import Foundation
import Logging

extension ProcessRunner {
  /// A runner with the test process's own environment.
  package static var current: ProcessRunner { ProcessRunner(environment: ProcessInfo.processInfo.environment) }
}

extension HostServices {
  /// Services for an in-process script run with the test process's environment (plus
  /// `variables`), printing dry-run commands with `printCommand`.
  package static func forTests(
    variables: [String: String] = [:], dryRun: Bool = false,
    policy: LookupPolicy = LookupPolicy(offline: false, refresh: false),
    printCommand: @escaping (String) -> Void = { print($0) }
  ) -> HostServices {
    let environment = HostEnvironment(
      variables: ProcessInfo.processInfo.environment.merging(variables) { $1 },
      currentDirectory: FileManager.default.currentDirectoryPath)
    return HostServices(
      environment: environment, logger: Logger(label: "dstack-test"), dryRun: DryRunSwitch(dryRun), policy: policy,
      printCommand: printCommand)
  }
}

extension HostEnvironment {
  /// An environment of exactly `variables`, in the test process's current folder.
  package static func with(_ variables: [String: String]) -> HostEnvironment {
    HostEnvironment(variables: variables, currentDirectory: FileManager.default.currentDirectoryPath)
  }
}
