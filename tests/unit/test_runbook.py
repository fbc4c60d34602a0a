"""docs/runbook.md and the template's alarms stay in step: one section per alarm, headed by its
logical id, and every alarm's description names its section."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local_runtime import template

RUNBOOK = template.ROOT / "docs" / "runbook.md"
RUNBOOK_LINK = re.compile(r"Runbook: docs/runbook\.md#([a-z0-9_-]+)$")
ALARM_SECTION = re.compile(r"^### (.+?)\s*$", re.MULTILINE)


def anchor(heading: str) -> str:
    """The anchor a Markdown renderer (GitHub's rule) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def alarm_sections(path: Path = RUNBOOK) -> list[str]:
    """The runbook's alarm sections: its level-3 headings (level 2 groups them)."""
    return ALARM_SECTION.findall(path.read_text())


def alarms() -> dict[str, dict[str, Any]]:
    return template.resources("AWS::CloudWatch::Alarm")


def test_the_template_has_alarms_and_the_runbook_sections() -> None:
    assert alarms(), "no AWS::CloudWatch::Alarm in template.yaml"
    assert alarm_sections(), f"no '### <alarm>' section in {RUNBOOK}"


def test_every_alarm_has_a_section() -> None:
    missing = sorted(set(alarms()) - set(alarm_sections()))
    assert not missing, f"alarms with no section in docs/runbook.md: {missing}"


def test_every_section_is_an_alarm() -> None:
    orphans = sorted(set(alarm_sections()) - set(alarms()))
    assert not orphans, f"runbook sections that name no alarm of template.yaml: {orphans}"


def test_no_alarm_has_two_sections() -> None:
    sections = alarm_sections()
    assert len(sections) == len(set(sections)), sorted({s for s in sections if sections.count(s) > 1})


@pytest.mark.parametrize("logical_id", sorted(alarms()))
def test_the_alarm_description_names_its_own_section(logical_id: str) -> None:
    description = str(alarms()[logical_id]["Properties"].get("AlarmDescription", ""))
    link = RUNBOOK_LINK.search(description)
    assert link, f"{logical_id}: AlarmDescription does not end with 'Runbook: docs/runbook.md#<section>'"
    assert link.group(1) == anchor(logical_id), f"{logical_id} names the section #{link.group(1)}"
    assert link.group(1) in {anchor(section) for section in alarm_sections()}, f"no section #{link.group(1)}"


def test_the_anchor_is_the_renderers() -> None:
    assert anchor("BalanceChargeFunctionErrorsAlarm") == "balancechargefunctionerrorsalarm"
    assert anchor("The HTTP API!") == "the-http-api"
