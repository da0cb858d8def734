"""The text index interface, and query parsing and snippets shared by every backend.

Queries are user text, never index syntax: :func:`parse_query` keeps only words (and
double-quoted phrases), so characters such as ``"``, ``*``, ``NEAR(``, ``-`` or a bare
``AND OR`` can never make a backend fail. Every word is matched folded (no diacritics,
đ → d); pages that also match with the exact diacritics rank first.
"""

from __future__ import annotations

import itertools
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from hoso.ocr.errors import InvalidArgument
from hoso.ocr.text import fold, normalize_text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "IndexedPage",
    "PageTerms",
    "ParsedQuery",
    "SearchFilters",
    "SearchHit",
    "SearchResults",
    "TextIndex",
    "TierTerms",
    "make_snippet",
    "matches_exactly",
    "page_terms",
    "pair_keys",
    "parse_query",
    "tier_terms",
    "words_of",
]

# Letters and digits only: the same split as FTS5's unicode61 tokenizer, so both sides agree.
_WORD = re.compile(r"[^\W_]+")
_PHRASE = re.compile(r'"([^"]*)"')
MAX_QUERY_WORDS = 32
_SNIPPET_CHARS = 160
# Snippets fold every word of a returned page; pages reuse a small vocabulary, so a cache
# turns most of those per-character Python loops into one dictionary look-up.
_fold_word = lru_cache(maxsize=65536)(fold)


@dataclass(frozen=True)
class IndexedPage:
    """The text of one page and the facts search can filter on."""

    file_version: str
    page: int
    """1-based page number."""
    text: str
    dossier: str = ""
    agency: str = ""
    procedure: str = ""
    component_type: str = ""
    archived_at: datetime | None = None


@dataclass(frozen=True)
class SearchFilters:
    """Optional restrictions; empty strings and ``None`` mean "any"."""

    dossier: str = ""
    agency: str = ""
    procedure: str = ""
    component_type: str = ""
    archived_from: datetime | None = None
    archived_until: datetime | None = None


@dataclass(frozen=True)
class ParsedQuery:
    """A query as groups of words: each group is a phrase (one word is a phrase of one)."""

    exact: tuple[tuple[str, ...], ...]
    """Lower-case NFC words with their diacritics."""
    folded: tuple[tuple[str, ...], ...]
    """The same words folded (no diacritics, đ → d)."""

    @property
    def words(self) -> set[str]:
        """Every folded word, for highlighting."""
        return {w for group in self.folded for w in group}


@dataclass(frozen=True)
class SearchHit:
    """A matching page, with a snippet of its text and where the matches are in it."""

    file_version: str
    page: int
    score: float
    snippet: str
    highlights: tuple[tuple[int, int], ...] = field(default=())
    """``(start, end)`` character offsets of matched words inside :attr:`snippet`."""
    exact: bool = False
    """Whether the page matches with the query's exact diacritics."""
    dossier: str = ""


@dataclass(frozen=True)
class SearchResults:
    """One page of results."""

    hits: tuple[SearchHit, ...]
    total: int
    total_is_lower_bound: bool = False
    """The backend stopped counting at its candidate limit; there are at least ``total``."""


def words_of(text: str) -> list[str]:
    """The words of ``text`` in order, lower-case NFC, as the index stores them."""
    return _WORD.findall(normalize_text(text).lower())


def pair_keys(words: Sequence[str]) -> set[str]:
    """The keys of adjacent word pairs (``hồ_sơ``), indexed beside the words.

    A phrase of common words matched by word positions reads the positions of every page that
    holds both words: most of the archive for words like "hồ sơ". A pair of adjacent words is
    rare, so its key finds the few pages that can hold the phrase straight from the index.
    ``_`` never occurs inside a word (see :data:`_WORD`), so a key cannot be mistaken for one.
    """
    return {f"{a}_{b}" for a, b in itertools.pairwise(words)}


@dataclass(frozen=True)
class PageTerms:
    """What the index stores of one page's text (see :func:`page_terms`)."""

    exact: str
    """The words, lower-case NFC, space-separated."""
    folded: str
    """The same words folded (no diacritics, đ → d)."""
    pairs: tuple[str, ...]
    """The pair keys of the exact and of the folded words, sorted."""


def page_terms(text: str) -> PageTerms:
    """The exact words, folded words and pair keys of a page, as both backends index them."""
    words = words_of(text)
    folded = [fold(w) for w in words]
    pairs = tuple(sorted(pair_keys(words) | pair_keys(folded)))
    return PageTerms(" ".join(words), " ".join(folded), pairs)


@dataclass(frozen=True)
class TierTerms:
    """One tier of a query (its exact or its folded groups) as index look-ups.

    A page matches when it holds every :attr:`words` in the word column, every
    :attr:`pairs` key in the pair column, and every :attr:`long_phrases` phrase (whose pairs
    alone could be scattered over the page).
    """

    words: tuple[str, ...]
    """The one-word groups."""
    pairs: tuple[str, ...]
    """The pair keys of every phrase of two or more words."""
    long_phrases: tuple[tuple[str, ...], ...]
    """Phrases of three or more words, to confirm on the candidates the pairs found."""


def tier_terms(groups: tuple[tuple[str, ...], ...]) -> TierTerms:
    """Split one tier's groups into word, pair and long-phrase look-ups (see :class:`TierTerms`)."""
    words = tuple(dict.fromkeys(g[0] for g in groups if len(g) == 1))
    pairs = tuple(sorted(set().union(*(pair_keys(g) for g in groups if len(g) > 1))))
    return TierTerms(words, pairs, tuple(g for g in groups if len(g) > 2))


def parse_query(query: str) -> ParsedQuery:
    """Split ``query`` into words and double-quoted phrases, exact and folded.

    Raises:
        InvalidArgument: No word remains (empty or punctuation only) or too many words.
    """
    text = normalize_text(query).lower()
    groups: list[tuple[str, ...]] = []
    for phrase in _PHRASE.findall(text):
        words = tuple(_WORD.findall(phrase))
        if words:
            groups.append(words)
    groups += [(w,) for w in _WORD.findall(_PHRASE.sub(" ", text).replace('"', " "))]
    if not groups:
        raise InvalidArgument(
            "the query has no words to search for; type at least one word", field="query"
        )
    if sum(len(g) for g in groups) > MAX_QUERY_WORDS:
        raise InvalidArgument(
            f"the query has more than {MAX_QUERY_WORDS} words; shorten it", field="query"
        )
    folded = tuple(tuple(fold(w) for w in g) for g in groups)
    return ParsedQuery(exact=tuple(groups), folded=folded)


def matches_exactly(text: str, query: ParsedQuery) -> bool:
    """Whether ``text`` holds every group of ``query`` with its exact diacritics, in order."""
    words = words_of(text)
    joined = " " + " ".join(words) + " "
    return all(" " + " ".join(group) + " " in joined for group in query.exact)


def make_snippet(text: str, query: ParsedQuery) -> tuple[str, tuple[tuple[int, int], ...]]:
    """A window of ``text`` around the first match, and the offsets of matched words in it."""
    wanted = query.words
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text) if _fold_word(m.group()) in wanted]
    if not spans:
        return text[:_SNIPPET_CHARS], ()
    start = max(0, spans[0][0] - _SNIPPET_CHARS // 4)
    # Start the window on a word boundary so the snippet does not open mid-word.
    if start:
        space = text.rfind(" ", 0, start)
        start = space + 1 if space >= 0 else 0
    end = min(len(text), start + _SNIPPET_CHARS)
    snippet = text[start:end]
    offsets = tuple((s - start, e - start) for s, e in spans if s >= start and e <= end)
    return snippet, offsets


class TextIndex(ABC):
    """Where page texts are indexed and searched.

    Methods take the caller's session, so indexing joins the transaction that records the
    OCR result, and a crash leaves neither or both.
    """

    @abstractmethod
    async def upsert(self, session: AsyncSession, pages: Sequence[IndexedPage]) -> None:
        """Index ``pages``, replacing any earlier text of the same file version and page."""

    @abstractmethod
    async def delete_file(self, session: AsyncSession, file_version: str) -> None:
        """Remove every page of ``file_version``."""

    @abstractmethod
    async def clear(self, session: AsyncSession) -> None:
        """Empty the index (before a rebuild)."""

    @abstractmethod
    async def search(
        self,
        session: AsyncSession,
        query: ParsedQuery,
        filters: SearchFilters,
        *,
        limit: int,
        offset: int,
    ) -> SearchResults:
        """Pages matching every word or phrase of ``query``, best first."""
