import DstackTestSupport
import Foundation
import Testing

@testable import DstackEngine
@testable import DstackHost
@testable import DstackLua

@Suite("Docker credentials")
struct DockerCredentialsTests {
  let scratch = Scratch()

  /// The docker CLI's configuration in a scratch DOCKER_CONFIG, with a credential helper
  /// `docker-credential-dstacktest` on PATH that knows one server.
  private func credentials(config: String) throws -> DockerCredentials {
    try scratch.write("docker/config.json", config)
    let helper = try scratch.write(
      "bin/docker-credential-dstacktest",
      """
      #!/bin/sh
      [ "$1" = get ] || exit 1
      read server
      case "$server" in
        registry.example.com|https://index.docker.io/v1/) echo '{"Username":"helper-user","Secret":"helper-secret"}' ;;
        hangs.example.com) exec sleep 600 ;;
        *) echo "credentials not found in native keychain"; exit 1 ;;
      esac
      """)
    chmod(helper, 0o755)
    let environment = [
      "DOCKER_CONFIG": scratch.path("docker"), "PATH": scratch.path("bin") + ":/usr/bin:/bin",
    ]
    return DockerCredentials(environment: .with(environment), runner: ProcessRunner(environment: environment))
  }

  @Test("a credential helper that never answers is stopped at the deadline and named")
  func hangingHelper() throws {
    let store = try credentials(config: #"{"credsStore": "dstacktest"}"#)
    let started = ContinuousClock.now
    #expect {
      try store.credential(for: "hangs.example.com", timeout: .milliseconds(300))
    } throws: { error in
      (error as? DockerCredentials.HelperTimeout)?.helper == "docker-credential-dstacktest"
    }
    #expect(ContinuousClock.now - started < .seconds(5), "the helper was waited for past its time")
  }

  @Test("auths entries hold base64 user:password, or an identity token")
  func auths() throws {
    let basic = Data("ci:pa:ss".utf8).base64EncodedString()
    let found = try credentials(
      config: #"{"auths": {"localhost:5000": {"auth": "\#(basic)"}, "https://ghcr.io": {"identitytoken": "refresh"}}}"#)
    #expect(try found.credential(for: "localhost:5000", timeout: .seconds(5)) == .init(username: "ci", secret: "pa:ss"))
    #expect(try found.credential(for: "ghcr.io", timeout: .seconds(5))?.isIdentityToken == true)
    #expect(try found.credential(for: "other.example.com", timeout: .seconds(5)) == nil)
  }

  @Test("credHelpers and credsStore are asked with the helper protocol")
  func helpers() throws {
    let perRegistry = try credentials(config: #"{"credHelpers": {"registry.example.com": "dstacktest"}}"#)
    #expect(
      try perRegistry.credential(for: "registry.example.com", timeout: .seconds(5))
        == .init(username: "helper-user", secret: "helper-secret"))
    let store = try credentials(config: #"{"credsStore": "dstacktest"}"#)
    #expect(
      try store.credential(for: "docker.io", timeout: .seconds(5))
        == .init(username: "helper-user", secret: "helper-secret"))
    #expect(
      try store.credential(for: "unknown.example.com", timeout: .seconds(5)) == nil,
      "a helper that knows nothing means anonymous")
  }
}
