import FoundationEssentials

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Registry credentials as the docker CLI stores them: `$DOCKER_CONFIG/config.json`
/// (default `~/.docker/config.json`), with `auths`, `credHelpers` and `credsStore`.
package struct DockerCredentials: Sendable {
  /// A user name and secret; the user `<token>` means the secret is an identity token.
  package struct Credential: Sendable, Equatable {
    package let username: String
    package let secret: String
    package var isIdentityToken: Bool { username == "<token>" }
  }

  private struct ConfigFile: Decodable {
    struct Auth: Decodable {
      let auth: String?
      let identitytoken: String?
    }
    let auths: [String: Auth]?
    let credHelpers: [String: String]?
    let credsStore: String?
  }

  private let config: ConfigFile?
  private let runner: ProcessRunner
  /// Why the configuration file could not be read, when it exists but is not valid JSON
  /// (dstack then proceeds without credentials, as the docker CLI does, and says so).
  package let problem: String?

  /// The credentials of the docker CLI configuration of `environment` (a missing file means none).
  package init(environment: HostEnvironment, runner: ProcessRunner) {
    let path = environment.dockerConfigDirectory + "/config.json"
    let data = environment.dockerConfigFile
    self.config = data.flatMap { try? JSONDecoder().decode(ConfigFile.self, from: $0) }
    self.problem =
      data != nil && config == nil
      ? "cannot read the docker configuration \(path) (it is not valid JSON); registries are asked without credentials; fix or remove the file"
      : nil
    self.runner = runner
  }

  /// A credential helper did not answer in time.
  package struct HelperTimeout: Error {
    package let helper: String
    package let limit: Duration
  }

  /// The credential for `registry` (as written in references), or nil for anonymous access.
  /// A credential helper that is missing or finds nothing means anonymous access, as
  /// with the docker CLI.
  /// - Parameter timeout: how long a credential helper may take to answer.
  /// - Throws: `HelperTimeout` when the helper did not answer within `timeout`.
  package func credential(for registry: String, timeout: Duration) throws(HelperTimeout) -> Credential? {
    guard let config else { return nil }
    let keys =
      registry == "docker.io"
      ? ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
      : [registry, "https://\(registry)", "http://\(registry)", "https://\(registry)/v1/"]
    for key in keys {
      if let helper = config.credHelpers?[key] { return try fromHelper(helper, server: key, timeout: timeout) }
    }
    for key in keys {
      guard let entry = config.auths?[key] else { continue }
      if let token = entry.identitytoken, !token.isEmpty {
        return Credential(username: "<token>", secret: token)
      }
      if let encoded = entry.auth, let decoded = Data(base64Encoded: encoded),
        let pair = String(data: decoded, encoding: .utf8), let colon = pair.firstIndex(of: ":")
      {
        return Credential(username: String(pair[..<colon]), secret: String(pair[pair.index(after: colon)...]))
      }
      if let store = config.credsStore { return try fromHelper(store, server: key, timeout: timeout) }
    }
    if let store = config.credsStore { return try fromHelper(store, server: keys[0], timeout: timeout) }
    return nil
  }

  /// Asks `docker-credential-NAME get` (the credential helper protocol).
  private func fromHelper(_ name: String, server: String, timeout: Duration) throws(HelperTimeout) -> Credential? {
    struct Answer: Decodable {
      let username: String
      let secret: String
      enum CodingKeys: String, CodingKey {
        case username = "Username"
        case secret = "Secret"
      }
    }
    let helper = "docker-credential-\(name)"
    let result: ProcessResult
    do {
      result = try runner.run([helper, "get"], stdin: .bytes(Array(server.utf8)), timeout: timeout)
    } catch .timedOut {
      throw HelperTimeout(helper: helper, limit: timeout)
    } catch {
      return nil
    }
    guard result.succeeded, let answer = try? JSONDecoder().decode(Answer.self, from: Data(result.stdout)) else {
      return nil
    }
    return Credential(username: answer.username, secret: answer.secret)
  }
}
