"""The interactive map editor's questions, driven through its ask/say callables (no terminal)."""

from __future__ import annotations

from collections.abc import Iterator

from hibob_sync.config.mapping import default_mapping
from hibob_sync.hibob.client import CatalogueField
from hibob_sync.model import HITHRIVE_FIELDS
from hibob_sync.sync.mapping_editor import ask_sources, mapping_text

CATALOGUE = [
    CatalogueField("root.email", "Email", "root", "Basic info", "text"),
    CatalogueField("work.title", "Job title", "work", "Work", "list"),
    CatalogueField("work.department", "Department", "work", "Work", "list"),
    CatalogueField("work.site", "Site", "work", "Work", "list"),
]


def scripted(
    answers: list[str],
) -> tuple[list[str], list[str], dict[str, tuple[str, ...]]]:
    """Run the editor with these answers (Enter = ""): the questions, what it said, the result."""
    questions: list[str] = []
    said: list[str] = []
    queue: Iterator[str] = iter(answers)

    def ask(question: str, default: str) -> str:
        questions.append(question)
        answer = next(queue, "")
        return answer or default

    return questions, said, ask_sources(default_mapping(), CATALOGUE, ask, said.append)


def test_enter_keeps_every_field() -> None:
    questions, _, result = scripted([])
    assert [q.split(" - ")[0] for q in questions] == list(HITHRIVE_FIELDS)
    assert result == dict(default_mapping().sources)


def test_email_cannot_be_unmapped_and_names_resolve() -> None:
    questions, said, result = scripted(["-", "", "", "job title", "", "-", "Department, site"])
    assert "  email is required: it identifies each user" in said
    assert questions[0] == questions[1]  # email was asked again
    assert result["job_title"] == ("work.title",)
    assert "birthday" not in result
    assert result["teams"] == ("work.department", "work.site")


def test_an_ambiguous_or_unknown_answer_is_asked_again() -> None:
    questions, said, _ = scripted(["", "", "work", "nothing-like-it", "work.title"])
    assert any("matches several fields" in line for line in said)
    assert any("no HiBob field matches 'nothing-like-it'" in line for line in said)
    assert questions[2] == questions[3] == questions[4]  # job_title, three times


def test_mapping_text_names_unmapped_fields() -> None:
    text = mapping_text(default_mapping().without_field("birthday"))
    assert "birthday       (not mapped)" in text.splitlines()
