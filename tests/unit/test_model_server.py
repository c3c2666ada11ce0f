"""The model servers' rules: which server an answer's requests go to, the flags they are started
with (and the deploy unit's), and what `copilot serve --check` says of each."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from copilot.core.config import Config
from copilot.core.errors import Unavailable
from copilot.core.present import Checks
from copilot.llama import server
from copilot.llama.endpoint import Endpoints, ModelServer
from copilot.server.run import _model_servers

ROOT = Path(__file__).resolve().parents[2]


def test_an_answer_stays_on_the_server_it_began_on_and_answers_take_the_servers_in_turn() -> None:
    endpoints = Endpoints(["http://a", "http://b", "http://c"])
    assert [endpoints.order()[0] for _ in range(3)] == ["http://a", "http://b", "http://c"]
    assert endpoints.order("http://b")[0] == "http://b"  # its prompt is cached there
    assert endpoints.order()[0] == "http://a"  # following an answer is not taking a turn
    endpoints.failed("http://b")
    assert endpoints.order("http://b")[-1] == "http://b"  # unless it is down: then it is tried last
    endpoints.worked("http://b")
    assert endpoints.order("http://b")[0] == "http://b"


def test_llama_server_is_started_with_slots_each_with_its_context_and_the_in_process_attention(
        monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "llama-server").write_text("")
    monkeypatch.setattr(server, "llama_server_folder", lambda: tmp_path)
    line = server.command(server.LLAMA_SERVER, Path("m.gguf"), 8080, slots=4, context=4096)
    flags = dict(zip(line[1::2], line[2::2]))
    assert line[0] == str(tmp_path / "llama-server")
    assert flags["--parallel"] == "4" and flags["--ctx-size"] == "16384"  # shared by the slots
    assert flags["--flash-attn"] == "off" and "--metrics" in line
    fallback = server.command(server.LLAMA_CPP_SERVER, Path("m.gguf"), 8080, context=4096)
    assert fallback[1:3] == ["-m", "copilot.server.model"] and "--interrupt_requests" in fallback
    with pytest.raises(ValueError, match="one at a time"):
        server.command(server.LLAMA_CPP_SERVER, Path("m.gguf"), 8080, slots=2)
    with pytest.raises(ValueError, match="llama-server, llama_cpp.server"):
        server.command("vllm", Path("m.gguf"), 8080)


def test_the_deploy_unit_runs_llama_server_with_the_flags_the_product_starts_it_with(monkeypatch,
                                                                                    tmp_path: Path) -> None:
    unit = (ROOT / "deploy" / "copilot-model.service").read_text()
    start = next(line for line in unit.replace("\\\n", " ").splitlines() if line.startswith("ExecStart="))
    words = shlex.split(start.removeprefix("ExecStart="))
    assert words[0] == "/opt/copilot/venv/bin/llama-server"  # where install.sh puts it
    (tmp_path / "llama-server").write_text("")
    monkeypatch.setattr(server, "llama_server_folder", lambda: tmp_path)
    ours = server.command(server.LLAMA_SERVER, Path("m.gguf"), 8080, slots=4, context=4096)
    for flag in (w for w in ours if w.startswith("--") and w not in ("--n-gpu-layers", "--threads")):
        assert flag in words, flag
    flags = dict(zip(words[1::2], words[2::2]))
    assert int(flags["--ctx-size"]) == int(flags["--parallel"]) * Config.context_window  # each slot its window
    assert flags["--flash-attn"] == "off"


class _Generator:
    def __init__(self, described):
        self.described = described

    def describe(self, url):
        if isinstance(self.described, Exception):
            raise self.described
        return self.described


class _Engine:
    def __init__(self, described):
        self.generator = _Generator(described)


def _check(config: Config, described) -> list[str]:
    lines: list[str] = []
    checks = Checks(lines.append)
    _model_servers(config, _Engine(described), checks)
    return lines


def test_serve_check_names_each_model_server_its_slots_and_a_slot_too_small_for_the_prompts(tmp_path) -> None:
    config = Config(home=tmp_path, model_endpoints="http://127.0.0.1:8080", context_window=4096)
    [fine] = _check(config, ModelServer("http://127.0.0.1:8080", "llama-server", 4, 4096))
    assert fine.startswith("ok") and "llama-server, 4 slots, 4096 tokens of context each" in fine
    [short] = _check(config, ModelServer("http://127.0.0.1:8080", "llama-server", 4, 1024))
    assert short.startswith("BAD") and "less than context_window = 4096" in short and "4 x 4096" not in short
    assert "--ctx-size = slots x 4096" in short
    [fallback] = _check(config, ModelServer("http://127.0.0.1:8080", "llama_cpp.server", 1, None))
    assert fallback.startswith("ok") and fallback.endswith("llama_cpp.server, 1 slot")
    [down] = _check(config, Unavailable("the model server http://127.0.0.1:8080 does not answer: ConnectError"))
    assert down.startswith("BAD") and "does not answer" in down
    [here] = _check(Config(home=tmp_path), None)
    assert here.startswith("ok") and "this process, 1 slot" in here


_REAL_CLIENT = __import__("httpx").Client


class _Servers:
    """Fake OpenAI-compatible servers behind httpx's mock transport: which took each request,
    and replies that say what they evaluated as llama-server's do (`timings.prompt_n`)."""

    def __init__(self, timings: bool = True, kind: str = "llama_cpp.server"):
        self.took: list[str] = []
        self.bodies: list[dict] = []
        self.timings = timings
        self.kind = kind

    def __call__(self, request):
        import json

        import httpx

        host = request.url.host
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "/m/tiny-q4_k_m.gguf", "owned_by": "me"}]})
        if request.url.path == "/props":
            if self.kind != "llama-server":
                return httpx.Response(404)
            return httpx.Response(200, json={"total_slots": 2, "default_generation_settings": {"n_ctx": 2048}})
        body = json.loads(request.content)
        self.took.append(host)
        self.bodies.append(body)
        extra = {"timings": {"prompt_n": 7}} if self.timings else {}
        if not body.get("stream"):
            return httpx.Response(200, json={"choices": [{"logprobs": {"content": [{"top_logprobs": [
                {"token": "Yes", "logprob": -0.1}, {"token": "Not", "logprob": -2.5}]}]}}], **extra})
        # As llama-server writes them: each token's top_logprobs are the model's, before logit_bias.
        first = {"token": "Seven", "logprob": -0.2, "top_logprobs": [
            {"token": "Seven", "logprob": -0.2}, {"token": "Not", "logprob": -1.9}, {"token": " ", "logprob": -3.0}]}
        scored = {"logprobs": {"content": [first]}} if body.get("logprobs") else {}
        chunks = [{"choices": [{"delta": {"content": "Seven years."}, **scored}]},
                  {"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 3}, **extra}]
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})


def _generator(monkeypatch, servers: _Servers):
    import httpx

    from copilot.llama.endpoint import EndpointGenerator

    monkeypatch.setattr(httpx, "Client", lambda **kw: _REAL_CLIENT(transport=httpx.MockTransport(servers), **kw))
    return EndpointGenerator(["http://a", "http://b", "http://c"])


def test_each_request_of_one_answer_goes_where_its_prompt_is_cached_and_answers_alternate(monkeypatch) -> None:
    servers = _Servers()
    model = _generator(monkeypatch, servers)

    def answer(question: str) -> None:
        asked = [{"role": "system", "content": "Answer from the evidence."}, {"role": "user", "content": question}]
        model.opening_probability(asked, ["Not"])
        draft = model.complete(asked, 8)
        model.opening_probability(asked + [{"role": "assistant", "content": draft.text},
                                           {"role": "user", "content": "Is it so?"}], ["Yes"])

    went = []
    for question in ("How long are files kept?", "Who approves travel?", "Where are backups kept?"):
        servers.took.clear()
        answer(question)
        assert len(servers.took) == 3 and len(set(servers.took)) == 1, servers.took  # one server per answer
        went.append(servers.took[0])
    assert len(set(went)) == 3  # and the answers take the servers in turn


def test_the_prompt_tokens_evaluated_are_the_servers_own_count_or_unknown(monkeypatch) -> None:
    model = _generator(monkeypatch, _Servers(timings=True))
    asked = [{"role": "user", "content": "How long are files kept?"}]
    model.count_evaluated()
    model.opening_probability(asked, ["Not"])
    draft = model.complete(asked, 8)
    assert model.evaluated_tokens == 14 and draft.prompt_tokens == 50 and draft.text == "Seven years."
    silent = _generator(monkeypatch, _Servers(timings=False))
    silent.count_evaluated()
    silent.complete(asked, 8)
    assert silent.evaluated_tokens is None  # never a guess


def test_llama_server_gives_the_opening_with_the_draft_in_one_request_any_other_server_in_two(monkeypatch) -> None:
    """The refusal's first-token probability is read off the draft's own first token where the
    server is llama-server; any other server is asked for it first, on the same server."""
    import math

    asked = [{"role": "system", "content": "Answer from the evidence."}, {"role": "user", "content": "How long?"}]
    one = _Servers(kind="llama-server")
    draft = _generator(monkeypatch, one).complete(asked, 8, avoid=(), logprobs=False, opening=["Not stated."])
    assert draft.text == "Seven years." and draft.opening == pytest.approx(math.exp(-1.9))
    assert len(one.took) == 1 and one.bodies[0]["stream"] and one.bodies[0]["top_logprobs"] == 20
    two = _Servers(kind="llama_cpp.server")
    draft = _generator(monkeypatch, two).complete(asked, 8, opening=["Not stated."])
    assert draft.text == "Seven years." and draft.opening == pytest.approx(math.exp(-2.5))
    assert len(two.took) == 2 and len(set(two.took)) == 1  # the opening, then the draft where it is cached
    assert not two.bodies[0].get("stream") and two.bodies[1]["top_logprobs"] == 1  # nothing more sorted
    plain = _Servers(kind="llama-server")
    assert _generator(monkeypatch, plain).complete(asked, 8).opening is None  # not asked: not read
    assert plain.bodies[0]["top_logprobs"] == 1
