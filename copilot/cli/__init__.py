"""The `copilot` command line: a thin edge over the engine contract (`copilot.cli.main`)."""
