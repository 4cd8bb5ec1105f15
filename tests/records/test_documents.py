"""L5: documents and linked e-mails, their content in a blob store."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from crm_procedures.adapters.blobs import FolderBlobStore, MemoryBlobStore
from crm_procedures.errors import AccessDenied, InvalidInput, NotFound
from crm_procedures.services import projects
from records.builders import World, build_world


def _project(world: World) -> str:
    return projects.create_project(world.ctx, "u-anna", relation_id="R-1", name="Ovens").id


def test_document_content_goes_to_the_blob_store_and_metadata_to_the_store(world: World) -> None:
    pid = _project(world)
    doc = projects.attach_document(
        world.ctx, "u-anna", "project", pid, "offer.pdf", b"%PDF-1.7 ...", "application/pdf"
    )
    assert doc.sha256 == hashlib.sha256(b"%PDF-1.7 ...").hexdigest()
    assert (doc.size, doc.added_by, doc.owner_id) == (12, "u-anna", pid)
    assert world.blobs.get(doc.sha256) == b"%PDF-1.7 ..."
    assert projects.documents_of(world.ctx, "u-bob", "project", pid) == [doc]
    assert projects.document_content(world.ctx, "u-bob", doc.id) == b"%PDF-1.7 ..."


def test_attachment_over_the_size_limit_stores_nothing(world: World) -> None:
    pid = _project(world)
    before = world.dump()
    with pytest.raises(InvalidInput, match="over the limit of 1000 bytes"):
        projects.attach_document(
            world.ctx, "u-anna", "project", pid, "big.jpg", b"x" * 1001, settings=world.settings
        )
    assert world.dump() == before


def test_blob_store_limit_also_stops_an_attachment(world: World) -> None:
    world.ctx.blobs = MemoryBlobStore(max_bytes=10)
    pid = _project(world)
    before = world.store.dump()
    with pytest.raises(InvalidInput, match="over the limit of 10 bytes"):
        projects.attach_document(world.ctx, "u-anna", "project", pid, "a.txt", b"x" * 11)
    assert world.store.dump() == before


def test_attachment_needs_a_blob_store() -> None:
    world = build_world()
    world.ctx.blobs = None
    pid = _project(world)
    with pytest.raises(InvalidInput, match="no blob store"):
        projects.attach_document(world.ctx, "u-anna", "project", pid, "a.txt", b"x")


def test_documents_of_a_hidden_project_are_not_found(world: World) -> None:
    pid = _project(world)
    doc = projects.attach_document(world.ctx, "u-anna", "project", pid, "a.txt", b"secret")
    projects.link_project(world.ctx, "u-anna", pid, users=["u-anna"])
    with pytest.raises(NotFound):
        projects.documents_of(world.ctx, "u-bob", "project", pid)
    with pytest.raises(NotFound):
        projects.document_content(world.ctx, "u-bob", doc.id)


def test_attaching_needs_write_permission_on_the_owner(world: World) -> None:
    pid = _project(world)
    with pytest.raises(AccessDenied):
        projects.attach_document(world.ctx, "u-carla", "project", pid, "a.txt", b"x")


def test_unknown_owner_kind_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match="documents attach to"):
        projects.attach_document(world.ctx, "u-anna", "invoice", "I-1", "a.txt", b"x")


def test_linked_email_is_a_document_named_after_its_subject(world: World) -> None:
    pid = _project(world)
    msg = EmailMessage()
    msg["From"] = "piet@bakkerij.example"
    msg["To"] = "anna@example.com"
    msg["Subject"] = "Re: offer for two ovens"
    msg.set_content("We would like a demo.")
    doc = projects.link_email(world.ctx, "u-anna", pid, msg)
    projects.attach_document(world.ctx, "u-anna", "project", pid, "photo.jpg", b"\xff\xd8")
    assert [d.id for d in projects.linked_emails(world.ctx, "u-anna", pid)] == [doc.id]
    assert (doc.name, doc.kind, doc.media_type) == (
        "Re: offer for two ovens",
        "email",
        "message/rfc822",
    )
    assert b"We would like a demo." in projects.document_content(world.ctx, "u-anna", doc.id)


def test_memory_blob_store_addresses_content_by_sha256() -> None:
    blobs = MemoryBlobStore()
    digest = blobs.put(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert blobs.put(b"hello") == digest
    assert len(blobs) == 1
    assert blobs.exists(digest)
    with pytest.raises(NotFound):
        blobs.get("0" * 64)


def test_folder_blob_store_writes_complete_files_only(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path / "blobs", max_bytes=100)
    digest = blobs.put(b"report")
    assert (tmp_path / "blobs" / digest[:2] / digest).read_bytes() == b"report"
    assert FolderBlobStore(tmp_path / "blobs").get(digest) == b"report"
    assert not list((tmp_path / "blobs").rglob(".tmp-*"))


def test_folder_blob_store_refuses_content_over_its_limit(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path, max_bytes=3)
    with pytest.raises(InvalidInput, match="over the limit"):
        blobs.put(b"four")
    assert not any(tmp_path.iterdir())


def test_folder_blob_store_refuses_a_digest_that_is_a_path(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    with pytest.raises(InvalidInput, match="SHA-256"):
        blobs.get("../../etc/passwd")
    assert not blobs.exists("../x")
