"""Errors a user can cause or fix, each turned into one clear line at the edge.

Anything that is not a `CopilotError` is a bug and keeps its traceback.
"""


class CopilotError(Exception):
    """Base class: the message is the whole story, shown as one line."""

    exit_code = 1


class ConfigError(CopilotError):
    """A setting in config.toml, the environment or a flag is wrong."""

    exit_code = 2


class ModelMissing(CopilotError):
    """A model file or package is absent, or its bytes are not what they should be."""

    exit_code = 3


class IndexEmpty(CopilotError):
    """There is nothing indexed to answer from."""

    exit_code = 4


class IndexBusy(CopilotError):
    """Another process is updating the index."""

    exit_code = 5


class IndexStale(CopilotError):
    """The index was built with another embedder and must be rebuilt."""

    exit_code = 4


class BadQuestion(CopilotError):
    """A question that cannot be asked as it is: empty once cleaned, or too long."""


class QuestionTooLong(BadQuestion):
    """A question longer than the product takes, or than the model's window holds with one passage."""


class NetworkRefused(CopilotError, ConnectionRefusedError):
    """The offline guard refused an outbound connection.

    It is also a ConnectionRefusedError so libraries that treat a refused
    connection as "offline" carry on as they would without a network.
    """


class ConversationError(CopilotError):
    """A saved conversation is missing, or the file holding them cannot be read."""


class SkipFile(CopilotError):
    """A document cannot be indexed; the message is the reason shown to the user."""


class IndexCancelled(CopilotError):
    """The user stopped an indexing run; files done so far stay indexed."""


class AccessDenied(CopilotError):
    """The person has no access to the index (no policy, or not in it); the message says why."""

    exit_code = 4


class Unavailable(CopilotError):
    """A server this needs (the firm's copilot server, a model server, the index's Chroma)
    cannot be reached or failed; the message names it."""

    exit_code = 6


class Busy(CopilotError):
    """The firm's server has as many questions waiting as it takes: try again shortly."""

    exit_code = 6
