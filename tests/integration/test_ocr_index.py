"""The OCR text index on SQLite FTS5 and PostgreSQL full text: one suite, both backends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from hoso.common import migrate
from hoso.common.db import create_engine
from hoso.ocr.errors import InvalidArgument
from hoso.ocr.index import IndexedPage, SearchFilters, TextIndex, open_index, parse_query
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.asyncio

PAGE = "Tôi nộp hồ sơ đăng ký hộ kinh doanh tại Ủy ban nhân dân quận Đống Đa."
FOLDED_ONLY = "Tieu de khong dau: ho so dang ky cua ong Duc."
OTHER = "Giấy xác nhận tình trạng hôn nhân của ông Trần Văn Đức."


@pytest_asyncio.fixture
async def catalog(
    database_url: str,
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], TextIndex]]:
    await asyncio.to_thread(migrate.upgrade, database_url)
    engine = create_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    index = open_index(engine.dialect.name)
    async with sessions.begin() as session:
        await index.upsert(
            session,
            [
                IndexedPage(
                    "v-form",
                    1,
                    PAGE,
                    dossier="D1",
                    agency="UBND-DD",
                    procedure="HKD",
                    archived_at=datetime(2024, 3, 15, tzinfo=UTC),
                ),
                IndexedPage(
                    "v-plain",
                    1,
                    FOLDED_ONLY,
                    dossier="D2",
                    archived_at=datetime(2024, 4, 1, tzinfo=UTC),
                ),
                IndexedPage(
                    "v-other", 2, OTHER, dossier="D1", archived_at=datetime(2024, 5, 1, tzinfo=UTC)
                ),
            ],
        )
    yield sessions, index
    await engine.dispose()


async def _search(catalog, query: str, **filters):  # type: ignore[no-untyped-def]
    sessions, index = catalog
    async with sessions() as session:
        return await index.search(
            session, parse_query(query), SearchFilters(**filters), limit=10, offset=0
        )


async def test_finds_page_with_or_without_diacritics(catalog) -> None:
    for query in ["ho so", "dang ky", "Đăng ký", "HỒ SƠ ĐĂNG KÝ", "dong da"]:
        results = await _search(catalog, query)
        assert "v-form" in [hit.file_version for hit in results.hits], query


async def test_exact_diacritics_rank_first(catalog) -> None:
    results = await _search(catalog, "hồ sơ đăng ký")
    assert [h.file_version for h in results.hits] == ["v-form", "v-plain"]
    assert results.hits[0].exact and not results.hits[1].exact
    folded = await _search(catalog, "ho so dang ky")
    assert {h.file_version for h in folded.hits} == {"v-form", "v-plain"}


async def test_d_stroke_folds_to_d(catalog) -> None:
    results = await _search(catalog, "Duc")
    assert {h.file_version for h in results.hits} == {"v-plain", "v-other"}


async def test_phrase_needs_adjacent_words(catalog) -> None:
    assert (await _search(catalog, '"ky dang"')).total == 0
    assert (await _search(catalog, '"ho so dang ky"')).total == 2


async def test_snippet_highlights_the_matched_words(catalog) -> None:
    hit = (await _search(catalog, "dang ky", dossier="D1")).hits[0]
    marked = [hit.snippet[s:e] for s, e in hit.highlights]
    assert marked == ["đăng", "ký"]


async def test_filters_and_paging(catalog) -> None:
    assert (await _search(catalog, "ho so", dossier="D2")).total == 1
    assert (await _search(catalog, "ông", dossier="D1")).total == 1
    since = datetime(2024, 3, 20, tzinfo=UTC)
    results = await _search(catalog, "ho so", archived_from=since)
    assert [h.file_version for h in results.hits] == ["v-plain"]
    sessions, index = catalog
    async with sessions() as session:
        first = await index.search(
            session, parse_query("ho so"), SearchFilters(), limit=1, offset=0
        )
        second = await index.search(
            session, parse_query("ho so"), SearchFilters(), limit=1, offset=1
        )
    assert first.total == second.total == 2
    assert first.hits[0].file_version != second.hits[0].file_version


HOSTILE = ['"', "*", "NEAR(", "-", "AND OR", 'ho "so', "dang*ky", "NOT ho", "'; DROP", "ho:so"]


async def test_hostile_queries_never_fail(catalog) -> None:
    for query in HOSTILE:
        try:
            results = await _search(catalog, query)
        except InvalidArgument as e:  # only for queries with no word at all
            assert e.field == "query"
            assert not any(c.isalnum() for c in query)
        else:
            assert results.total >= 0
    assert (await _search(catalog, "dang*ky")).total == 2  # read as the words "dang" "ky"


@pytest.mark.parametrize("query", ["", "   ", '"', "*-"])
async def test_empty_query_is_invalid(query: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_query(query)
    assert caught.value.field == "query"


async def test_reindex_replaces_and_delete_removes(catalog) -> None:
    sessions, index = catalog
    async with sessions.begin() as session:
        await index.upsert(session, [IndexedPage("v-form", 1, "Biên nhận mới", dossier="D1")])
    assert (await _search(catalog, "ho so", dossier="D1")).total == 0
    assert (await _search(catalog, "bien nhan")).total == 1
    async with sessions.begin() as session:
        await index.delete_file(session, "v-form")
    assert (await _search(catalog, "bien nhan")).total == 0


async def test_phrases_are_found_through_word_pairs(catalog) -> None:
    sessions, index = catalog
    # Both pairs of "đăng ký hộ" are on this page, but not as one phrase.
    scattered = "đăng ký giấy phép, ký hộ chủ tịch"
    async with sessions.begin() as session:
        await index.upsert(session, [IndexedPage("v-scattered", 1, scattered, dossier="D3")])
    three = await _search(catalog, '"dang ky ho"')
    assert [h.file_version for h in three.hits] == ["v-form"]
    pair = await _search(catalog, '"ký hộ"')
    assert [(h.file_version, h.exact) for h in pair.hits] == [
        ("v-scattered", True),
        ("v-form", True),
    ]
    mixed = await _search(catalog, '"đăng ký" Đống')
    assert [h.file_version for h in mixed.hits] == ["v-form"]
    folded_pair = await _search(catalog, '"đăng ký" ong')
    assert [h.file_version for h in folded_pair.hits] == ["v-plain"]
    assert not folded_pair.hits[0].exact
    assert (await _search(catalog, '"ky giay phep ky"')).total == 1
    assert (await _search(catalog, '"ho kinh" "giay phep"')).total == 0


async def test_upgrade_gives_pages_indexed_before_their_pair_keys(database_url: str) -> None:
    from alembic import command
    from hoso.common.db import sync_url
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import text

    before_pairs = "512e22fbb1e3"
    await asyncio.to_thread(command.upgrade, migrate.alembic_config(database_url), before_pairs)
    engine = create_sync_engine(sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ocr_index_pages(id, file_version, page, text, dossier, agency,"
                " procedure, component_type) VALUES (7, 'v-old', 1, :t, 'D9', '', '', '')"
            ),
            {"t": PAGE},
        )
        exact = "tôi nộp hồ sơ đăng ký hộ kinh doanh"
        folded = "toi nop ho so dang ky ho kinh doanh"
        if engine.dialect.name == "postgresql":
            insert = (
                "INSERT INTO ocr_page_fts(id, exact, folded) VALUES "
                "(7, to_tsvector('simple', :e), to_tsvector('simple', :f))"
            )
        else:
            insert = "INSERT INTO ocr_page_fts(rowid, exact, folded) VALUES (7, :e, :f)"
        connection.execute(text(insert), {"e": exact, "f": folded})
    engine.dispose()
    await asyncio.to_thread(migrate.upgrade, database_url)
    async_engine = create_engine(database_url)
    sessions = async_sessionmaker(async_engine, expire_on_commit=False)
    index = open_index(async_engine.dialect.name)
    try:
        for query, exact_match in (
            ('"hồ sơ đăng ký"', True),
            ('"ho so"', False),
            ('"nop ho"', False),
        ):
            async with sessions() as session:
                results = await index.search(
                    session, parse_query(query), SearchFilters(), limit=10, offset=0
                )
            assert [(h.file_version, h.exact) for h in results.hits] == [("v-old", exact_match)]
        async with sessions() as session:
            none = await index.search(
                session, parse_query('"so ho"'), SearchFilters(), limit=10, offset=0
            )
        assert none.total == 0
    finally:
        await async_engine.dispose()
