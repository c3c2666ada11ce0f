"""The commands beside the engine: `copilot doctor`, `copilot bundle` (and the installer it
carries), `copilot eval`.  Each may use anything below the edges; the command line calls them.
"""
