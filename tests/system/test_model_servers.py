"""The model servers `copilot serve` talks to, real and on loopback, with the tiny model.

llama.cpp's `llama-server` (the default, two slots) and llama-cpp-python's
server (the fallback, one at a time): each says what it is; an answer through
either is the in-process engine's answer (same model, greedy), and through
llama-server its very draft, word for word (llama_cpp.server's own chat
template can word a draft that is not shown differently);
through llama-server an answer's prompt is evaluated once, its later requests
finding it cached; a slot freed by a cancel is answering again at once; and
a model server killed mid-answer is one clear error, then answers again.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from copilot.core.config import Config
from copilot.core.errors import Unavailable
from copilot.engine.local import Copilot
from copilot.llama.endpoint import EndpointGenerator
from copilot.llama.server import KINDS, LLAMA_CPP_SERVER, LLAMA_SERVER, command

from conftest import EXAMPLES
from loopback import free_port

SLOT_CONTEXT = 2048
QUESTIONS = ["How long are client matter files kept?", "Who may approve travel expenses?",
             "What must happen before a laptop leaves the office?"]


def _start(kind: str, model: Path, port: int) -> subprocess.Popen:
    slots = 2 if kind == LLAMA_SERVER else 1
    process = subprocess.Popen(command(kind, model, port, slots=slots, context=SLOT_CONTEXT),
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None, f"{kind} exited with {process.returncode}"
        time.sleep(0.3)
    process.kill()
    raise AssertionError(f"{kind} did not start")


@pytest.fixture(scope="module")
def servers(tiny_model: Path):
    """Each kind of model server, serving the tiny model: kind → [process, url, port]."""
    started = {}
    try:
        for kind in KINDS:
            port = free_port()
            started[kind] = [_start(kind, tiny_model, port), f"http://127.0.0.1:{port}", port]
        yield started
    finally:
        for process, _, _ in started.values():
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def engine(tmp_path_factory, tiny_model: Path, models_home: Path) -> Copilot:
    """The examples indexed, answered by the tiny model in this process."""
    home = tmp_path_factory.mktemp("served")
    engine = Copilot(Config(home=home / "home", model=str(tiny_model), models_home=str(models_home),
                            max_tokens=32, context_window=SLOT_CONTEXT))
    engine.index([EXAMPLES])
    return engine


def _through(engine: Copilot, url: str) -> Copilot:
    """The same engine, its answers written by the model server at `url`."""
    served = Copilot(engine.config.replace(model_endpoints=url))  # its own generator: over the server
    served._parts.update({k: v for k, v in engine._parts.items() if k not in ("generator", "answerer")})
    return served


def test_each_model_server_says_what_it_is_its_slots_and_its_context(servers) -> None:
    llama, fallback = servers[LLAMA_SERVER][1], servers[LLAMA_CPP_SERVER][1]
    both = EndpointGenerator([llama, fallback])
    assert both.describe(llama).line() == f"{llama}: llama-server, 2 slots, {SLOT_CONTEXT} tokens of context each"
    assert both.describe(fallback).line() == f"{fallback}: llama_cpp.server, 1 slot"
    assert both.slots == 3  # the gateway takes this many answers at once
    down = EndpointGenerator([llama, "http://127.0.0.1:9"])
    with pytest.raises(Unavailable, match="does not answer"):
        down.describe("http://127.0.0.1:9")
    assert down.slots == 3  # one that is down counts one: it is tried again later


@pytest.mark.parametrize("kind", KINDS)
def test_an_answer_through_the_server_is_the_in_process_engine_s_word_for_word(servers, engine, kind) -> None:
    served = _through(engine, servers[kind][1])
    for question in QUESTIONS:
        here = engine.ask(question, engine.local_reader())
        there = served.ask(question, served.local_reader())
        assert (there.text, there.found, there.reason) == (here.text, here.found, here.reason), question
        if kind == LLAMA_SERVER:  # llama.cpp's own chat template and sampler: the very draft, too
            assert there.draft == here.draft, question
        assert [c.source for c in there.sources] == [c.source for c in here.sources]
        if here.confidence is not None:  # the signals, read through the API (those it was asked for)
            assert (there.confidence.value is None) == (here.confidence.value is None), question
            for signal in ("refusal", "answer_logprob", "least_logprob", "value"):
                mine, theirs = getattr(here.confidence, signal), getattr(there.confidence, signal)
                assert None in (mine, theirs) or theirs == pytest.approx(mine, abs=0.02), (question, signal)
    assert any(engine.ask(q, engine.local_reader()).draft for q in QUESTIONS)  # the model wrote, each time


def test_through_llama_server_an_answer_evaluates_its_prompt_once(servers, engine) -> None:
    """The answer's requests on one prompt (first-token probabilities, the draft, the check of
    the quote) find it in the slot's cache: the server's own timings say how many it evaluated."""
    generator = EndpointGenerator([servers[LLAMA_SERVER][1]], SLOT_CONTEXT)
    messages = [{"role": "system", "content": "You answer from the documents. " * 30},
                {"role": "user", "content": "How long are client matter files kept?"}]
    prompt = generator.count_tokens(messages[0]["content"])
    generator.count_evaluated()
    draft = generator.complete(messages, 16, opening=["Not"])  # the refusal's probability and the draft
    first = generator.evaluated_tokens
    generator.opening_probability(messages + [{"role": "assistant", "content": draft.text},
                                              {"role": "user", "content": "Is that so? Yes or No."}], ["Yes"])
    assert first is not None and first > prompt  # evaluated once, whole (nothing cached yet)
    assert generator.evaluated_tokens - first < 40  # then only the few new tokens of each later request
    # The opening read off the draft is the model's own, before its first token is kept out.
    word = draft.text.split()[0]
    alone = generator.opening_probability(messages, [word])
    kept_out = generator.complete(messages, 16, avoid=[word], opening=[word])
    assert alone > 0 and kept_out.opening == pytest.approx(alone, abs=0.02)
    assert kept_out.text.split()[:1] != [word]
    fallback = EndpointGenerator([servers[LLAMA_CPP_SERVER][1]], SLOT_CONTEXT)
    fallback.count_evaluated()
    fallback.opening_probability(messages, ["Not"])
    assert fallback.evaluated_tokens is None  # it does not say: unknown, never a guess


def test_a_slot_freed_by_a_cancel_answers_again_at_once(servers, engine) -> None:
    served = _through(engine, servers[LLAMA_SERVER][1])
    cancel = threading.Event()
    cut = served.ask("Summarise the retention policy.", served.local_reader(),
                     on_token=lambda _t: cancel.set(), cancel=cancel)
    assert cut.cancelled
    started = time.monotonic()
    while any(s.get("is_processing") for s in httpx.get(f"{servers[LLAMA_SERVER][1]}/slots", timeout=5).json()):
        assert time.monotonic() - started < 5, "the server kept writing to a connection that was closed"
        time.sleep(0.05)
    assert served.ask(QUESTIONS[0], served.local_reader()).text
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("kind", KINDS)
def test_a_model_server_killed_mid_answer_is_one_clear_error_then_it_answers_again(servers, engine, tiny_model,
                                                                                  kind) -> None:
    process, url, port = servers[kind]
    served = _through(engine, url)

    def kill(_piece: str) -> None:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    with pytest.raises(Unavailable, match="model server") as failed:
        served.ask("Summarise the retention policy.", served.local_reader(), on_token=kill)
    assert "\n" not in str(failed.value)
    servers[kind][0] = _start(kind, tiny_model, port)
    assert served.ask(QUESTIONS[0], served.local_reader()).text


@pytest.mark.parametrize("kind", KINDS)
def test_the_gateway_takes_as_many_answers_at_once_as_the_model_server_has_slots(servers, engine, kind,
                                                                                 tmp_path) -> None:
    """Two people ask at once: over llama-server's two slots neither waits; over llama_cpp.server
    (one slot) one of them is told it waits, and both are answered."""
    import os

    from copilot.engine.remote import RemoteEngine
    from copilot.server.gateway import Gateway

    served = _through(engine, servers[kind][1])
    assert served.slots == (2 if kind == LLAMA_SERVER else 1)
    socket_path = tmp_path / "copilot.sock"
    gateway = Gateway(served, served.config, log=open(os.devnull, "w"), slots=served.slots,
                      reader_of=lambda _person: served.local_reader())
    gateway.listen((f"unix:{socket_path}",), private=True)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        waited: list[int] = []
        answers: list = [None, None]
        start = threading.Barrier(2)

        def ask(i: int) -> None:
            client = RemoteEngine(Config(home=tmp_path / f"client-{i}", server=f"unix:{socket_path}"))
            start.wait()
            answers[i] = client.ask(QUESTIONS[i], client.local_reader(), on_wait=waited.append)

        askers = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        for t in askers:
            t.start()
        for t in askers:
            t.join(120)
        assert all(a is not None and a.text for a in answers), answers
        assert (waited == []) if kind == LLAMA_SERVER else (1 in waited), (kind, waited)
    finally:
        gateway.shutdown()
