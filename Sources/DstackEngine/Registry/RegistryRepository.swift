/// Where a repository lives: the registry host, the repository path on it, and whether
/// it is reached over plain HTTP (loopback registries, as Docker does) or HTTPS.
package struct RegistryRepository: Hashable, Sendable, CustomStringConvertible {
  /// The registry as written in references (`localhost:5000`, `ghcr.io`, `docker.io`).
  package let registry: String
  /// The host the HTTP API is on (Docker Hub's API lives on `registry-1.docker.io`).
  package let apiHost: String
  /// The repository path on the registry (`team/mini`; `library/NAME` for official Hub images).
  package let path: String

  /// Splits a repository name as Docker does: the first component is a registry when it
  /// has a dot or a port or is `localhost`; otherwise the repository is on Docker Hub.
  package init(_ repository: String) {
    let parts = repository.split(separator: "/", maxSplits: 1).map(String.init)
    if parts.count == 2, parts[0].contains(".") || parts[0].contains(":") || parts[0] == "localhost" {
      registry = parts[0]
      path = parts[1]
    } else {
      registry = "docker.io"
      path = parts.count == 1 ? "library/\(repository)" : repository
    }
    apiHost = registry == "docker.io" ? "registry-1.docker.io" : registry
  }

  /// True for registries on loopback (`localhost`, 127.0.0.0/8, `[::1]`), reached over HTTP.
  package var isLoopback: Bool {
    let host: Substring
    if apiHost.hasPrefix("[") {
      host = apiHost.prefix { $0 != "]" }.dropFirst()
    } else {
      host = apiHost.split(separator: ":").first ?? ""
    }
    return host == "localhost" || host.hasPrefix("127.") || host == "::1"
  }

  /// `http` or `https`.
  package var scheme: String { isLoopback ? "http" : "https" }

  /// The base URL of the repository's API, `SCHEME://HOST/v2/PATH`.
  package var apiBase: String { "\(scheme)://\(apiHost)/v2/\(path)" }

  package var description: String { registry == "docker.io" ? path : "\(registry)/\(path)" }
}
