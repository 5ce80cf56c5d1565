"""Documents attached to a referral: PDF, JPEG or PNG by their content, encrypted in the store,
seen by the referral's two organizations under her consent, erased with her data."""

from __future__ import annotations

import io
import re
import zlib
from html import unescape
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy import text
from werkzeug.datastructures import FileStorage
from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

from service.audit.models import AuditEntry
from service.config import settings
from service.documents.content import DocumentRefused
from service.documents.content import check_content
from service.documents.models import ReferralDocument
from service.documents.operations import DOCUMENT_KIND
from service.documents.operations import add_document
from service.documents.operations import documents_for
from service.documents.operations import read_document
from service.documents.storage import configured_store
from service.documents.storage import store_for
from service.errors import ConsentRequired
from service.errors import ReferralNotFound
from service.links.operations import issue_link
from service.referrals.models import ReferralEvent
from service.referrals.operations import fire
from service.referrals.operations import withdraw_consent
from service.referrals.person_rights import as_json
from service.referrals.person_rights import person_file
from service.referrals.retention import purge_closed
from tests.conftest import sign_in
from tests.service.test_hostile_new_pages import JUNK_FILES
from tests.service.test_messages import draft

LIMIT = 10 * 1024 * 1024
CANARY = "CANARI-DOCUMENT-7Q2"


def pdf(text: str = "Consentement signé") -> bytes:
    """A small, whole PDF: one page saying `text`."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    start = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start))
    return out.getvalue()


def png() -> bytes:
    """A 1x1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (1).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The configured store, a folder of the test's own, and a document key of the test's own."""
    monkeypatch.setenv("MAILLAGE_DATA_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("MAILLAGE_DOCUMENT_ENCRYPTION_KEY", Fernet.generate_key().decode())
    settings.cache_clear()
    yield configured_store()
    settings.cache_clear()


@pytest.fixture
def referral(session, protocols, network, clock):
    """A referral the women's centre has sent to the shelter, with her consent."""
    opened = draft(session, protocols, network, clock)
    return fire(session, protocols, opened.id, "send", network.womens_centre.caseworker, clock=clock)


def attach(session, referral_id, actor, clock, data=None, name="consentement.pdf", store=None) -> int:
    return add_document(
        session,
        referral_id,
        actor,
        data=pdf() if data is None else data,
        sent_name=name,
        max_bytes=LIMIT,
        store=store,
        clock=clock,
    )


def files_in(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


# The content decides -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [(pdf(), "application/pdf"), (png(), "image/png"), (JPEG, "image/jpeg")],
)
def test_pdf_jpeg_and_png_are_known_by_their_content(data, kind):
    assert check_content(data, max_bytes=LIMIT).content_type == kind


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"Ceci n'est pas un PDF, seulement du texte.", "type"),
        (b"PK\x03\x04" + b"\x00" * 200, "type"),  # a zip (a .docx) named .pdf
        (b"GIF89a" + b"\x00" * 100, "type"),
        (b"MZ\x90\x00" + b"\x00" * 200, "type"),  # a Windows program
        (pdf()[:200], "damaged"),  # cut short: no %%EOF
        (png()[:30], "damaged"),
        (b"", "empty"),
    ],
)
def test_a_file_whose_content_is_not_a_whole_pdf_jpeg_or_png_is_refused(data, reason):
    with pytest.raises(DocumentRefused) as refused:
        check_content(data, max_bytes=LIMIT)
    assert refused.value.reason == reason


def test_a_fake_pdf_is_refused_and_nothing_is_stored(session, network, referral, clock, store, tmp_path):
    with pytest.raises(DocumentRefused):
        attach(session, referral.id, network.womens_centre.caseworker, clock, data=b"MZ" + b"\x00" * 500)
    assert session.scalars(select(ReferralDocument)).all() == []
    assert store.keys() == []


# Stored encrypted, under a random name ----------------------------------------------------


def test_the_file_is_stored_encrypted_under_a_random_key_and_read_back(
    session, network, referral, clock, store, tmp_path
):
    sender, receiver = network.womens_centre.caseworker, network.shelter.caseworker
    data = pdf(CANARY)
    number = attach(session, referral.id, sender, clock, data=data, name="Consentement Personne Fictive.pdf")

    [on_disk] = files_in(tmp_path / "instance" / "documents")
    assert CANARY.encode() not in on_disk.read_bytes()
    assert b"%PDF" not in on_disk.read_bytes()
    assert "Fictive" not in on_disk.name
    assert not on_disk.name.endswith(".pdf")
    raw_name = session.execute(text("SELECT name FROM referral_documents")).scalar_one()
    assert "Fictive" not in raw_name, "the name it was sent under is encrypted in the database too"

    document, read = read_document(session, referral.id, number, receiver, clock=clock)
    assert read == data
    assert (document.name, document.content_type, document.party) == (
        "Consentement Personne Fictive.pdf",
        "application/pdf",
        "sender",
    )
    event = session.scalars(
        select(ReferralEvent)
        .where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.seq.desc())
    ).first()
    assert (event.kind, event.actor_party, event.comment) == (DOCUMENT_KIND, "sender", None)
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.referral_id == referral.id)).all()
    assert {"document.added", "document.read"} <= set(actions)


def test_the_store_can_be_any_fsspec_store(session, network, referral, clock, store):
    memory = store_for("memory://maillage-tests-documents")
    number = attach(session, referral.id, network.shelter.caseworker, clock, data=png(), store=memory)
    assert len(memory.keys()) == 1
    _document, read = read_document(
        session, referral.id, number, network.womens_centre.coordinator, store=memory, clock=clock
    )
    assert read == png()
    for key in list(memory.keys()):
        memory.delete(key)


# Who sees them ------------------------------------------------------------------------


def test_another_organization_gets_not_found(session, network, referral, clock, store):
    number = attach(session, referral.id, network.womens_centre.caseworker, clock)
    outsider = network.legal_aid.coordinator
    with pytest.raises(ReferralNotFound):
        read_document(session, referral.id, number, outsider, clock=clock)
    with pytest.raises(ReferralNotFound):
        documents_for(session, referral.id, outsider, now=clock.now)
    with pytest.raises(ReferralNotFound):
        attach(session, referral.id, outsider, clock)


def test_a_document_is_read_only_through_its_own_referral(
    session, protocols, network, referral, clock, store
):
    number = attach(session, referral.id, network.womens_centre.caseworker, clock)
    other = fire(
        session,
        protocols,
        draft(session, protocols, network, clock).id,
        "send",
        network.womens_centre.caseworker,
        clock=clock,
    )
    with pytest.raises(ReferralNotFound):
        read_document(session, other.id, number, network.shelter.caseworker, clock=clock)


def test_the_receiver_never_sees_a_draft_s_documents(session, protocols, network, clock, store):
    unsent = draft(session, protocols, network, clock)
    number = attach(session, unsent.id, network.womens_centre.caseworker, clock)
    with pytest.raises(ReferralNotFound):
        read_document(session, unsent.id, number, network.shelter.caseworker, clock=clock)


def test_the_receiver_reads_them_only_while_her_consent_is_valid(session, network, referral, clock, store):
    number = attach(session, referral.id, network.shelter.caseworker, clock)
    for consent in referral.consents:
        consent.expires_at = clock.now
    session.commit()
    clock.advance(minutes=1)

    assert documents_for(session, referral.id, network.shelter.caseworker, now=clock.now) is None
    with pytest.raises(ConsentRequired):
        read_document(session, referral.id, number, network.shelter.caseworker, clock=clock)
    with pytest.raises(ConsentRequired):
        attach(session, referral.id, network.shelter.caseworker, clock)
    assert [
        d.id for d in documents_for(session, referral.id, network.womens_centre.caseworker, now=clock.now)
    ] == [number]


# Erased with her data -----------------------------------------------------------------


def test_her_withdrawal_erases_the_documents_and_their_files(
    session, network, referral, clock, store, tmp_path
):
    attach(session, referral.id, network.womens_centre.caseworker, clock)
    attach(session, referral.id, network.shelter.caseworker, clock, data=png(), name="evaluation.png")
    assert len(files_in(tmp_path / "instance" / "documents")) == 2

    withdraw_consent(session, referral.id, network.womens_centre.caseworker, clock=clock)

    assert files_in(tmp_path / "instance" / "documents") == []
    assert session.scalars(select(ReferralDocument)).all() == []


def test_the_retention_purge_leaves_no_file_behind(
    session, protocols, network, referral, clock, store, tmp_path
):
    attach(session, referral.id, network.womens_centre.caseworker, clock)
    fire(
        session,
        protocols,
        referral.id,
        "cancel",
        network.womens_centre.caseworker,
        reason="sent_in_error",
        clock=clock,
    )
    clock.advance(days=400)

    assert purge_closed(session, protocols, months=12, clock=clock) == 1

    assert files_in(tmp_path / "instance" / "documents") == []
    assert session.scalars(select(ReferralDocument)).all() == []


def test_her_file_lists_the_documents(session, protocols, network, referral, clock, store):
    attach(session, referral.id, network.womens_centre.caseworker, clock, name="consentement signé.pdf")
    file = person_file(
        session, protocols, network.womens_centre.coordinator, [referral.id], export=True, clock=clock
    )
    [record] = as_json(file)["referrals"]
    [listed] = record["documents"]
    assert listed["name"] == "consentement signé.pdf"
    assert listed["content_type"] == "application/pdf"
    assert listed["content_base64"]


# The pages ----------------------------------------------------------------------------


def upload(browser, number: int, data: bytes, name: str = "consentement.pdf", **extra):
    # Encoded in memory: the test client would spool a large body into a temporary file it never closes.
    files = MultiDict({"document-file": FileStorage(io.BytesIO(data), filename=name), **extra})
    boundary, body = encode_multipart(files)
    return browser.post(
        f"/referrals/{number}/documents",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_the_sender_attaches_a_signed_consent_and_the_receiver_downloads_it(app, session, network, referral):
    number = referral.id  # the requests close the test's session
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    page = sender.get(f"/referrals/{number}").text
    assert "Joindre un document" in page
    assert 'enctype="multipart/form-data"' in page

    attached = upload(sender, number, pdf(CANARY), name="Consentement signé.pdf")
    assert attached.status_code == 303
    assert CANARY not in attached.headers["Location"]

    receiver = sign_in(app.test_client(), network.shelter.caseworker, session)
    page = receiver.get(f"/referrals/{number}").text
    [link] = re.findall(rf'href="(/referrals/{number}/documents/\d+)"', page)
    assert "Consentement signé.pdf" in unescape(page)
    assert "Document joint" in page  # in the timeline

    downloaded = receiver.get(link)
    assert downloaded.status_code == 200
    assert downloaded.data == pdf(CANARY)
    assert downloaded.headers["Content-Type"] == "application/pdf"
    assert downloaded.headers["X-Content-Type-Options"] == "nosniff"
    assert downloaded.headers["Cache-Control"] == "no-store"
    disposition = downloaded.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''Consentement%20sign%C3%A9.pdf" in disposition

    stranger = sign_in(app.test_client(), network.legal_aid.coordinator, session)
    assert stranger.get(link).status_code == 404
    refused = upload(stranger, number, pdf())
    assert refused.status_code == 404
    assert CANARY not in refused.text


def test_a_fake_pdf_is_refused_in_french_on_the_page(app, session, network, referral, tmp_path):
    number = referral.id
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)

    response = upload(sender, number, b"MZ\x90\x00 not a pdf at all" * 20, name="consentement.pdf")

    assert response.status_code == 200
    assert "Seuls les fichiers PDF, JPEG et PNG peuvent être joints" in unescape(response.text)
    assert files_in(tmp_path / "instance" / "documents") == []


@pytest.mark.parametrize("kind", list(JUNK_FILES))
def test_junk_files_get_a_french_refusal_never_an_error(app, session, network, referral, kind):
    number = referral.id
    content, filename = JUNK_FILES[kind]
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    response = upload(sender, number, content, name=filename)
    assert response.status_code == 200
    assert 'class="field has-error"' in response.text
    assert "Traceback" not in response.text


class CountedBody(io.RawIOBase):
    """A request body of `size` bytes that counts how many were read (the test client seeks it to
    learn its length: seeking reads nothing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.read_so_far = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else self.size + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        buffer[:count] = b"a" * count
        self.position += count
        self.read_so_far += count
        return count


@pytest.mark.parametrize("length_given", [True, False])
def test_an_oversized_file_is_refused_before_it_is_read_whole(
    app, session, network, referral, monkeypatch, tmp_path, length_given
):
    number = referral.id
    monkeypatch.setenv("MAILLAGE_DOCUMENT_MAX_BYTES", "100000")
    settings.cache_clear()
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    body = CountedBody(5_000_000)
    headers = {"Content-Type": "multipart/form-data; boundary=frontier"}
    # Without a length, as a chunked upload comes: the limit stops the reading on the way.
    unknown_length = {"CONTENT_LENGTH": "", "wsgi.input_terminated": True}

    response = sender.post(
        f"/referrals/{number}/documents",
        input_stream=body,
        headers=headers,
        environ_overrides={} if length_given else unknown_length,
    )

    assert response.status_code == 413
    assert "Le fichier est trop volumineux : au plus 98 ko." in unescape(response.text)
    assert "Joindre un document" in response.text, "the referral's page, with the form"
    assert body.read_so_far <= 100_000 + 64 * 1024 + 65_536
    if length_given:
        assert body.read_so_far == 0
    assert files_in(tmp_path / "instance" / "documents") == []


def test_a_file_just_over_the_limit_is_refused_in_french(app, session, network, referral, monkeypatch):
    number = referral.id
    monkeypatch.setenv("MAILLAGE_DOCUMENT_MAX_BYTES", "2000")
    settings.cache_clear()
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    big = pdf()[:9] + b"%" + b"a" * 3000 + b"\n" + pdf()[9:]

    response = upload(sender, number, big)

    assert response.status_code == 200
    assert "Le fichier est trop volumineux : au plus 2 ko." in unescape(response.text)


def test_with_csrf_on_a_file_larger_than_a_form_is_taken_and_a_missing_token_is_refused(
    app, session, network, referral, tmp_path
):
    number = referral.id
    app.config["WTF_CSRF_ENABLED"] = True
    sender = sign_in(app.test_client(), network.womens_centre.caseworker, session, csrf=True)
    page = sender.get(f"/referrals/{number}").text
    token = re.search(r'name="document-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    # Past the pages' own limit (1 MB): Flask-WTF's check of every POST would read it under that one.
    big = pdf()[:9] + b"%" + b"a" * 1_500_000 + b"\n" + pdf()[9:]

    without = upload(sender, number, pdf())
    taken = upload(sender, number, big, **{"document-csrf_token": token})

    assert without.status_code == 400
    assert "Le formulaire a expiré" in unescape(without.text)
    assert taken.status_code == 303
    assert len(files_in(tmp_path / "instance" / "documents")) == 1


def test_the_partner_downloads_through_her_signed_link_once_she_asked_for_her_details(
    app, session, protocols, network, referral, clock, store
):
    number = attach(session, referral.id, network.womens_centre.caseworker, clock, name="Évaluation.pdf")
    token = issue_link(session, referral.id, network.shelter.organization.id, clock=clock)
    other = fire(
        session,
        protocols,
        draft(session, protocols, network, clock).id,
        "send",
        network.womens_centre.caseworker,
        clock=clock,
    )
    other_token = issue_link(session, other.id, network.shelter.organization.id, clock=clock)
    referral_id = referral.id
    partner = app.test_client()

    assert "Évaluation.pdf" not in unescape(partner.get(f"/link/{token}").text)  # what a mail scanner fetches
    shown = unescape(partner.post(f"/link/{token}/person").text)
    assert "Télécharger Évaluation.pdf" in shown
    downloaded = partner.post(f"/link/{token}/documents/{number}")

    assert downloaded.status_code == 200
    assert downloaded.data == pdf()
    assert downloaded.headers["Content-Disposition"].startswith("attachment;")
    assert partner.post(f"/link/{other_token}/documents/{number}").status_code == 404
    assert partner.get(f"/link/{token}/documents/{number}").status_code == 405
    read = session.scalars(
        select(AuditEntry).where(AuditEntry.referral_id == referral_id, AuditEntry.action == "document.read")
    ).all()
    assert [entry.signed_link_id is not None for entry in read] == [True]
