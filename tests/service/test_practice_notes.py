"""Practice notes (clés d'intervention): an organization writes know-how for a clientele or a need, in
Markdown shown without raw HTML, for its partners or the whole network; each edit is a new version;
partners find notes by words, need and clientele; anyone else gets a 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.audit.models import AuditEntry
from service.directory.operations import PartnershipTerms
from service.directory.operations import create_partnership
from service.practice_notes import operations
from service.practice_notes.errors import NoteNotFound
from service.practice_notes.errors import NoteRefused
from service.practice_notes.models import NETWORK
from service.practice_notes.models import PARTNERS
from service.practice_notes.models import PracticeNote
from service.practice_notes.models import PracticeNoteVersion
from service.practice_notes.operations import NoteDetails
from service.practice_notes.queries import find_notes
from service.practice_notes.rendering import note_html
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user

WELCOME = NoteDetails(
    title="Accueillir une femme allophone",
    body="Prévoir une **interprète** au premier rendez-vous.\n\n- Parler lentement\n- Vérifier",
    visibility=PARTNERS,
    clientele="Personnes immigrantes arrivées depuis moins de cinq ans.",
    need_codes=("newcomers", "french_classes"),
)


@pytest.fixture
def partnership(session, network, clock):
    """The shelter and the women's centre are partners; legal aid is nobody's partner."""
    return create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(kinds=("intervention_keys",)),
        clock=clock,
    )


def write(session, network, clock, details: NoteDetails = WELCOME) -> PracticeNote:
    """The shelter's caseworker writes a note."""
    return operations.write_note(session, network.shelter.caseworker, details, clock=clock)


# Rendering --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "<script>alert('x')</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="https://example.org" onclick="alert(1)">lien</a>',
        "<iframe src='https://evil.example'></iframe>",
        "<div>\n<script>alert(1)</script>\n</div>",
        "<!-- <script>alert(1)</script> -->",
    ],
)
def test_raw_html_is_shown_as_text_never_as_markup(typed):
    html = str(note_html(f"Avant\n\n{typed}\n\nAprès"))
    assert "<script" not in html
    assert "<img" not in html
    assert "<iframe" not in html
    assert "<div" not in html
    assert "<!--" not in html
    assert "onerror=" not in html or "&lt;img" in html
    assert "<a href" not in html
    assert "&lt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "[clic](javascript:alert(1))",
        "[clic](JavaScript:alert(1))",
        "[clic](  javascript:alert(1))",
        "[clic](&#106;avascript:alert(1))",
        "[clic](vbscript:msgbox(1))",
        "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[clic](file:///etc/passwd)",
        "<javascript:alert(1)>",
        "[clic][ref]\n\n[ref]: javascript:alert(1)",
    ],
)
def test_links_to_scripts_and_files_are_refused(link):
    html = str(note_html(link))
    assert "<a " not in html
    assert 'href="javascript' not in html.lower()


def test_markdown_is_rendered_and_links_open_nothing_of_ours():
    html = str(
        note_html(
            "# Repères\n\n**Gras** et *italique*.\n\n- un\n- deux\n\n"
            "[Le guide](https://example.org/guide) · [écrire](mailto:accueil@example.org) · "
            "[annuaire](/directory/)"
        )
    )
    assert "<h1>Repères</h1>" in html
    assert "<strong>Gras</strong>" in html
    assert "<em>italique</em>" in html
    assert "<li>deux</li>" in html
    assert '<a href="https://example.org/guide" rel="noopener nofollow">Le guide</a>' in html
    assert '<a href="mailto:accueil@example.org" rel="noopener nofollow">' in html
    assert '<a href="/directory/" rel="noopener nofollow">' in html


def test_images_are_not_loaded_from_elsewhere():
    html = str(note_html("![pixel](https://tracker.example/pixel.png)"))
    assert "<img" not in html


# Versions ---------------------------------------------------------------------------------------


def test_each_edit_is_a_new_version_and_the_old_ones_stay(session, network, clock):
    note = write(session, network, clock)
    assert (note.version, note.title) == (1, WELCOME.title)
    assert [n.code for n in note.needs] == ["french_classes", "newcomers"]
    clock.advance(days=3)
    coordinator = network.shelter.coordinator
    operations.revise_note(
        session,
        coordinator,
        note.id,
        1,
        NoteDetails(
            title="Accueillir une femme allophone (révisé)", body="Nouveau texte", visibility=NETWORK
        ),
        clock=clock,
    )
    session.expire_all()
    note = session.get(PracticeNote, note.id)
    assert (note.version, note.visibility, note.needs, note.clientele) == (2, NETWORK, [], "")
    first, second = sorted(note.versions, key=lambda v: v.version)
    assert (first.title, first.body, first.author_id, first.written_at) == (
        WELCOME.title,
        WELCOME.body,
        network.shelter.caseworker.user_id,
        clock.now - timedelta(days=3),
    )
    assert first.need_codes == ["french_classes", "newcomers"]
    assert first.clientele == WELCOME.clientele
    assert (second.body, second.author_id, second.written_at) == (
        "Nouveau texte",
        coordinator.user_id,
        clock.now,
    )
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.organization_id == network.shelter.organization.id)
    ).all()
    assert {"practice_note.written", "practice_note.revised"} <= set(actions)


def test_an_edit_over_an_older_version_is_refused_and_changes_nothing(session, network, clock):
    note = write(session, network, clock)
    operations.revise_note(session, network.shelter.coordinator, note.id, 1, WELCOME, clock=clock)
    with pytest.raises(NoteRefused) as refused:
        operations.revise_note(
            session,
            network.shelter.caseworker,
            note.id,
            1,
            NoteDetails(title="Écrasé", body="Perdu", visibility=PARTNERS),
            clock=clock,
        )
    assert refused.value.rule == "changed_meanwhile"
    assert session.scalar(select(func.count()).where(PracticeNoteVersion.note_id == note.id)) == 2
    assert session.get(PracticeNote, note.id).title == WELCOME.title


@pytest.mark.parametrize(
    ("details", "rule"),
    [
        (NoteDetails(title="  ", body="x", visibility=PARTNERS), "title_needed"),
        (NoteDetails(title="x", body=" \n ", visibility=PARTNERS), "body_needed"),
        (NoteDetails(title="x", body="x", visibility="everyone"), "unknown_visibility"),
        (NoteDetails(title="x", body="x", visibility=PARTNERS, need_codes=("nope",)), "unknown_need"),
    ],
)
def test_a_bad_note_is_refused(session, network, clock, details, rule):
    with pytest.raises(NoteRefused) as refused:
        write(session, network, clock, details)
    assert refused.value.rule == rule
    assert session.scalar(select(func.count()).select_from(PracticeNote)) == 0


def test_only_staff_of_the_organization_write_and_change_its_notes(session, network, clock, partnership):
    note = write(session, network, clock)
    for outsider in (
        make_user(session, Role.PRIVACY_OFFICER, network.shelter.organization, clock),
        make_user(session, Role.REGIONAL_ADMIN, None, clock),
    ):
        with pytest.raises(NoteRefused):
            operations.write_note(session, outsider, WELCOME, clock=clock)
    with pytest.raises(NoteRefused):  # a partner reads it, she does not rewrite it
        operations.revise_note(session, network.womens_centre.coordinator, note.id, 1, WELCOME, clock=clock)
    with pytest.raises(NoteRefused):  # deleting is for her organization's coordinators
        operations.withdraw_note(session, network.shelter.caseworker, note.id, clock=clock)
    assert (
        operations.withdraw_note(session, network.shelter.coordinator, note.id, clock=clock) == WELCOME.title
    )
    assert session.scalar(select(func.count()).select_from(PracticeNoteVersion)) == 0


# Who reads a note -------------------------------------------------------------------------------


def test_a_note_for_partners_is_read_by_active_partners_only(session, network, clock, partnership):
    note = write(session, network, clock)
    assert operations.note_for(session, network.shelter.caseworker, note.id) == note
    assert operations.note_for(session, network.womens_centre.caseworker, note.id) == note
    for stranger in (network.legal_aid.caseworker, make_user(session, Role.REGIONAL_ADMIN, None, clock)):
        with pytest.raises(NoteNotFound):
            operations.note_for(session, stranger, note.id)
    partnership.active = False
    session.commit()
    with pytest.raises(NoteNotFound):
        operations.note_for(session, network.womens_centre.caseworker, note.id)


def test_a_note_for_the_network_is_read_by_everyone(session, network, clock):
    note = write(session, network, clock, NoteDetails(title="Pour tous", body="Texte", visibility=NETWORK))
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    for reader in (network.legal_aid.caseworker, network.womens_centre.coordinator, admin):
        assert operations.note_for(session, reader, note.id) == note


def test_pages_of_a_note_not_shared_with_her_organization_are_not_found(
    app, session, network, clock, partnership
):
    note = write(session, network, clock)
    operations.revise_note(session, network.shelter.caseworker, note.id, 1, WELCOME, clock=clock)
    stranger = sign_in(app.test_client(), network.legal_aid.coordinator, session)
    for path in (
        f"/practice-notes/{note.id}",
        f"/practice-notes/{note.id}/versions/1",
        f"/practice-notes/{note.id}/edit",
        f"/practice-notes/{note.id}/withdraw",
        "/practice-notes/2147483647",
    ):
        answer = stranger.get(path)
        assert answer.status_code == 404, path
        assert WELCOME.title not in answer.text
    for path in (f"/practice-notes/{note.id}/edit", f"/practice-notes/{note.id}/withdraw"):
        assert stranger.post(path, data={"title": "x", "body": "x", "visibility": NETWORK}).status_code == 404
    assert WELCOME.title not in stranger.get("/practice-notes/?q=allophone").text
    assert session.get(PracticeNote, note.id).version == 2
    partner = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    assert partner.get(f"/practice-notes/{note.id}").status_code == 200
    assert partner.get(f"/practice-notes/{note.id}/edit").status_code == 403
    assert partner.get(f"/practice-notes/{note.id}/versions/3").status_code == 404


# Search -----------------------------------------------------------------------------------------


def test_search_finds_words_without_case_or_accents_and_filters_by_need_and_clientele(
    session, network, clock, partnership
):
    welcome = write(session, network, clock)
    clock.advance(minutes=1)
    safety = write(
        session,
        network,
        clock,
        NoteDetails(
            title="Scénario de protection avec une adolescente",
            body="Impliquer l'école; 100% confidentiel.",
            visibility=PARTNERS,
            clientele="Femmes et adolescentes de 14 ans et plus ayant vécu une agression sexuelle.",
            need_codes=("safety_plan",),
        ),
    )
    reader = network.womens_centre.caseworker

    def titles(**search) -> list[str]:
        return [n.title for n in find_notes(session, reader, **search).notes]

    assert titles() == [safety.title, welcome.title]  # newest change first
    assert titles(text="INTERPRETE allophone") == [welcome.title]
    assert titles(text="scenario") == [safety.title]
    assert titles(text="adolescentes") == [safety.title]  # the clientele is searched too
    assert titles(text="interprète absent") == []
    assert titles(text="100%") == [safety.title]  # LIKE's wildcards are plain characters
    assert titles(text="%") == [safety.title]
    assert titles(text="_") == []
    assert titles(need="safety_plan") == [safety.title]
    assert titles(need="newcomers", text="interprete") == [welcome.title]
    assert titles(clientele=WELCOME.clientele) == [welcome.title]
    assert titles(need="housing") == []
    assert find_notes(session, network.legal_aid.caseworker).total == 0


def test_search_results_come_a_page_at_a_time(session, network, clock, partnership):
    for number in range(5):
        clock.advance(minutes=1)
        write(session, network, clock, NoteDetails(title=f"Note {number}", body="Texte", visibility=PARTNERS))
    reader = network.womens_centre.caseworker
    first = find_notes(session, reader, size=2)
    assert ([n.title for n in first.notes], first.page, first.pages, first.total) == (
        ["Note 4", "Note 3"],
        1,
        3,
        5,
    )
    assert [n.title for n in find_notes(session, reader, size=2, page=3).notes] == ["Note 0"]
    assert find_notes(session, reader, size=2, page=99).page == 3  # past the end: the last page
    assert find_notes(session, reader, size=2, page=-4).page == 1


# Pages ------------------------------------------------------------------------------------------


def test_a_caseworker_writes_edits_and_reads_versions_in_her_pages(app, session, network, clock, partnership):
    author = sign_in(app.test_client(), network.shelter.caseworker, session)
    form = author.get("/practice-notes/new").text
    assert "jamais les renseignements personnels d’une femme" in form  # noqa: RUF001 - French, as served
    saved = author.post(
        "/practice-notes/new",
        data={
            "title": "Premier contact",
            "body": "Écouter d'abord.\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
            "needs": ["psychosocial"],
            "clientele": "",
            "visibility": PARTNERS,
        },
    )
    assert saved.status_code == 303
    note = session.scalars(select(PracticeNote)).one()
    page = author.get(saved.headers["Location"]).text
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert 'href="javascript' not in page
    edited = author.post(
        f"/practice-notes/{note.id}/edit",
        data={
            "title": "Premier contact",
            "body": "Écouter, puis nommer.",
            "visibility": NETWORK,
            "read_version": "1",
        },
    )
    assert edited.status_code == 303
    assert "Écouter, puis nommer." in author.get(f"/practice-notes/{note.id}").text
    old = author.get(f"/practice-notes/{note.id}/versions/1").text
    assert "Écouter d&#39;abord." in old or "Écouter d'abord." in old
    stale = author.post(
        f"/practice-notes/{note.id}/edit",
        data={
            "title": "Premier contact",
            "body": "Perdu?",
            "visibility": NETWORK,
            "clientele": "",
            "read_version": "1",
        },
    )
    assert stale.status_code == 200
    assert "Rechargez la page et réessayez." in stale.text
    assert session.get(PracticeNote, note.id).version == 2


def test_hostile_search_input_gets_a_page_not_an_error(app, session, network, clock):
    reader = sign_in(app.test_client(), network.womens_centre.caseworker, session)
    for query in (
        {"q": "x" * 500},
        {"need": "nope"},
        {"clientele": "inconnue"},
        {"page": "9223372036854775808"},
        {"page": "-3"},
        {"q": "a\x00b"},
    ):
        assert reader.get("/practice-notes/", query_string=query).status_code in (200, 400), query
