"""Hybrid retrieval: BM25 in the manifest's database, fused with dense by reciprocal rank."""

from pathlib import Path

import pytest

from copilot.answer.retrieval import RetrievalSettings, Retriever, fuse
from copilot.core.records import Chunk, Entry, Hit
from copilot.core.walls import Walls
from index.lexical import match_expression
from index.manifest import Manifest

from fakes import BagOfWordsEmbedder, ListStore

EVERYONE = Walls.everything()  # no wall: the walls themselves are tested in test_walls.py


def chunk(text: str, path: str, number: int = 0, sha: str | None = None) -> Chunk:
    return Chunk(path, Path(path).name, 1, number, text, sha or "sha-" + path)


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    return Manifest(tmp_path / "manifest.sqlite")


def put(manifest: Manifest, chunks: list[Chunk], title: str = "") -> None:
    c = chunks[0]
    manifest.put(Entry(c.path, c.source, 1, 1, c.doc_sha256, "indexed", chunks=len(chunks), title=title), chunks)


def test_match_expression_quotes_words_and_drops_syntax() -> None:
    assert match_expression('What is "governing law" (NEAR Delaware*)?') == '"governing" OR "law" OR "near" OR "delaware"'
    assert match_expression("What is it?") == ""


def test_bm25_finds_words_and_document_titles(manifest: Manifest) -> None:
    put(manifest, [chunk("This Agreement is governed by the laws of Delaware.", "/d/msa.pdf")],
        title="Master Services Agreement between Acme and Bluefield")
    put(manifest, [chunk("Invoices are payable within thirty days.", "/d/letter.pdf")], title="Engagement letter")
    assert [h.chunk.source for h in manifest.search("governing laws", 5, EVERYONE)] == ["msa.pdf"]
    assert [h.chunk.source for h in manifest.search("What does the Bluefield contract say?", 5, EVERYONE)] == ["msa.pdf"]
    assert manifest.search("letter.pdf", 5, EVERYONE)[0].chunk.source == "letter.pdf"
    assert manifest.search("question about nothing indexed", 5, EVERYONE) == []


def test_passages_follow_their_file(manifest: Manifest) -> None:
    put(manifest, [chunk("old wording about rent", "/d/lease.pdf", sha="v1")])
    put(manifest, [chunk("new wording about deposit", "/d/lease.pdf", sha="v2")])
    assert manifest.search("rent", 5, EVERYONE) == [] and len(manifest.search("deposit", 5, EVERYONE)) == 1
    manifest.put(Entry("/d/lease.pdf", "lease.pdf", 1, 1, "v3", "skipped", "corrupt: x"))
    assert manifest.search("deposit", 5, EVERYONE) == []
    put(manifest, [chunk("again about deposit", "/d/lease.pdf", sha="v4")])
    manifest.remove("/d/lease.pdf")
    assert manifest.search("deposit", 5, EVERYONE) == []


def test_fusion_rewards_agreement() -> None:
    a, b, c = (Hit(chunk(t, f"/d/{t}"), 0.0) for t in "abc")
    assert [h.chunk.text for h in fuse([[a, b, c], [b, c]], 3)] == ["b", "c", "a"]
    assert [h.chunk.text for h in fuse([[a, b, c], []], 2)] == ["a", "b"]


def test_a_lexical_hit_reaches_the_answer_and_gets_a_cosine(manifest: Manifest) -> None:
    embedder = BagOfWordsEmbedder()
    chunks = [
        chunk("Section 12.3 Governing law: the laws of the State of Delaware apply.", "/d/msa.pdf", 0),
        chunk("The parties agree on services, fees and service levels.", "/d/msa.pdf", 1),
    ]
    put(manifest, chunks)
    store = ListStore(chunks, embedder)
    hybrid = Retriever(embedder, store, manifest, RetrievalSettings(top_k=2, min_score=0.0, depth=2))
    got = hybrid.search("Which clause is 12.3?", EVERYONE)
    assert got.relevant[0].chunk.number == 0
    for hit in got.relevant:  # scores are cosines, comparable with the floor
        (v,) = embedder.embed([hit.chunk.text])
        (q,) = embedder.embed(["Which clause is 12.3?"])
        assert hit.score == pytest.approx(sum(x * y for x, y in zip(q, v)))


def test_lexical_hits_of_invisible_versions_are_ignored(manifest: Manifest) -> None:
    embedder = BagOfWordsEmbedder()
    stale = chunk("Delaware law governs.", "/d/msa.pdf", sha="old")
    put(manifest, [stale])
    manifest.begin("/d/msa.pdf")  # being rewritten by an indexer right now
    retriever = Retriever(embedder, ListStore([stale], embedder), manifest, RetrievalSettings(min_score=0.0, depth=5))
    assert retriever.search("Delaware law", EVERYONE).nearest == ()


PARTIES = [("Quantix Labs", "Verdant Mills", "Delaware"), ("Halcyon Freight", "Orbis Retail", "Texas"),
           ("Nimbus Health", "Carrow Clinics", "Ohio"), ("Lumen Energy", "Tessel Grid", "Nevada")]


def contracts(manifest: Manifest) -> list[Chunk]:
    """Four supply agreements: a preamble naming the parties, filler, a governing-law clause."""
    every = []
    for i, (a, b, state) in enumerate(PARTIES):
        path = f"/d/{a.split()[0].lower()}-supply.pdf"
        chunks = [
            chunk(f"SUPPLY AGREEMENT between {a} Inc. and {b} LLC, made as of May 1, 2020.", path, 0),
            chunk(f"{a} shall deliver the goods that {b} orders, on the dates agreed.", path, 1),
            chunk(f"The law of the State of {state} governs this contract.", path, 2),
        ]
        put(manifest, chunks, title="Supply Agreement")
        every += chunks
    return every


def test_a_question_naming_a_document_is_answered_from_that_document(manifest: Manifest) -> None:
    embedder = BagOfWordsEmbedder()
    chunks = contracts(manifest)
    question = "Which law governs the deal between Halcyon Freight and Orbis Retail?"
    path, words = manifest.named(question, EVERYONE)
    assert path == "/d/halcyon-supply.pdf" and {"halcyon", "freight", "orbis", "retail"} <= words
    assert "law" not in words  # every contract's identity may hold it; it says what is asked
    retriever = Retriever(embedder, ListStore(chunks, embedder), manifest,
                          RetrievalSettings(top_k=3, min_score=0.0, depth=3))
    got = retriever.search(question, EVERYONE).relevant
    assert {h.chunk.path for h in got} == {path}
    assert "Texas" in got[0].chunk.text  # the clause, not the preamble naming the parties


def test_a_question_naming_no_document_searches_them_all(manifest: Manifest) -> None:
    embedder = BagOfWordsEmbedder()
    chunks = contracts(manifest)
    assert manifest.named("Which law governs the supply agreements?", EVERYONE) is None
    retriever = Retriever(embedder, ListStore(chunks, embedder), manifest,
                          RetrievalSettings(top_k=4, min_score=0.0, depth=4))
    got = retriever.search("Which State law governs the supply agreements?", EVERYONE).relevant
    assert len({h.chunk.path for h in got}) > 1


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_search_kept_to_one_document_finds_nothing_of_the_others(manifest: Manifest, mode: str) -> None:
    """A review's cell: the document is given, whatever the question names."""
    embedder = BagOfWordsEmbedder()
    chunks = contracts(manifest)
    retriever = Retriever(embedder, ListStore(chunks, embedder), manifest,
                          RetrievalSettings(top_k=3, min_score=0.0, depth=3, mode=mode))
    question = "Which State law governs the deal between Halcyon Freight and Orbis Retail?"  # names another
    got = retriever.search(question, EVERYONE, document="/d/lumen-supply.pdf")
    assert got.nearest and {h.chunk.path for h in got.nearest} == {"/d/lumen-supply.pdf"}
    # The walls still hold inside the document's search (its collection is not "hr").
    assert not retriever.search(question, Walls.only(["hr"]), document="/d/lumen-supply.pdf").nearest


def test_an_index_written_before_identities_gets_them_on_opening(tmp_path: Path) -> None:
    first = Manifest(tmp_path / "m.sqlite")
    contracts(first)
    with first._db:
        first._db.execute("DELETE FROM identities")
    first.close()
    again = Manifest(tmp_path / "m.sqlite")
    assert again.named("the agreement between Lumen Energy and Tessel Grid", EVERYONE)[0] == "/d/lumen-supply.pdf"


def test_dense_or_lexical_alone_for_comparison(manifest: Manifest) -> None:
    embedder = BagOfWordsEmbedder()
    chunks = [chunk("Clause 12.3 sets the fee.", "/d/a.pdf", 0), chunk("fee fee fee schedule", "/d/b.pdf", 0)]
    put(manifest, chunks[:1])
    put(manifest, chunks[1:])
    store = ListStore(chunks, embedder)
    lexical = Retriever(embedder, store, manifest, RetrievalSettings(min_score=-1, mode="lexical", depth=5))
    assert [h.chunk.path for h in lexical.search("12.3", EVERYONE).nearest] == ["/d/a.pdf"]
    dense = Retriever(embedder, store, manifest, RetrievalSettings(min_score=-1, mode="dense", depth=5))
    assert len(dense.search("12.3", EVERYONE).nearest) == 2  # every vector is a candidate
    with pytest.raises(ValueError, match="hybrid, dense, lexical"):
        RetrievalSettings(mode="fuzzy")
