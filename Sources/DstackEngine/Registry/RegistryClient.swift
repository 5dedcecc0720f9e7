import FoundationEssentials
import NIOCore
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Why a registry request failed; each message says what to do.
package enum RegistryError: Error, CustomStringConvertible {
  case unreachable(registry: String, reason: String)
  case unauthorized(registry: String, repository: String)
  case notFound(what: String)
  case serverError(registry: String, status: Int)
  case badResponse(what: String, detail: String)
  case digestMismatch(what: String, expected: Digest, actual: Digest)
  /// A failure remembered from an earlier look-up (within `LookupPolicy.failureLifetime`).
  case remembered(String)
  case timedOut(registry: String, seconds: Int64)
  case tooManyPages(what: String)
  case rateLimited(registry: String, retryAfter: Int?)
  case credentialHelperTimedOut(registry: String, helper: String, seconds: Int64)

  package var description: String {
    switch self {
    case .unreachable(let registry, let reason):
      "cannot reach registry \(registry) (\(reason)); check the network, or use --offline"
    case .unauthorized(let registry, let repository):
      "registry \(registry) refused access to \(repository); run `docker login \(registry)` with an account that may pull it"
    case .notFound(let what):
      "\(what) not found"
    case .serverError(let registry, let status):
      "registry \(registry) failed (HTTP \(status)); try again later"
    case .badResponse(let what, let detail):
      "\(what) is not what a registry should send (\(detail))"
    case .digestMismatch(let what, let expected, let actual):
      "\(what) does not match its digest (expected \(expected.short), got \(actual.short)); it was corrupted on the way"
    case .timedOut(let registry, let seconds):
      "registry \(registry) did not finish answering within \(seconds) s; try again, raise DSTACK_REGISTRY_TIMEOUT, or use --offline"
    case .tooManyPages(let what):
      "\(what) has more pages than dstack reads (a loop, or a hostile registry)"
    case .rateLimited(let registry, let retryAfter):
      "registry \(registry) is rate-limiting dstack (HTTP 429\(retryAfter.map { ", retry after \($0) s" } ?? "")); try again later, or use --offline"
    case .credentialHelperTimedOut(let registry, let helper, let seconds):
      "the credential helper \(helper) did not answer within the registry deadline (\(seconds) s) when asked for \(registry); check that `\(helper) get` answers, or use --offline"
    case .remembered(let problem):
      "\(problem) (remembered from a look-up less than 30 s ago; --refresh asks again)"
    }
  }
}

/// A content descriptor in a manifest.
package struct Descriptor: Decodable, Sendable {
  package let mediaType: String?
  package let digest: Digest
  package let size: Int?
  /// The descriptor's annotations (cosign keeps a layer's signature in one).
  package let annotations: [String: String]?
}

/// The parts of an image manifest dstack needs, for one platform.
package struct ImageManifest: Sendable {
  /// The digest of the (platform) manifest itself.
  package let digest: Digest
  /// The digest of the multi-platform index the reference named, when it named one.
  package let indexDigest: Digest?
  /// The image configuration (its digest is the image ID).
  package let config: Descriptor
  /// The filesystem layers, lowest first.
  package let layers: [Descriptor]
}

/// What an image configuration says about the image.
package struct ImageConfiguration: Sendable {
  package let labels: [String: String]
  /// When the image was built (RFC 3339), when the configuration says.
  package let created: String?
  package let os: String?
  package let architecture: String?
  /// The digests of the uncompressed layers, lowest first (`rootfs.diff_ids`).
  package let diffIDs: [Digest]
}

/// A client for the Docker Registry HTTP API v2 (the OCI distribution spec): tag lists
/// with pagination, manifests and blobs, Bearer-token and Basic authentication with the
/// docker CLI's credentials, and a digest check on everything it fetches.
package final class RegistryClient: Sendable {
  /// The most tag-list pages read for one repository.
  static let pageLimit = 1000
  /// How many tags a tag-list page asks for.
  package static let pageSize = 1000

  /// Media types accepted for manifests, most specific last.
  static let manifestTypes = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
  ]

  /// How long one look-up (the tag list of one repository, one manifest, one blob) may
  /// take, however many requests it makes (pages, authentication, retries).
  private let seconds: Int64
  private let credentials: DockerCredentials
  private let architecture: String
  /// Authorization headers already obtained, by registry host and repository.
  private let authorizations = Mutex<[String: String]>([:])

  /// - Parameters:
  ///   - timeout: seconds within which each look-up must be answered, counted from its
  ///     start (`DSTACK_REGISTRY_TIMEOUT`, default 30).
  ///   - architecture: the platform to pick from multi-platform images (Docker's naming).
  package init(credentials: DockerCredentials, timeout: Int64 = 30, architecture: String? = nil) {
    self.seconds = timeout
    self.credentials = credentials
    self.architecture = architecture ?? DstackRelease.architecture
  }

  /// All tags of `repository`, following `Link` headers page by page.
  /// - Returns: the tags and how many pages were read.
  package func tags(of repository: RegistryRepository, pageSize: Int = RegistryClient.pageSize) throws(RegistryError)
    -> (
      tags: [String], pages: Int
    )
  {
    struct TagList: Decodable { let tags: [String]? }
    var next: URL? = try Self.url("\(repository.apiBase)/tags/list?n=\(pageSize)")
    var tags: [String] = []
    var pages = 0
    var seen: Set<String> = []
    let deadline = lookupDeadline()
    while let url = next {
      guard seen.insert(url.absoluteString).inserted, pages < Self.pageLimit else {
        throw .tooManyPages(what: "the tag list of \(repository)")
      }
      let response = try send(
        HTTP.Request(url: url.absoluteString), to: repository, what: "the tag list of \(repository)",
        deadline: deadline)
      guard let page = try? JSONDecoder().decode(TagList.self, from: Data(response.body)) else {
        throw .badResponse(what: "the tag list of \(repository)", detail: "not a JSON tag list")
      }
      tags += page.tags ?? []
      pages += 1
      next = try Self.nextPage(link: response.header("Link"), after: url, repository: repository)
    }
    return (tags, pages)
  }

  /// The manifest of `reference` (a tag or a digest) for this machine's platform.
  package func manifest(of repository: RegistryRepository, reference: String) throws(RegistryError) -> ImageManifest {
    try manifest(of: repository, reference: reference, deadline: lookupDeadline())
  }

  /// The manifest of `reference`; an index and the platform manifest it names are one look-up.
  private func manifest(of repository: RegistryRepository, reference: String, deadline: NIODeadline)
    throws(RegistryError) -> ImageManifest
  {
    let what = "manifest \(repository)\(reference.hasPrefix("sha256:") ? "@" : ":")\(reference)"
    let request = HTTP.Request(
      url: "\(repository.apiBase)/manifests/\(reference)",
      headers: [("Accept", Self.manifestTypes.joined(separator: ", "))])
    let response = try send(request, to: repository, what: what, deadline: deadline)
    let body = Data(response.body)
    let digest = Digest(of: body)
    if let expected = Digest(reference) ?? response.header("Docker-Content-Digest").flatMap(Digest.init),
      expected != digest
    {
      throw .digestMismatch(what: what, expected: expected, actual: digest)
    }
    struct Platform: Decodable {
      let os: String?
      let architecture: String?
    }
    struct Entry: Decodable {
      let digest: Digest
      let platform: Platform?
    }
    struct Document: Decodable {
      let mediaType: String?
      let manifests: [Entry]?
      let config: Descriptor?
      let layers: [Descriptor]?
    }
    guard let document = try? JSONDecoder().decode(Document.self, from: body) else {
      throw .badResponse(what: what, detail: "not a JSON manifest")
    }
    if let entries = document.manifests {
      guard
        let entry = entries.first(where: { $0.platform?.os == "linux" && $0.platform?.architecture == architecture })
      else {
        throw .notFound(what: "a linux/\(architecture) image in \(what)")
      }
      let platform = try manifest(of: repository, reference: entry.digest.description, deadline: deadline)
      return ImageManifest(
        digest: platform.digest, indexDigest: digest, config: platform.config, layers: platform.layers)
    }
    guard let config = document.config, let layers = document.layers else {
      throw .badResponse(what: what, detail: "no config or layers; media type \(document.mediaType ?? "none")")
    }
    return ImageManifest(digest: digest, indexDigest: nil, config: config, layers: layers)
  }

  /// The blob `digest`, checked against its digest.
  package func blob(of repository: RegistryRepository, digest: Digest) throws(RegistryError) -> Data {
    let what = "blob \(digest.short) of \(repository)"
    let body = try send(
      HTTP.Request(url: "\(repository.apiBase)/blobs/\(digest)"), to: repository, what: what,
      deadline: lookupDeadline()
    ).body
    let actual = Digest(of: body)
    guard actual == digest else { throw .digestMismatch(what: what, expected: digest, actual: actual) }
    return Data(body)
  }

  /// The parts of an image configuration blob that dstack reads.
  package func configuration(of repository: RegistryRepository, config: Digest) throws(RegistryError)
    -> ImageConfiguration
  {
    struct Document: Decodable {
      struct Inner: Decodable {
        let labels: [String: String]?
        enum CodingKeys: String, CodingKey { case labels = "Labels" }
      }
      struct RootFS: Decodable {
        let diffIDs: [Digest]?
        enum CodingKeys: String, CodingKey { case diffIDs = "diff_ids" }
      }
      let config: Inner?
      let created: String?
      let os: String?
      let architecture: String?
      let rootfs: RootFS?
    }
    let body = try blob(of: repository, digest: config)
    guard let document = try? JSONDecoder().decode(Document.self, from: body) else {
      throw .badResponse(what: "image configuration \(config.short) of \(repository)", detail: "not JSON")
    }
    return ImageConfiguration(
      labels: document.config?.labels ?? [:], created: document.created, os: document.os,
      architecture: document.architecture, diffIDs: document.rootfs?.diffIDs ?? [])
  }

  // MARK: - HTTP and authentication

  /// Sends `request`, answering an authentication challenge once, and maps failures.
  private func send(
    _ request: HTTP.Request, to repository: RegistryRepository, what: String, deadline: NIODeadline
  ) throws(RegistryError) -> HTTP.Response {
    var request = request
    let cacheKey = repository.apiHost + " " + repository.path
    if let authorization = authorizations.withLock({ $0[cacheKey] }) {
      request.headers.append(("Authorization", authorization))
    }
    var response = try perform(request, registry: repository.registry, deadline: deadline)
    if response.status == 401 {
      let authorization = try authorize(
        challenge: response.header("WWW-Authenticate") ?? "", repository: repository, deadline: deadline)
      authorizations.withLock { $0[cacheKey] = authorization }
      request.headers.removeAll { $0.0 == "Authorization" }
      request.headers.append(("Authorization", authorization))
      response = try perform(request, registry: repository.registry, deadline: deadline)
    }
    switch response.status {
    case 200..<300: return response
    case 401, 403: throw .unauthorized(registry: repository.registry, repository: repository.path)
    case 429: throw .rateLimited(registry: repository.registry, retryAfter: Self.retryAfter(response))
    case 404: throw .notFound(what: what)
    case 500...: throw .serverError(registry: repository.registry, status: response.status)
    default: throw .badResponse(what: what, detail: "HTTP \(response.status)")
    }
  }

  /// The Authorization header answering `challenge` (`Bearer realm=…` or `Basic …`).
  private func authorize(challenge: String, repository: RegistryRepository, deadline: NIODeadline)
    throws(RegistryError) -> String
  {
    let (scheme, parameters) = Self.parseChallenge(challenge)
    let credential: DockerCredentials.Credential?
    do {
      credential = try credentials.credential(for: repository.registry, timeout: Self.remainingTime(until: deadline))
    } catch {
      throw .credentialHelperTimedOut(
        registry: repository.registry, helper: error.helper, seconds: seconds)
    }
    switch scheme {
    case "basic":
      guard let credential, !credential.isIdentityToken else {
        throw .unauthorized(registry: repository.registry, repository: repository.path)
      }
      return "Basic " + Data("\(credential.username):\(credential.secret)".utf8).base64EncodedString()
    case "bearer":
      guard let realm = parameters["realm"], var components = URLComponents(string: realm),
        let realmURL = components.url,
        components.scheme == "https" || (components.scheme == "http" && repository.isLoopback)
      else {
        throw .badResponse(what: "the authentication challenge of \(repository.registry)", detail: "bad realm")
      }
      let scope = parameters["scope"] ?? "repository:\(repository.path):pull"
      var request: HTTP.Request
      if let credential, credential.isIdentityToken {
        var form = URLComponents()
        form.queryItems = [
          URLQueryItem(name: "grant_type", value: "refresh_token"),
          URLQueryItem(name: "refresh_token", value: credential.secret),
          URLQueryItem(name: "service", value: parameters["service"] ?? ""),
          URLQueryItem(name: "scope", value: scope), URLQueryItem(name: "client_id", value: "dstack"),
        ]
        request = HTTP.Request(
          url: realmURL.absoluteString, headers: [("Content-Type", "application/x-www-form-urlencoded")],
          method: .POST, body: Array((form.percentEncodedQuery ?? "").utf8))
      } else {
        components.queryItems =
          (components.queryItems ?? [])
          + [URLQueryItem(name: "scope", value: scope)]
          + (parameters["service"].map { [URLQueryItem(name: "service", value: $0)] } ?? [])
        request = HTTP.Request(url: (components.url ?? realmURL).absoluteString)
        if let credential {
          let basic = Data("\(credential.username):\(credential.secret)".utf8).base64EncodedString()
          request.headers.append(("Authorization", "Basic " + basic))
        }
      }
      let response = try perform(request, registry: repository.registry, deadline: deadline)
      guard response.status == 200 else {
        throw .unauthorized(registry: repository.registry, repository: repository.path)
      }
      struct Token: Decodable {
        let token: String?
        let accessToken: String?
        enum CodingKeys: String, CodingKey {
          case token
          case accessToken = "access_token"
        }
      }
      guard let answer = try? JSONDecoder().decode(Token.self, from: Data(response.body)),
        let token = answer.token ?? answer.accessToken
      else {
        throw .badResponse(what: "the token from \(realm)", detail: "no token in the answer")
      }
      return "Bearer " + token
    default:
      throw .unauthorized(registry: repository.registry, repository: repository.path)
    }
  }

  /// Splits `Bearer realm="…",service="…",scope="…"` into the scheme and its parameters.
  static func parseChallenge(_ header: String) -> (scheme: String, parameters: [String: String]) {
    let trimmed = header.trimmed
    guard let space = trimmed.firstIndex(of: " ") else { return (trimmed.lowercased(), [:]) }
    var parameters: [String: String] = [:]
    var rest = trimmed[trimmed.index(after: space)...]
    while let equals = rest.firstIndex(of: "=") {
      let key = rest[..<equals].drop { $0 == " " || $0 == "," }.trimmed
        .lowercased()
      rest = rest[rest.index(after: equals)...]
      var value = ""
      if rest.first == "\"" {
        rest = rest.dropFirst()
        while let character = rest.first, character != "\"" {
          if character == "\\" { rest = rest.dropFirst() }
          if let next = rest.first { value.append(next) }
          rest = rest.dropFirst()
        }
        rest = rest.dropFirst()
      } else {
        value = String(rest.prefix { $0 != "," })
        rest = rest.drop { $0 != "," }
      }
      parameters[key] = value
    }
    return (String(trimmed[..<space]).lowercased(), parameters)
  }

  /// The next page from a `Link: <…>; rel="next"` header, on the same registry only.
  static func nextPage(link: String?, after url: URL, repository: RegistryRepository) throws(RegistryError) -> URL? {
    guard let link, link.contains("rel=\"next\""),
      let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close
    else { return nil }
    guard let next = URL(string: String(link[link.index(after: open)..<close]), relativeTo: url)?.absoluteURL,
      next.scheme == url.scheme, next.host == url.host, next.port == url.port
    else {
      throw .badResponse(what: "the tag list of \(repository)", detail: "a next page on another host")
    }
    return next
  }

  /// A URL built from a repository name that the registry rules allow.
  private static func url(_ text: String) throws(RegistryError) -> URL {
    guard let url = URL(string: text) else { throw .badResponse(what: text, detail: "not a valid URL") }
    return url
  }

  /// The deadline of a look-up that starts now.
  private func lookupDeadline() -> NIODeadline { .now() + .seconds(seconds) }

  /// What is left until `deadline` (at least a millisecond).
  private static func remainingTime(until deadline: NIODeadline) -> Duration {
    .nanoseconds(max(1_000_000, (deadline - .now()).nanoseconds))
  }

  /// The longest `Retry-After` that dstack waits for, in seconds.
  static let longestRetryAfter = 10

  /// One HTTP exchange; network failures become `unreachable`. A 429 answer with a short
  /// `Retry-After` (seconds, within the deadline) is waited for and asked again, twice
  /// at most.
  private func perform(_ request: HTTP.Request, registry: String, deadline: NIODeadline) throws(RegistryError)
    -> HTTP.Response
  {
    var response = try performOnce(request, registry: registry, deadline: deadline)
    for _ in 0..<2 {
      guard response.status == 429, let seconds = Self.retryAfter(response), seconds <= Self.longestRetryAfter,
        Duration.seconds(seconds) < Self.remainingTime(until: deadline)
      else { break }
      sleep(UInt32(seconds))
      response = try performOnce(request, registry: registry, deadline: deadline)
    }
    return response
  }

  /// The seconds of a `Retry-After: N` header (the HTTP-date form is not used by registries).
  static func retryAfter(_ response: HTTP.Response) -> Int? {
    response.header("Retry-After").flatMap { Int($0.trimmed) }.flatMap { $0 >= 0 ? $0 : nil }
  }

  private func performOnce(_ request: HTTP.Request, registry: String, deadline: NIODeadline) throws(RegistryError)
    -> HTTP.Response
  {
    do {
      return try HTTP.send(request, deadline: deadline)
    } catch .timedOut {
      throw .timedOut(registry: registry, seconds: seconds)
    } catch {
      throw .unreachable(registry: registry, reason: error.description)
    }
  }
}
