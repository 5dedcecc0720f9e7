import ArgumentParser
import DstackEngine
import DstackHost

struct FindImage: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "find-image",
    abstract: "Print the newest version of an image as NAME:TAG.",
    discussion: """
      Looks in the local engine and in the image's registry. Tags that are not versions \
      (YY.MM.DD or YYYYMMDD-HHMMSS) are ignored. With a tag or digest, prints NAME as it \
      is when the image exists. Runs the mini's find-image script (the same as \
      `dstack run-script find-image NAME`), so the rule ships with the mini.
      """)

  @Flag(help: "Print every place a short name has versions, newest first, with where each is.")
  var all = false

  @Argument(help: "An image repository, such as team/app (or team/app:TAG).")
  var name: String

  @OptionGroup var miniOptions: MiniOptions
  @OptionGroup var lookup: LookupOptions
  @OptionGroup var output: OutputOptions

  func run() throws {
    let environment = HostEnvironment.current()
    let services = HostServices(
      environment: environment, logger: output.logger(environment), policy: lookup.policy(environment))
    let source = try miniOptions.selection(services: services).source
    try runScript(
      "find-image", arguments: (all ? ["--all"] : []) + [name], from: source, services: services,
      verbose: output.verbose)
  }
}
