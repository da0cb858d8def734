"""Index the keys of adjacent word pairs beside the words, so phrases are found through them.

A phrase of common words ("hồ sơ") matched by word positions read the positions of most pages
of the archive; the pair key ``hồ_sơ`` finds the few pages that can hold it straight from the
index (see :func:`hoso.ocr.index.api.pair_keys`). Existing pages get their keys here.

PostgreSQL also gets word columns without positions (``exact_words``, ``folded_words``): words
are matched there, half the size of the positional vectors. Words and pairs stay in the row
(compressed with lz4 where the server has it) and get finer planner statistics; the positional
columns remain, in TOAST, to confirm phrases of three or more words, and lose their GIN indexes.

Date filters get an index on ``ocr_index_pages.archived_at``.

Revision ID: 7d3c1f0a9b42
Revises: 512e22fbb1e3
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from alembic import op

revision: str = "7d3c1f0a9b42"
down_revision: str | Sequence[str] | None = "512e22fbb1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Words without positions, and the pairs of the stored words from their positions (to_tsvector
# keeps up to 16383 per page, the bound phrase matching had before), exact and folded.
_POSTGRES_BACKFILL = """
UPDATE ocr_page_fts f SET exact_words = strip(f.exact), folded_words = strip(f.folded),
pairs = array_to_tsvector(ARRAY(
    SELECT DISTINCT a.lexeme || '_' || b.lexeme
    FROM (VALUES (f.exact), (f.folded)) AS v(words)
    CROSS JOIN LATERAL (SELECT lexeme, unnest(positions) AS pos FROM unnest(v.words)) a
    JOIN LATERAL (SELECT lexeme, unnest(positions) AS pos FROM unnest(v.words)) b
        ON b.pos = a.pos + 1
))
"""

_FTS5_TOKENIZER = "tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\""


def _pairs(*texts: str) -> str:
    keys: set[str] = set()
    for words in (t.split() for t in texts):
        keys.update(f"{a}_{b}" for a, b in itertools.pairwise(words))
    return " ".join(sorted(keys))


def _has_lz4() -> bool:
    """Whether the server was built with lz4 (decompresses several times faster than pglz)."""
    return bool(
        op.get_bind()
        .exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        .scalar()
    )


def upgrade() -> None:
    """Add the pair keys (PostgreSQL: columns for pairs and position-less words, GIN-indexed;
    SQLite: a new FTS5 table with a ``pairs`` column) and fill them for the indexed pages."""
    op.create_index("ix_ocr_index_pages_archived_at", "ocr_index_pages", ["archived_at"])
    if op.get_bind().dialect.name == "postgresql":
        lz4 = _has_lz4()
        for column in ("pairs", "exact_words", "folded_words"):
            op.execute(f"ALTER TABLE ocr_page_fts ADD COLUMN {column} tsvector NOT NULL DEFAULT ''")
            # The planner's guess for a word or key missing from its statistics decides between
            # walking the newest pages and reading the index; the default 100 leaves it guessing
            # "1 page in 200" for keys on a dozen pages, and it walks the whole table.
            op.execute(f"ALTER TABLE ocr_page_fts ALTER COLUMN {column} SET STATISTICS 1000")
            # Kept in the row, compressed: a capped count or a walk over the newest pages reads
            # the column for every page it looks at, and a TOAST fetch per page cost three
            # times the check itself. The positional vectors go to TOAST instead.
            op.execute(f"ALTER TABLE ocr_page_fts ALTER COLUMN {column} SET STORAGE MAIN")
            if lz4:
                op.execute(f"ALTER TABLE ocr_page_fts ALTER COLUMN {column} SET COMPRESSION lz4")
        op.execute(_POSTGRES_BACKFILL)
        for column in ("exact", "folded"):
            op.execute(f"DROP INDEX ocr_page_fts_{column}")
            op.execute(
                f"CREATE INDEX ocr_page_fts_{column}_words ON ocr_page_fts "
                f"USING gin ({column}_words)"
            )
        op.execute("CREATE INDEX ocr_page_fts_pairs ON ocr_page_fts USING gin (pairs)")
        return
    # FTS5 tables cannot gain a column: copy into a new one ("_" joins the words of a key).
    op.execute(
        f"CREATE VIRTUAL TABLE ocr_page_fts_new USING fts5(exact, folded, pairs, {_FTS5_TOKENIZER})"
    )
    bind = op.get_bind()
    last = 0
    # In batches: an archive's text does not have to fit in memory.
    while rows := bind.exec_driver_sql(
        "SELECT rowid, exact, folded FROM ocr_page_fts WHERE rowid > ? ORDER BY rowid LIMIT 2000",
        (last,),
    ).fetchall():
        bind.exec_driver_sql(
            "INSERT INTO ocr_page_fts_new(rowid, exact, folded, pairs) VALUES (?, ?, ?, ?)",
            [(rowid, exact, folded, _pairs(exact, folded)) for rowid, exact, folded in rows],
        )
        last = rows[-1][0]
    op.execute("DROP TABLE ocr_page_fts")
    op.execute("ALTER TABLE ocr_page_fts_new RENAME TO ocr_page_fts")


def downgrade() -> None:
    """Drop the pair keys again."""
    op.drop_index("ix_ocr_index_pages_archived_at", table_name="ocr_index_pages")
    if op.get_bind().dialect.name == "postgresql":
        for column in ("exact", "folded"):
            op.execute(f"ALTER TABLE ocr_page_fts DROP COLUMN {column}_words")
            op.execute(f"CREATE INDEX ocr_page_fts_{column} ON ocr_page_fts USING gin ({column})")
        op.execute("ALTER TABLE ocr_page_fts DROP COLUMN pairs")
        return
    op.execute(
        "CREATE VIRTUAL TABLE ocr_page_fts_old USING fts5("
        "exact, folded, tokenize = 'unicode61 remove_diacritics 0')"
    )
    op.execute(
        "INSERT INTO ocr_page_fts_old(rowid, exact, folded) "
        "SELECT rowid, exact, folded FROM ocr_page_fts"
    )
    op.execute("DROP TABLE ocr_page_fts")
    op.execute("ALTER TABLE ocr_page_fts_old RENAME TO ocr_page_fts")
