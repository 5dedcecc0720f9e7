#if canImport(Glibc)
  import Glibc
#endif

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

  /// True for registries on loopback, reached over HTTP: `localhost`, an IPv4 address in
  /// 127.0.0.0/8, or the IPv6 address ::1 (in brackets), as the system parses addresses. A
  /// name that only starts like one (`127.0.0.1.example.com`) is not: it goes over HTTPS.
  package var isLoopback: Bool {
    if apiHost.hasPrefix("[") {
      var address = in6_addr()
      let host = String(apiHost.dropFirst().prefix { $0 != "]" })
      return inet_pton(AF_INET6, host, &address) == 1
        && withUnsafeBytes(of: &address) { $0.elementsEqual(Self.ipv6Loopback) }
    }
    let host = String(apiHost.split(separator: ":", omittingEmptySubsequences: false).first ?? "")
    if host == "localhost" { return true }
    var address = in_addr()
    return host.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && inet_pton(AF_INET, host, &address) == 1
      && withUnsafeBytes(of: &address) { $0.first } == 127
  }

  private static let ipv6Loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]

  /// `http` or `https`.
  package var scheme: String { isLoopback ? "http" : "https" }

  /// The base URL of the repository's API, `SCHEME://HOST/v2/PATH`.
  package var apiBase: String { "\(scheme)://\(apiHost)/v2/\(path)" }

  package var description: String { registry == "docker.io" ? path : "\(registry)/\(path)" }
}
