import FoundationEssentials

/// The Docker Engine API on the local unix socket, for the queries on dstack's hot path
/// (a repository's local tags, one image's configuration): a docker CLI call costs
/// 15-40 ms, a request on the socket about 1 ms.
///
/// It is used only when the user's own docker would talk to that same socket: no
/// `DOCKER_HOST` other than `unix://…`, no docker context other than `default`. In every
/// other case (remote daemons, ssh, contexts) `Docker` asks the CLI, as it does for
/// everything that changes state.
package struct DockerEngineSocket: Sendable {
  /// The socket's path.
  package let path: String

  /// The socket the docker CLI would use with `environment`, when it is a local unix socket.
  package static func detect(environment: HostEnvironment) -> DockerEngineSocket? {
    if let host = environment.variables["DOCKER_HOST"], !host.isEmpty {
      guard host.hasPrefix("unix://") else { return nil }
      return DockerEngineSocket(path: String(host.dropFirst("unix://".count)))
    }
    if let context = environment.variables["DOCKER_CONTEXT"], !context.isEmpty, context != "default" { return nil }
    if let data = environment.dockerConfigFile {
      struct Config: Decodable { let currentContext: String? }
      if let context = (try? JSONDecoder().decode(Config.self, from: data))?.currentContext, !context.isEmpty,
        context != "default"
      {
        return nil
      }
    }
    let path = "/var/run/docker.sock"
    return FileManager.default.fileExists(atPath: path) ? DockerEngineSocket(path: path) : nil
  }

  /// GETs an API path; returns the HTTP status and body, or nil when the socket does not answer.
  func get(_ apiPath: String) -> (status: Int, body: [UInt8])? {
    guard let response = try? HTTP.get(socket: path, path: apiPath, timeout: .seconds(5)) else { return nil }
    return (response.status, response.body)
  }

  /// The engine's `Server` header, from `GET /_ping`: its product and version
  /// (`Docker/20.10.24 (linux)`, `Libpod/4.3.1 (linux)`); nil when it does not answer.
  func serverHeader() -> String? {
    guard let response = try? HTTP.get(socket: path, path: "/_ping", timeout: .seconds(5)), response.status == 200
    else { return nil }
    return response.headers.first(name: "Server")
  }

  /// Percent-encodes a query value or path segment.
  static func encode(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"),
        UInt8(ascii: "/"),
        UInt8(ascii: "@"):
        encoded.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return encoded
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    count >= width ? self : String(repeating: "0", count: width - count) + self
  }
}
