"""`copilot serve`: one index and one model for the firm, walls and audit kept on the server.

Real servers on loopback: `chroma run` holds the vectors, llama.cpp's
`llama-server` serves the tiny model on two slots (the fallback,
llama_cpp.server, is tested in test_model_servers), `copilot serve` is the gateway
(a Unix socket and mutual TLS).  Identities come from the platform: two
client certificates from a test CA (alice, bob), and two OS accounts on the
socket (nobody, daemon) in forked clients that drop to those uids.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import pwd
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from copilot.core.answers import ACCEPTED, CORRECTED, SignOff
from copilot.core.config import Config
from copilot.core.errors import AccessDenied, CopilotError, Unavailable
from copilot.engine.remote import RemoteEngine
from copilot.llama.server import LLAMA_SERVER, command

from loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
SLOTS, SLOT_CONTEXT = 2, 2048  # the model server's: two answers at once, each with 2048 tokens
BIN = Path(sys.executable).parent
SECRET = "The acquisition price for Project Falcon is forty-two million euros, payable in two tranches."
FALCON = "What is the acquisition price for Project Falcon?"
QUESTIONS = [FALCON, "How long are client matter files kept?", "Who may approve travel expenses?",
             "What does Project Falcon cost?", "What is the notice period for termination?",
             "forty-two million euros tranches", "Which documents mention Falcon?",
             "What are the password rules?", "Summarise the retention policy.", "Who is the buyer in Falcon?"]

pytestmark = pytest.mark.slow


def _wait(check, what: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up in {seconds} s")


def _certificates(folder: Path) -> dict[str, Path]:
    """A CA, the server's certificate (127.0.0.1) and client certificates for alice and bob;
    and mallory's, signed by a CA the server does not trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    files = {}

    def key_and_name(cn: str):
        return ec.generate_private_key(ec.SECP256R1()), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(name: str, key, cert) -> None:
        (folder / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[name], files[name + ".key"] = folder / f"{name}.pem", folder / f"{name}.key"

    def ca(name: str):
        key, subject = key_and_name(name)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        write(name, key, cert)
        return key, cert

    def issue(name: str, cn: str, authority, server: bool = False) -> None:
        key, subject = key_and_name(cn)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(authority[1].subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)))
        if server:
            import ipaddress

            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        write(name, key, builder.sign(authority[0], hashes.SHA256()))

    firm, other = ca("firm-ca"), ca("other-ca")
    issue("server", "copilot.firm.test", firm, server=True)
    issue("alice", "alice", firm)
    issue("bob", "bob", firm)
    issue("mallory", "bob", other)  # claims to be bob, from a CA the firm does not trust
    return files


@pytest.fixture(scope="module")
def firm(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("firm")
    os.chmod(root, 0o755)
    docs = root / "docs"
    shutil.copytree(ROOT / "examples", docs / "general")
    (docs / "falcon").mkdir()
    (docs / "falcon" / "project-falcon-spa.md").write_text(f"# Project Falcon: share purchase\n\n{SECRET}\n")
    (root / "map.toml").write_text('[folders]\n"docs/falcon" = "matter-falcon"\n')
    certs = _certificates(root)
    chroma_port, model_port, tls_port = free_port(), free_port(), free_port()
    home = root / "server-home"
    home.mkdir()
    run_dir = Path(tempfile.mkdtemp(prefix="copilot-run-"))  # where other OS accounts can reach the socket
    os.chmod(run_dir, 0o755)
    socket_path = run_dir / "copilot.sock"
    (home / "config.toml").write_text(
        f'model = "{tiny_model}"\nmax_tokens = 12\nguard = "fail"\ncontext_window = {SLOT_CONTEXT}\n'
        f'chroma_url = "http://127.0.0.1:{chroma_port}"\n'
        f'model_endpoints = "http://127.0.0.1:{model_port}"\n'
        f'listen = "unix:{socket_path},https://127.0.0.1:{tls_port}"\n'
        f'tls_cert = "{certs["server"]}"\ntls_key = "{certs["server.key"]}"\ntls_client_ca = "{certs["firm-ca"]}"\n')
    env = {**os.environ, "COPILOT_HOME": str(home)}
    chroma_command = [str(BIN / "chroma"), "run", "--path", str(root / "chroma"), "--host", "127.0.0.1",
                      "--port", str(chroma_port)]
    started = [subprocess.Popen(chroma_command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT),
               _model_server(tiny_model, model_port)]
    try:
        _wait(lambda: httpx.get(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat").status_code == 200, "chroma")
        _wait(lambda: httpx.get(f"http://127.0.0.1:{model_port}/v1/models").status_code == 200, "the model server")
        # Central indexing: the service account (this test's user) indexes into the Chroma server.
        indexed = subprocess.run([str(BIN / "copilot"), "index", str(docs), "--collections", str(root / "map.toml")],
                                 env=env, capture_output=True, text=True, timeout=300)
        assert indexed.returncode in (0, 1), indexed.stderr
        (home / "policy.toml").write_text('[users]\nalice = ["general"]\nbob = ["matter-falcon"]\n'
                                          'nobody = ["general"]\ndaemon = ["matter-falcon"]\n')
        gateway = subprocess.Popen([str(BIN / "copilot"), "serve"], env=env, stdout=(root / "serve.log").open("w"),
                                   stderr=subprocess.STDOUT)  # a file: a pipe nobody reads would fill and stall it
        started.append(gateway)
        _wait(lambda: socket_path.exists() and _client(root, certs, "alice", tls_port).local_reader(), "copilot serve")
        yield {"root": root, "home": home, "certs": certs, "tls_port": tls_port, "socket": socket_path,
               "model_port": model_port, "tiny_model": tiny_model, "env": env, "processes": started,
               "chroma_command": chroma_command, "chroma_url": f"http://127.0.0.1:{chroma_port}"}
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(run_dir, ignore_errors=True)


def _model_server(model: Path, port: int) -> subprocess.Popen:
    return subprocess.Popen(command(LLAMA_SERVER, model, port, slots=SLOTS, context=SLOT_CONTEXT),
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def _client(root: Path, certs: dict, who: str, port: int) -> RemoteEngine:
    return RemoteEngine(Config(home=root / f"client-{who}", server=f"https://127.0.0.1:{port}",
                               client_cert=str(certs[who]), client_key=str(certs[who + ".key"]),
                               server_ca=str(certs["firm-ca"])))


def _shown(answer) -> str:
    data = answer.to_dict()
    data.pop("question"), data.pop("standalone")
    return json.dumps(data)


def _walled(blob: str) -> bool:
    return "forty-two million" in blob or "project-falcon-spa" in blob or "Project Falcon: share" in blob


def test_each_certificate_reads_only_its_own_collections(firm) -> None:
    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    bob = _client(firm["root"], firm["certs"], "bob", firm["tls_port"])
    assert alice.local_reader().user == "alice" and bob.local_reader().user == "bob"
    seen_by_alice = alice.ask(FALCON, alice.local_reader())
    seen_by_bob = bob.ask(FALCON, bob.local_reader())
    assert not _walled(_shown(seen_by_alice))
    assert any(s.source.endswith("project-falcon-spa.md") for s in seen_by_bob.sources)
    assert [e.source for _, e in bob.status(bob.local_reader())] == ["falcon/project-falcon-spa.md"]
    assert not any(_walled(e.source) for _, e in alice.status(alice.local_reader()))
    assert alice.totals(alice.local_reader()).files == 5 and bob.totals(bob.local_reader()).files == 1
    assert set(alice.last_run()) == {"time", "outcome"}  # not the folders IT indexed: they name matters


def test_a_sign_off_is_audited_on_the_server_as_its_reader_and_never_of_a_walled_document(firm) -> None:
    """A cell is signed off in the review the server keeps, against the answer it kept there:
    the answer a client holds is never sent, so none can be forged into the audit trail."""
    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    bob = _client(firm["root"], firm["certs"], "bob", firm["tls_port"])
    reader = alice.local_reader()
    policy = next(e.path for _, e in alice.status(reader) if e.source.endswith("data-retention-policy.md"))
    question = "How long does the firm keep client matter files?"
    review = _review(alice, "retention", {"paths": [policy]}, [question])
    review.run()
    kept = review.cells()[0][0]
    signed = review.sign(kept, CORRECTED, "Seven years")
    record = alice.audit().last()
    assert (record["user"], record["document"], record["signoff"]) == (
        "alice", policy, {"verdict": "corrected", "correction": "Seven years"})
    assert record["answer"]["answer"] == kept.answer.text and signed.corrected
    assert record["hash"] not in {r["hash"] for r in bob.audit().records()}
    falcon = str(firm["root"] / "docs" / "falcon" / "project-falcon-spa.md")
    request = {"name": "retention", "question": question, "verdict": ACCEPTED}
    with pytest.raises(CopilotError) as walled:
        alice.review_sign({**request, "document": falcon})
    with pytest.raises(CopilotError) as never:
        alice.review_sign({**request, "document": falcon.replace("project-falcon-spa", "no-such-file")})
    assert str(walled.value) == str(never.value)
    assert alice.audit().last()["hash"] == record["hash"]  # nothing recorded of either
    with pytest.raises(CopilotError, match="a verdict is accepted or corrected"):
        alice.review_sign({**request, "document": policy, "verdict": "approved"})
    with pytest.raises(CopilotError, match="signed off in that review on the server"):
        alice.sign_off(SignOff(policy, kept.answer, ACCEPTED), reader)
    forged = alice._http.post(alice.base + "/v1/signoff", json={"document": policy, "verdict": ACCEPTED})
    assert forged.status_code == 404


def _review(client: RemoteEngine, name: str, scope: dict | None, columns):
    from copilot.review.desk import open_review

    return open_review(client, Path("/nonexistent"), client.local_reader(), name, scope, columns)


def test_a_review_through_the_server_never_shows_a_walled_row_cell_quote_or_name(firm) -> None:
    from copilot.review.desk import kept

    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    bob = _client(firm["root"], firm["certs"], "bob", firm["tls_port"])
    everything = {"paths": [str(firm["root"] / "docs")]}
    review = _review(alice, "firm-docs", everything, ["What is the acquisition price?"])
    assert review.rows and all(r.source.startswith("general/") for r in review.rows)
    review.run()
    shown = json.dumps([[c.record() for c in row] for row in review.cells()])
    assert not _walled(shown + json.dumps([r.to_dict() for r in review.rows]))
    falcon = str(firm["root"] / "docs" / "falcon" / "project-falcon-spa.md")
    request = {"name": "firm-docs", "question": "What is the acquisition price?"}
    with pytest.raises(CopilotError) as walled:
        alice.review_cell({**request, "document": falcon})
    with pytest.raises(CopilotError) as never:
        alice.review_cell({**request, "document": falcon.replace("project-falcon-spa", "no-such-file")})
    assert str(walled.value) == str(never.value) and not _walled(str(walled.value))
    with pytest.raises(CopilotError, match="no document bob may read"):
        _review(bob, "general", {"collection": "general"}, ["What is the acquisition price?"])
    mine = _review(bob, "firm-docs", everything, ["What is the acquisition price?"])
    assert [r.source for r in mine.rows] == ["falcon/project-falcon-spa.md"]
    assert [s.name for s in kept(bob, Path("/nonexistent"))] == ["firm-docs"]  # his own, not alice's
    assert mine.cells()[0][0].answer is None  # nothing of alice's review is bob's
    signed = review.sign(review.cells()[0][0], ACCEPTED)
    record = alice.audit().last()
    assert signed.verdict.user == "alice" and record["signoff"]["verdict"] == ACCEPTED
    assert record["document"] == review.rows[0].path


def _restart_gateway(firm) -> None:
    with (firm["root"] / "serve.log").open("a") as log:
        firm["processes"][2] = subprocess.Popen([str(BIN / "copilot"), "serve"], env=firm["env"], stdout=log,
                                                stderr=subprocess.STDOUT)
    _wait(lambda: _client(firm["root"], firm["certs"], "alice", firm["tls_port"]).local_reader(), "copilot serve")


def test_the_server_killed_mid_review_is_one_line_and_the_review_resumes_from_the_last_cell(firm) -> None:
    import sqlite3

    from copilot.server.reviews import folder_for

    certs, url = firm["certs"], f"https://127.0.0.1:{firm['tls_port']}"
    env = {**os.environ, "COPILOT_HOME": str(firm["root"] / "cli-alice"), "COPILOT_CLIENT_CERT": str(certs["alice"]),
           "COPILOT_CLIENT_KEY": str(certs["alice.key"]), "COPILOT_SERVER_CA": str(certs["firm-ca"])}
    command = [str(BIN / "copilot"), "--server", url, "review", "--collection", "general", "--name", "resumed",
               "--ask", "Who may approve travel expenses?", "--ask", "How long are files kept?"]
    kept = folder_for(Config(home=firm["home"]), "alice") / "resumed.sqlite"

    def cells() -> int:
        if not kept.is_file():
            return 0
        with sqlite3.connect(kept) as db:
            return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    running = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait(lambda: cells() >= 2, "two cells", 300)
    firm["processes"][2].kill()
    firm["processes"][2].wait(10)
    out, err = running.communicate(timeout=120)
    try:
        assert running.returncode == 6 and err.count("\n") == 1, err
        assert "every cell answered is kept: run the same command to go on" in err
        before = cells()
        assert 2 <= before < 10
    finally:
        _restart_gateway(firm)
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{10 - before} asked now" in again.stderr and cells() == 10
    assert "falcon" not in again.stdout.lower()


def test_a_name_sent_by_the_client_is_never_believed(firm) -> None:
    """Alice's connection says "bob" in every way a request can: the server answers alice."""
    certs = firm["certs"]
    context = ssl.create_default_context(cafile=str(certs["firm-ca"]))
    context.load_cert_chain(str(certs["alice"]), str(certs["alice.key"]))
    with httpx.Client(verify=context, headers={"X-User": "bob", "X-Remote-User": "bob"}) as http:
        url = f"https://127.0.0.1:{firm['tls_port']}"
        assert http.get(url + "/v1/whoami", params={"user": "bob"}).json()["user"] == "alice"
        body = {"question": FALCON, "user": "bob", "reader": {"user": "bob", "walls": ["*"]}, "collections": ["*"]}
        lines = [json.loads(line) for line in http.post(url + "/v1/ask", json=body, timeout=120).text.splitlines()]
    assert "answer" in lines[-1] and not _walled(json.dumps(lines))


def test_no_certificate_or_a_strange_ca_s_is_refused_in_one_line(firm) -> None:
    with pytest.raises(Unavailable, match="cannot reach the server"):
        _client(firm["root"], firm["certs"], "mallory", firm["tls_port"]).local_reader()
    context = ssl.create_default_context(cafile=str(firm["certs"]["firm-ca"]))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"https://127.0.0.1:{firm['tls_port']}/v1/whoami", verify=context)


def _as_user(name: str, socket_path: str, question: str, queue) -> None:
    """A client on this host running as OS account `name` (a forked process that drops to it)."""
    try:
        account = pwd.getpwnam(name)
        os.setgroups([])
        os.setgid(account.pw_gid)
        os.setuid(account.pw_uid)
        engine = RemoteEngine(Config(home=Path("/nonexistent"), server=f"unix:{socket_path}"))
        reader = engine.local_reader()
        answer = engine.ask(question, reader)
        files = sorted(e.source for _, e in engine.status(reader))
        queue.put({"user": reader.user, "shown": _shown(answer), "files": files})
    except BaseException as exc:  # said to the parent, not lost in the child
        queue.put({"error": f"{type(exc).__name__}: {exc}"})


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to two OS accounts needs root")
def test_each_os_account_on_the_socket_reads_only_its_own_collections(firm) -> None:
    context = multiprocessing.get_context("fork")
    results = {}
    for name in ("nobody", "daemon"):
        queue = context.Queue()
        child = context.Process(target=_as_user, args=(name, str(firm["socket"]), FALCON, queue))
        child.start()
        results[name] = queue.get(timeout=120)
        child.join(10)
    assert [results[n].get("user") for n in ("nobody", "daemon")] == ["nobody", "daemon"], results
    assert not _walled(results["nobody"]["shown"] + json.dumps(results["nobody"]["files"]))
    assert results["daemon"]["files"] == ["falcon/project-falcon-spa.md"]


def test_an_account_the_policy_does_not_name_gets_one_line(firm) -> None:
    """root is the service account here: it indexes, but the policy gives it nothing to read,
    and a reader it makes up for itself is not sent, let alone believed."""
    from copilot.core.walls import Reader, Walls

    engine = RemoteEngine(Config(home=firm["root"] / "client-root", server=f"unix:{firm['socket']}"))
    with pytest.raises(AccessDenied, match="root has no collections in the access policy"):
        engine.local_reader()
    with pytest.raises(AccessDenied, match="root has no collections"):
        engine.ask(FALCON, Reader("bob", Walls.everything()))


@pytest.mark.timeout(1800)  # about 1.4 s a question on a 2-core AVX2-only machine
def test_many_questions_from_two_identities_leak_nothing_and_are_all_audited(firm) -> None:
    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    bob = _client(firm["root"], firm["certs"], "bob", firm["tls_port"])
    before = sum(1 for _ in alice.audit().records()) + sum(1 for _ in bob.audit().records())
    rng = random.Random(18)
    # 500 by default: 1.3-1.4 s a question measured on a 2-core AVX2-only machine (at HEAD before issue 27
    # too), so 1,000 would take some 23 minutes of CI's 90 and ran past the 900 s hang guard.
    asked = int(os.environ.get("COPILOT_SERVE_QUESTIONS", "500"))
    counts = {"alice": 0, "bob": 0}
    for i in range(asked):
        who, engine = ("alice", alice) if rng.random() < 0.5 else ("bob", bob)
        question = rng.choice(QUESTIONS) + rng.choice(["", "?", " please", f" (#{i})"])
        answer = engine.ask(question, engine.local_reader())
        counts[who] += 1
        if who == "alice":
            assert not _walled(_shown(answer)), question
        else:
            assert all(c.source == "falcon/project-falcon-spa.md" for c in answer.sources), question
    assert sum(1 for _ in alice.audit().records()) + sum(1 for _ in bob.audit().records()) == before + asked
    count, broken = alice.audit().verify()
    assert broken is None and count >= asked
    records = [json.loads(line) for line in (firm["home"] / "audit" / "audit.jsonl").read_text().splitlines()]
    assert {r["user"] for r in records} >= {"alice", "bob"}
    assert all(r["collections"] == (["general"] if r["user"] == "alice" else ["matter-falcon"])
               for r in records if r["user"] in counts)


def test_the_server_made_no_connection_off_this_machine(firm) -> None:
    log = firm["home"] / "offline.log"
    assert not log.exists() or log.read_text().strip() == ""
    assert all(p.poll() is None for p in firm["processes"])  # guard = "fail" would have stopped it


def _outage(firm, which: int, start, up: str, said: str, mid_answer: bool = False) -> None:
    """Kill one of the servers behind the gateway (before a question, or once its answer has begun to
    stream): the question is one clear error; once the server is back, the gateway answers again,
    and the audit chain is whole (no record lost or half-written)."""
    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])

    def kill(_piece: str = "") -> None:
        if firm["processes"][which].poll() is None:
            firm["processes"][which].kill()
            firm["processes"][which].wait(10)

    if not mid_answer:
        kill()
    with pytest.raises(Unavailable, match=said):
        alice.ask("Summarise the retention policy.", alice.local_reader(), on_token=kill if mid_answer else None)
    kill()
    firm["processes"][which] = start()
    _wait(lambda: httpx.get(up).status_code == 200, up)
    answer = alice.ask("How long are client matter files kept?", alice.local_reader())
    assert answer.sources and answer.sources[0].source.startswith("general/")
    assert alice.audit().verify()[1] is None


def test_the_model_server_reports_what_the_answer_is_judged_by(firm) -> None:
    """A draft through the model server carries each token's log probability, as the local model's
    does: the server's answers are decided on the same signals."""
    from copilot.llama.endpoint import EndpointGenerator

    model = EndpointGenerator([f"http://127.0.0.1:{firm['model_port']}"])
    pieces: list[str] = []
    draft = model.complete([{"role": "user", "content": "Say hello in three words."}], 12, on_piece=pieces.append)
    assert draft.text and "".join(pieces) == draft.text
    assert len(draft.logprobs) == draft.completion_tokens > 0 and all(lp <= 0 for lp in draft.logprobs)
    asked = [{"role": "user", "content": "Is the sky blue? Reply Yes or No."}]
    p_yes = model.opening_probability(asked, ["Yes"])
    assert 0 < p_yes < 1
    each = model.opening_probabilities(asked, ["Yes", "No", "Zebra"])  # a choice, read in one request
    assert abs(each[0] - p_yes) < 1e-3 and sum(each) <= 1 + 1e-6 and each[2] < each[0]


def test_a_model_server_that_dies_is_one_clear_error_and_the_server_goes_on(firm) -> None:
    _outage(firm, 1, lambda: _model_server(firm["tiny_model"], firm["model_port"]),
            f"http://127.0.0.1:{firm['model_port']}/v1/models", "model server")


def test_a_model_server_that_dies_mid_answer_is_one_clear_error_too(firm) -> None:
    _outage(firm, 1, lambda: _model_server(firm["tiny_model"], firm["model_port"]),
            f"http://127.0.0.1:{firm['model_port']}/v1/models", "model server", mid_answer=True)


def test_a_chroma_server_that_dies_is_one_clear_error_and_answering_resumes_when_it_returns(firm) -> None:
    _outage(firm, 0, lambda: subprocess.Popen(firm["chroma_command"], stdout=subprocess.DEVNULL,
                                              stderr=subprocess.STDOUT),
            firm["chroma_url"] + "/api/v2/heartbeat", "Chroma server")


def test_cancelling_frees_the_model_for_the_next_question(firm) -> None:
    import threading

    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    cancel = threading.Event()
    pieces = []
    answer = alice.ask("Summarise the retention policy.", alice.local_reader(),
                       on_token=lambda t: (pieces.append(t), cancel.set()), cancel=cancel)
    assert answer.cancelled
    started = time.monotonic()
    assert alice.ask("How long are client matter files kept?", alice.local_reader()).text
    assert time.monotonic() - started < 60


def test_answering_goes_on_while_it_indexes(firm, tmp_path) -> None:
    """The service account indexes more documents; readers are answered all the while, from what
    is complete, and see the new documents once they are."""
    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    reader = alice.local_reader()
    before = alice.totals(reader).files
    more = firm["root"] / "docs" / "general" / "more"
    more.mkdir()
    for i in range(6):
        (more / f"memo-{i}.md").write_text(f"# Memo {i}\n\n" + "The firm's library opens at nine. " * 400
                                           + f"\n\nMemo {i} sets the parking fee at {i + 3} euros a day.\n")
    indexing = subprocess.Popen([str(BIN / "copilot"), "index", str(firm["root"] / "docs"), "--collections",
                                 str(firm["root"] / "map.toml")], env=firm["env"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
    answered = 0
    while indexing.poll() is None or answered < 3:
        answer = alice.ask("How long are client matter files kept?", reader)
        assert answer.text and not answer.cancelled
        answered += 1
    assert indexing.wait(300) in (0, 1)
    assert alice.totals(reader).files == before + 6
    found = alice.ask("What parking fee does memo 4 set?", reader)
    assert any("memo-4.md" in s.source for s in found.sources)


@pytest.mark.asyncio
async def test_the_app_works_through_the_server_as_it_does_locally(firm) -> None:
    """The same app on a thin client: the model is the server's, the answer streams and cites,
    the index screen lists only what this user may read."""
    from textual.widgets import DataTable, Input

    from tui.app import CopilotApp
    from tui.index_screen import IndexScreen
    from tui.turn import Sources

    bob = _client(firm["root"], firm["certs"], "bob", firm["tls_port"])
    app = CopilotApp(bob)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        assert app.status.loaded and app.status.quant == "Q4_1"  # the server's model, loaded there
        box = app.chat.query_one("#question", Input)
        box.value = FALCON
        await pilot.press("enter")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        sources = app.chat.query_one(Sources)
        listed = [str(sources.get_option_at_index(i).prompt) for i in range(sources.option_count)]
        assert listed and all("project-falcon-spa.md" in s for s in listed)
        await pilot.press("f2")
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, IndexScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1 and "project-falcon-spa.md" in str(table.get_row_at(0))


@pytest.mark.asyncio
async def test_the_review_screen_works_through_the_server(firm) -> None:
    """F4 on a thin client: the reader's latest review on the server, its missing cells asked there
    (r), a cell accepted (a) into the server's audit trail as the reader's."""
    from textual.widgets import DataTable

    from tui.app import CopilotApp
    from tui.review_screen import ReviewScreen

    alice = _client(firm["root"], firm["certs"], "alice", firm["tls_port"])
    _review(alice, "on-screen", {"collection": "general"}, ["Who may approve travel expenses?"])
    app = CopilotApp(alice)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("f4")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.review_name == "on-screen"
        assert screen.query_one(DataTable).row_count == len(screen.grid) == len(alice.status(alice.local_reader()))
        assert all(row[0].row.source.startswith("general/") for row in screen.grid)
        await pilot.press("r")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert all(c.answer is not None for row in screen.grid for c in row)
        await pilot.press("right", "a")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.grid[0][0].verdict is not None
    record = alice.audit().last()
    assert record["user"] == "alice" and record["signoff"]["verdict"] == ACCEPTED


def test_serve_check_names_each_thing_the_server_stands_on(firm) -> None:
    done = subprocess.run([str(BIN / "copilot"), "serve", "--check"], env=firm["env"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["listen", "index", "model", "model", "policy", "audit",
                                                    "manifest"]
    assert all(line.startswith("ok") for line in lines)
    served = next(line for line in lines if line.split()[1:3] == ["model", "server"])
    assert f"127.0.0.1:{firm['model_port']}: llama-server, 2 slots, 2048 tokens of context each" in served
    assert "chain intact" in done.stdout and firm["chroma_url"] in done.stdout


def test_the_command_line_is_a_thin_client_too(firm) -> None:
    """`copilot --server URL` with alice's certificate from the environment: ask, the index's list,
    her own audit record replayed; and the same calls one clear line when they cannot be made."""
    certs, url = firm["certs"], f"https://127.0.0.1:{firm['tls_port']}"
    env = {**os.environ, "COPILOT_HOME": str(firm["root"] / "cli-alice"), "COPILOT_CLIENT_CERT": str(certs["alice"]),
           "COPILOT_CLIENT_KEY": str(certs["alice.key"]), "COPILOT_SERVER_CA": str(certs["firm-ca"])}

    def copilot(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "copilot"), "--server", url, *args], env=env, capture_output=True,
                              text=True, timeout=120)

    asked = copilot("ask", "--json", "How long are client matter files kept?")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["sources"] and all(s["source"].startswith("general/") for s in answer["sources"])
    listed = copilot("index", "--status", "--json")
    assert listed.returncode == 0 and "falcon" not in listed.stdout and "retention" in listed.stdout
    mine = [r for r in RemoteEngine(Config(home=firm["root"] / "x", server=url, client_cert=str(certs["alice"]),
                                           client_key=str(certs["alice.key"]), server_ca=str(certs["firm-ca"])))
            .audit().records()]
    shown = copilot("audit", "show", str(mine[-1]["n"]))
    assert shown.returncode == 0 and "How long are client matter files kept?" in shown.stdout
    assert "alice" in shown.stdout
    refused = copilot("index", "examples")
    assert refused.returncode == 1 and refused.stderr.strip().count("\n") == 0
    assert "indexed on the server" in refused.stderr
    down = subprocess.run([str(BIN / "copilot"), "--server", "unix:/nonexistent/copilot.sock", "ask", "x"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 6 and down.stderr.count("\n") == 1 and "cannot reach the server" in down.stderr
