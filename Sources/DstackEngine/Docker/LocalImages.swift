/// What choosing a mini asks the local engine: a repository's tags, an image's
/// inspection, and a folder copied out of an image without running it. `Docker` is the one
/// dstack uses; tests of the choice give recorded answers instead of an engine.
package protocol LocalImages {
  /// The local tags of `repository` and the image ID each points to.
  func localTags(_ repository: String) throws(DockerError) -> [(tag: String, imageID: Digest)]
  /// `docker image inspect` of one image, or nil when there is no such image locally.
  func inspectImage(_ reference: String) throws(DockerError) -> JSONValue?
  /// The folder `path` of image `imageID` as a tar stream, taken out without running the image.
  func copyFolder(_ path: String, outOf imageID: Digest) throws(DockerError) -> [UInt8]
}

extension Docker: LocalImages {
  /// `docker create` (with the label `io.dstack.extract=1`), `docker cp … -`, `docker rm`.
  package func copyFolder(_ path: String, outOf imageID: Digest) throws(DockerError) -> [UInt8] {
    let container = try query(["create", "--label", "io.dstack.extract=1", imageID.description, "/dstack-extract"])
      .output
    defer { _ = try? query(["rm", "--force", container]) }
    return try query(["cp", "\(container):\(path)", "-"]).stdout
  }
}
