"""How a knowledge-base change is written, in the store's transaction
(:meth:`~.store.SupportStore.upsert_documents`): documents inserted, replaced or left as they are
by their content hash, those gone from the file or folder they came from deleted, and their chunks
dropped and inserted anew (chunk ids are never reused), each step told in the
:class:`~.tables.KbChange`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .knowledge import Chunk, Document
from .tables import ChunkRow, DocumentRow, KbChange, utc_now


def drop_gone(s: Session, keep: set[str], root: Path, change: KbChange) -> None:
    """Delete the documents that came from ``root`` (a file or folder) earlier and are not in
    ``keep``: a FAQ whose question was edited gets a new id, and its old version must not stay
    answerable."""
    for row in s.scalars(select(DocumentRow)).all():
        source = Path(row.source) if row.source else None
        if (row.doc_id not in keep and source is not None
                and (source == root or root in source.parents)):
            change.removed_chunk_ids += drop_chunks(s, row.doc_id)
            s.delete(row)
            change.deleted.append(row.doc_id)
    s.flush()


def write_document(s: Session, doc: Document, chunker: Callable[[Document], list[Chunk]],
                   change: KbChange) -> None:
    """Insert ``doc``, or replace its chunks if its content changed, or leave it as it is."""
    row = s.get(DocumentRow, doc.doc_id)
    if row is not None and row.content_hash == doc.content_hash:
        # subtle: unchanged, nothing to say, but the newest file holding it owns it:
        # kept with the older one, dropping it from the newer left it answerable
        row.source = doc.source or row.source
        change.unchanged.append(doc.doc_id)
        return
    if row is not None and row.source and doc.source and row.source != doc.source:
        # an edited copy uploaded under another name is a normal way to update, so
        # the new file wins, but the caller is told (it may be an id clash)
        change.taken_over[doc.doc_id] = row.source
    if row is not None:
        change.removed_chunk_ids += drop_chunks(s, doc.doc_id)
        change.updated.append(doc.doc_id)
    else:
        change.added.append(doc.doc_id)
    s.merge(DocumentRow(doc_id=doc.doc_id, title=doc.title, text=doc.text,
                        url=doc.url, source=doc.source, kind=doc.kind,
                        content_hash=doc.content_hash, updated=utc_now()))
    s.flush()
    change.new_chunks += insert_chunks(s, chunker(doc))


def drop_chunks(s: Session, doc_id: str) -> list[int]:
    """Delete the document's chunks; returns their ids."""
    ids = list(s.scalars(select(ChunkRow.id).where(ChunkRow.doc_id == doc_id)))
    s.execute(delete(ChunkRow).where(ChunkRow.doc_id == doc_id))
    return ids


def insert_chunks(s: Session, chunks: list[Chunk]) -> list[Chunk]:
    """Store ``chunks``, each given its new row's id."""
    rows = [ChunkRow(doc_id=c.doc_id, ordinal=c.ordinal, text=c.text) for c in chunks]
    s.add_all(rows)
    s.flush()
    for chunk, row in zip(chunks, rows, strict=True):
        chunk.chunk_id = row.id
    return chunks
