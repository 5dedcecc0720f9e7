import DstackCommands

@main
enum DstackMain {
  static func main() {
    Dstack.runMain()
  }
}
