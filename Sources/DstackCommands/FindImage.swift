import ArgumentParser
import DstackCore

struct FindImage: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "find-image",
    abstract: "Print the newest version of an image as NAME:TAG.",
    discussion: """
      Looks in the local engine and in the image's registry. Tags that are not versions \
      (YY.MM.DD or YYYYMMDD-HHMMSS) are ignored. With a tag or digest, prints NAME as it \
      is when the image exists.
      """)

  @Argument(help: "An image repository, such as team/app (or team/app:TAG).")
  var name: String

  @Flag(help: "Look only in the local engine.")
  var offline = false

  @Flag(help: "Ask the registry now, not the tag list remembered for 10 minutes.")
  var refresh = false

  @OptionGroup var output: OutputOptions

  func run() throws {
    let services = HostServices(logger: output.logger, offline: offline, refresh: refresh)
    do {
      print(try services.imageFinder.newest(ImageReference(parsing: name)))
    } catch {
      throw CommandFailure(message: "\(error)")
    }
  }
}
