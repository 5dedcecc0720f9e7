import ArgumentParser
import DstackCore

struct FindImage: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "find-image",
    abstract: "Print the newest version of an image as NAME:TAG.",
    discussion: """
      Tags that are not versions (YY.MM.DD or YYYYMMDD-HHMMSS) are ignored. With a tag \
      or digest, prints NAME as it is when the image exists.
      """)

  @Argument(help: "An image repository, such as team/app (or team/app:TAG).")
  var name: String

  func run() throws {
    let docker = Docker(runner: ProcessRunner(), dryRun: DryRunSwitch(false))
    let reference = ImageReference(parsing: name)
    let found: ImageReference?
    do {
      found = try docker.latestLocal(reference)
    } catch {
      throw CommandFailure(message: error.description)
    }
    guard let found else {
      throw CommandFailure(
        message: reference.isPinned
          ? "image \(reference) not found locally"
          : "no version of \(reference.repository) found locally (tags must be YY.MM.DD or YYYYMMDD-HHMMSS)")
    }
    print(found)
  }
}
