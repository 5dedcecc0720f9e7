import DstackEngine
import FoundationEssentials
import Logging

/// The machinery host functions use: setup, processes, docker, registries, logging,
/// dry-run and the look-up policy. Built once per command from one `HostEnvironment`.
package struct HostServices {
  package let environment: HostEnvironment
  package let runner: ProcessRunner
  package let docker: Docker
  package let registry: RegistryClient
  package let logger: Logger
  package let dryRun: DryRunSwitch
  /// Whether registries are asked, and remembered look-ups trusted.
  package let policy: LookupPolicy
  /// Where mini scripts are cached.
  package let cache: MiniCache

  package init(
    environment: HostEnvironment, logger: Logger, dryRun: DryRunSwitch = DryRunSwitch(false),
    policy: LookupPolicy = LookupPolicy(offline: false, refresh: false),
    printCommand: @escaping (String) -> Void = { print($0) }
  ) {
    self.environment = environment
    self.runner = ProcessRunner(environment: environment.variables)
    self.docker = Docker(runner: runner, environment: environment, dryRun: dryRun, printCommand: printCommand)
    let credentials = DockerCredentials(environment: environment, runner: runner)
    if let problem = credentials.problem { logger.warning("\(problem)") }
    self.registry = RegistryClient(
      credentials: credentials,
      timeout: environment.variables["DSTACK_REGISTRY_TIMEOUT"].flatMap { Int64($0) }.map { max(1, $0) } ?? 30)
    self.logger = logger
    self.dryRun = dryRun
    self.policy = policy
    self.cache = MiniCache(root: environment.cacheDirectory)
  }

  /// Registry reads with the look-up policy applied (offline, remembered tag lists).
  package var registryLookups: RegistryLookups {
    RegistryLookups(client: registry, policy: policy, cacheDirectory: environment.cacheDirectory)
  }

  /// Chooses the mini whose scripts run.
  package var miniResolver: MiniResolver {
    MiniResolver(
      docker: docker, registry: registry, cache: cache, logger: logger, policy: policy, hostAPILevel: HostAPI.level)
  }
}
