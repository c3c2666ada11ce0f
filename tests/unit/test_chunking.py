import pytest

from copilot.core.records import Page
from copilot.llama.models import resolve_embedder
from index.chunking import Chunker


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(resolve_embedder("") / "tokenizer.json", max_tokens=60, overlap=12)


def tokens(chunker: Chunker, text: str) -> int:
    return chunker.count(text)


def test_no_chunk_exceeds_the_budget(chunker: Chunker) -> None:
    text = "\n\n".join(
        f"Clause {i}. The Supplier shall indemnify the Customer against all losses arising "
        f"from any breach of this Agreement, including reasonable legal fees. " * (i % 4 + 1)
        for i in range(30)
    )
    chunks = chunker.split(text)
    assert len(chunks) > 5
    assert max(tokens(chunker, c) for c in chunks) <= 60


def test_an_endless_sentence_is_cut_at_word_boundaries(chunker: Chunker) -> None:
    text = " ".join(f"unbelievably{i} interconnectedness" for i in range(200))
    chunks = chunker.split(text)
    assert all(tokens(chunker, c) <= 60 for c in chunks)
    words = " ".join(chunks).split()
    assert all(w in text.split() for w in words)  # no word was broken in two


def test_a_sentence_of_megabytes_is_cut_a_slice_at_a_time_and_loses_no_word(chunker: Chunker) -> None:
    import tracemalloc

    words = [f"w{i}" for i in range(150_000)]  # ~1 MB with no sentence end: a log, a bad OCR layer
    tracemalloc.start()
    chunks = chunker.split(" ".join(words))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert all(tokens(chunker, c) <= 60 for c in chunks)
    seen = set(" ".join(chunks).split())
    assert seen == set(words)
    assert peak < 40 * 2**20  # measured: 11 MB in slices, 127 MB encoded whole


def test_a_word_longer_than_the_tokenizer_reads_is_cut_to_its_first_100_characters(chunker: Chunker) -> None:
    blob = "data:image/png;base64," + "QUJD" * 250_000  # a 1 MB "word": WordPiece reads it as one [UNK]
    chunks = chunker.split(f"Logo follows. {blob} End of letter.")
    joined = " ".join(chunks)
    assert max(len(c) for c in chunks) < 400 and "End of letter." in joined
    assert "QUJDQUJD" in joined and joined.count("QUJD") < 25 and "…" in joined


def test_the_window_caps_the_setting() -> None:
    big = Chunker(resolve_embedder("") / "tokenizer.json", max_tokens=10_000, overlap=32, window=256)
    assert big.max_tokens == 254  # the window less [CLS] and [SEP]


def test_overlap_repeats_the_end_of_the_previous_chunk(chunker: Chunker) -> None:
    sentences = [f"Sentence number {i} says something short." for i in range(40)]
    chunks = chunker.split(" ".join(sentences))
    for a, b in zip(chunks, chunks[1:]):
        assert a.splitlines()[-1] in b.splitlines()  # one sentence a line


def test_chunks_keep_their_page_and_order(chunker: Chunker) -> None:
    pages = [Page(1, "Alpha. " * 80), Page(2, ""), Page(3, "Gamma clause. " * 5)]
    chunks = list(chunker.chunks(pages, "/d/x.pdf", "x.pdf", "abc"))
    assert {c.page for c in chunks} == {1, 3}
    assert [c.number for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)
    assert chunks[-1].text.startswith("Gamma")


def test_heading_paths_ride_with_their_chunks_within_the_budget(chunker: Chunker) -> None:
    pages = [
        Page(0, "Annual leave is twenty-five days. " * 20, "Handbook > Leave > Annual leave"),
        Page(0, "Partner | $950\n\nAssociate | $450", "Fees"),
        Page(0, "Short.", "A heading so long " * 20),
    ]
    chunks = list(chunker.chunks(pages, "/d/h.docx", "h.docx", "sha"))
    leave = [c for c in chunks if c.heading == "Handbook > Leave > Annual leave"]
    assert len(leave) > 1
    assert all(tokens(chunker, c.embed_text) <= 60 for c in chunks)
    assert leave[0].embed_text.startswith("Handbook > Leave > Annual leave\nAnnual leave")
    fees = next(c for c in chunks if c.heading == "Fees")
    assert "Partner | $950" in fees.text and "Associate | $450" in fees.text
    assert chunks[-1].heading == "" and chunks[-1].text == "Short."  # a heading longer than its text is dropped
