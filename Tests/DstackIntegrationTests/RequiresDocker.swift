import DstackTestSupport
import Testing

extension Trait where Self == ConditionTrait {
  /// Runs the test when a Docker engine answers, or when `DSTACK_REQUIRE_DOCKER=1`
  /// (so that a missing engine fails in CI instead of being skipped).
  static var requiresDocker: Self {
    .enabled(
      "needs a Docker engine: run scripts/test-env (set DSTACK_REQUIRE_DOCKER=1 to fail instead of skipping)"
    ) { DockerProbe.shouldRun }
  }
}

extension Trait where Self == ConditionTrait {
  /// Runs the test when this process can make local users (as root, with useradd), and
  /// reports it as skipped otherwise; scripts/test and CI run as root.
  static var requiresLocalUsers: Self {
    .enabled(if: LocalUser.isPossible, "making users takes root (useradd); scripts/test runs as root")
  }
}
