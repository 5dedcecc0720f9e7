import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix

/// Every HTTP request dstack makes, to registries and to the Docker Engine API socket,
/// on one client (AsyncHTTPClient on SwiftNIO, TLS with the system's trust store).
/// Callers wait for the answer; each request has a deadline.
package enum HTTP {
  /// One request.
  package struct Request: Sendable {
    package var method: HTTPMethod = .GET
    package var url: String
    package var headers: [(String, String)] = []
    package var body: [UInt8]?

    package init(url: String, headers: [(String, String)] = [], method: HTTPMethod = .GET, body: [UInt8]? = nil) {
      self.url = url
      self.headers = headers
      self.method = method
      self.body = body
    }
  }

  /// An answer: the status, the headers and the whole body.
  package struct Response: Sendable {
    package let status: Int
    package let headers: HTTPHeaders
    package let body: [UInt8]

    /// The first value of header `name` (case-insensitive).
    package func header(_ name: String) -> String? { headers.first(name: name) }
  }

  /// Why no answer came.
  package enum Failure: Error, CustomStringConvertible {
    case invalidURL(String)
    case timedOut
    case tooLarge(limit: Int)
    case unreachable(String)

    package var description: String {
      switch self {
      case .invalidURL(let url): "'\(url)' is not a URL dstack can fetch"
      case .timedOut: "no complete answer before the deadline"
      case .tooLarge(let limit): "the answer is larger than \(limit >> 20) MiB, more than dstack accepts"
      case .unreachable(let reason): reason
      }
    }
  }

  /// The largest body dstack reads: minis are a few scripts, tag lists a few MB.
  package static let bodyLimit = 64 << 20

  /// Sends `request` and waits until `deadline` at most for the whole answer.
  package static func send(_ request: Request, deadline: NIODeadline) throws(Failure) -> Response {
    let prepared: HTTPClient.Request
    do {
      prepared = try HTTPClient.Request(
        url: request.url, method: request.method, headers: HTTPHeaders(request.headers + userAgent),
        body: request.body.map { .bytes($0) })
    } catch {
      throw .invalidURL(request.url)
    }
    return try execute(prepared, deadline: deadline)
  }

  /// GETs `path` from the HTTP server on the unix socket at `socketPath` (the Engine API).
  package static func get(socket socketPath: String, path: String, timeout: TimeAmount) throws(Failure) -> Response {
    guard let request = socketRequest(socketPath, path) else { throw .invalidURL(path) }
    return try execute(request, deadline: .now() + timeout)
  }

  /// Starts the client and opens a connection to the unix socket at `socketPath` in the
  /// background (a `GET /_ping` that nothing waits for), so that the first real request
  /// finds both ready: that setup costs about 3 ms, done while a script loads.
  package static func connectInBackground(socket socketPath: String) {
    eventLoopGroup.next().execute {
      guard let request = socketRequest(socketPath, "/_ping") else { return }
      _ = client.execute(request: request, deadline: .now() + .seconds(5))
    }
  }

  private static func socketRequest(_ socketPath: String, _ path: String) -> HTTPClient.Request? {
    guard let url = URL(httpURLWithSocketPath: socketPath, uri: path) else { return nil }
    return try? HTTPClient.Request(url: url, method: .GET, headers: HTTPHeaders(userAgent + [("Host", "localhost")]))
  }

  /// dstack's requests come one at a time: one event-loop thread serves them all.
  private static let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

  private static func execute(_ request: HTTPClient.Request, deadline: NIODeadline) throws(Failure) -> Response {
    do {
      let accumulator = ResponseAccumulator(request: request, maxBodySize: bodyLimit)
      let answer = try client.execute(request: request, delegate: accumulator, deadline: deadline).wait()
      return Response(
        status: Int(answer.status.code), headers: answer.headers,
        body: answer.body.map { Array($0.readableBytesView) } ?? [])
    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
      throw .timedOut
    } catch is ResponseAccumulator.ResponseTooBigError {
      throw .tooLarge(limit: bodyLimit)
    } catch {
      throw .unreachable(describe(error))
    }
  }

  private static let userAgent = [("User-Agent", "dstack/\(DstackRelease.version)")]

  /// One client for the process, never shut down (it lives as long as dstack). Redirects
  /// are followed (blob storage often redirects), and credentials are not sent to another
  /// host. A connection that cannot be made (a name that does not resolve, a refused port)
  /// fails at once: a command-line tool says so instead of retrying until a timeout.
  private static let client: HTTPClient = {
    var configuration = HTTPClient.Configuration(
      certificateVerification: .fullVerification, redirectConfiguration: .follow(max: 5, allowCycles: false),
      timeout: .init(connect: .seconds(10), read: .seconds(30)), decompression: .disabled)
    configuration.connectionPool.retryConnectionEstablishment = false
    return HTTPClient(eventLoopGroupProvider: .shared(eventLoopGroup), configuration: configuration)
  }()

  /// A short reason for people: NIO's errors name their cause in their own words.
  private static func describe(_ error: Error) -> String {
    let text = String(describing: error)
    if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
    if text.contains("UnknownHost") || text.contains("Name or service not known") || text.contains("NXDOMAIN") {
      return "the host name does not resolve"
    }
    if text.contains("handshake") || text.contains("certificate") || text.contains("SSL") {
      return "TLS failed (\(text)); install the registry's CA certificate in the system trust store"
    }
    return text
  }
}
