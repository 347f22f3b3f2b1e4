"""What README.md and docs/*.md say about the module, checked against the code that makes it so:
alarm, query and dashboard names, log lines, pacing figures, the state machine wiring, the
identifiers and make targets they name."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from localdev import aws_setup
from localdev.runtime import LAMBDA_SOURCE
from runpod_callbacks import callback_records, pacing, record_table, watchdog_run
from runpod_callbacks.submission import SubmitRequest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted((REPO / "docs").glob("*.md"))
README = REPO / "README.md"


def text(path: Path) -> str:
    return path.read_text()


def section(document: str, heading: str) -> str:
    return document.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def table_names(document: str, heading: str) -> set[str]:
    """The backticked names in the first column of the section's table."""
    return set(re.findall(r"^\| `([\w-]+)` \|", section(document, heading), re.M))


def hcl_map_keys(hcl: str, local: str) -> set[str]:
    """The keys of a map of objects in a locals block (`name = {` at the map's indentation)."""
    body = hcl.split(f"  {local} = {{\n", 1)[1].split("\n  }\n", 1)[0]
    return set(re.findall(r"^    ([\w-]+) = \{", body, re.M))


def json_block(document: str, first_key: str) -> dict[str, Any]:
    """A README-style JSON fragment, `"Name": {...}`, as the object it names."""
    start = document.index(f'```json\n"{first_key}"') + len("```json\n")
    fragment = document[start : document.index("\n```", start)]
    block: dict[str, Any] = json.loads("{" + fragment + "}")[first_key]
    return block


OPERATIONS = text(REPO / "docs" / "operations.md")
SCALE = text(REPO / "docs" / "scale.md")


def test_the_alarms_listed_are_the_alarms_the_module_creates() -> None:
    alarms_tf = text(REPO / "alarms.tf")
    created = hcl_map_keys(alarms_tf, "webhook_alarms") | hcl_map_keys(alarms_tf, "watchdog_alarms")

    assert table_names(OPERATIONS, "## Alarms") == created
    assert len(created) == 10


def test_the_saved_queries_listed_are_the_ones_the_module_saves() -> None:
    saved = hcl_map_keys(text(REPO / "logs.tf"), "log_queries")

    assert table_names(OPERATIONS, "## Saved Logs Insights queries") == saved
    assert len(saved) == 3


def test_the_dashboards_widgets_listed_are_its_widgets() -> None:
    titles = re.findall(r'^\s+title\s+= "([^"]+)"', text(REPO / "dashboard.tf"), re.M)
    listed = re.findall(r"^- (.+)$", section(OPERATIONS, "## Dashboard"), re.M)

    assert listed == titles


def test_every_key_log_line_is_logged_as_written() -> None:
    code = "\n".join(path.read_text() for path in LAMBDA_SOURCE.rglob("*.py"))
    lines = re.findall(r"^- `([^`]+)`", section(OPERATIONS, "## Logs"), re.M)
    # The fixed words of each line, between its placeholders and colons, appear in the code.
    missing = [
        line
        for line in lines
        if not all(
            part.strip(" …,()") in code
            for piece in re.split(r"\{[^}]+\}", line)
            for part in re.split(r": |, ", piece)
            if part.strip(" …,:()")
        )
    ]

    assert len(lines) >= 8
    assert missing == []


def test_the_paces_and_limits_stated_are_the_codes() -> None:
    pace = section(SCALE, "## The watchdog's pace")
    ceiling = section(SCALE, "## Heartbeats and the watchdog's ceiling")

    assert f"{watchdog_run.WORKERS_PER_ENDPOINT} workers per endpoint" in pace
    assert f"at most {watchdog_run.MAX_WORKERS} workers" in pace
    assert f"{pacing.STATUS_PER_SECOND} `/status`" in pace
    assert (
        f"{pacing.CANCEL_PER_SECOND} a\nsecond and {pacing.CANCEL_AT_ONCE} at once" in pace
        or f"{pacing.CANCEL_PER_SECOND} a second and {pacing.CANCEL_AT_ONCE} at once" in pace
    )
    assert f"{watchdog_run.HEARTBEATS_PER_SECOND} a second for the account" in pace
    assert f"{watchdog_run.SPARE_MS // 1000} s kept spare" in ceiling
    spare_s = watchdog_run.SPARE_MS // 1000
    assert f"a run has {120 - spare_s} s" in ceiling
    assert f"{pacing.STATUS_PER_SECOND * (120 - spare_s):,} running" in ceiling
    assert f"about {watchdog_run.HEARTBEATS_PER_SECOND * (120 - spare_s):,} running jobs" in ceiling
    assert f"({watchdog_run.WatchdogSettings().max_records:,})" in ceiling
    assert f"over {record_table.PENDING_SHARDS} keys" in section(
        SCALE, "## The hot key and its shards"
    )
    assert f"{callback_records.LEASE_MS // 1000} s, shorter than RunPod's 10 s" in OPERATIONS


def test_the_watchdog_defaults_stated_are_the_modules() -> None:
    variables = text(REPO / "variables.tf")
    watchdog = section(OPERATIONS, "## The watchdog")

    for field, default in (("timeout", 120), ("max_records_per_run", 25000)):
        assert re.search(rf"\b{field}\s+= optional\(number, {default}\)", variables)
    assert re.search(r"stale_after_seconds\s+= optional\(number, 60\)", variables)
    assert "`STALE_AFTER_SECONDS` (60 by default)" in watchdog
    assert "`MAX_RECORDS_PER_RUN`\n(25,000 by default)" in watchdog
    assert f"stops taking records {watchdog_run.SPARE_MS // 1000} s before its timeout" in watchdog


def test_the_readmes_task_retries_a_throttled_submission_with_full_jitter() -> None:
    task = json_block(text(README), "RunOnRunPod")
    (throttled,) = [r for r in task["Retry"] if r["ErrorEquals"] == ["RunPod.SubmitThrottled"]]
    payload = {name.removesuffix(".$") for name in task["Parameters"]["Payload"]}

    assert throttled["JitterStrategy"] == "FULL"
    assert throttled["MaxDelaySeconds"] == 60
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["HeartbeatSeconds"] == 3 * 120  # three periods of rate(2 minutes)
    assert payload <= set(SubmitRequest._fields)
    assert payload >= {"task_token", "endpoint_id", "input", "exec_id", "segment_filename"}


def test_the_readmes_map_bounds_its_children_and_fans_out_distributed() -> None:
    fan_out = json_block(text(README), "UpscaleSegments")

    assert fan_out["Type"] == "Map"
    assert fan_out["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert fan_out["MaxConcurrency"] == 10_000
    assert fan_out["ItemProcessor"]["StartAt"] == "RunOnRunPod"


def test_the_own_submitters_task_is_the_one_the_tests_run() -> None:
    documented = json_block(OPERATIONS, "WaitForRunPod")
    tested = aws_setup.waiting_task_definition("dev-runpod-callbacks")["States"]["WaitForRunPod"]

    assert documented["Resource"] == tested["Resource"]
    assert documented["Parameters"] == tested["Parameters"]
    assert documented["HeartbeatSeconds"] == tested["HeartbeatSeconds"]


def docs_and_readme() -> list[Path]:
    return [README, *DOCS]


@pytest.mark.parametrize("path", docs_and_readme(), ids=lambda path: path.name)
def test_every_make_target_named_exists(path: Path) -> None:
    makefile = text(REPO / "Makefile")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", text(path)))

    assert named - targets == set()


def code_text() -> str:
    sources = [*REPO.glob("*.tf"), *LAMBDA_SOURCE.rglob("*.py")]
    sources += [*(REPO / "localdev").glob("*.py"), *(REPO / "bench").glob("*.py")]
    sources += [*(REPO / "tests" / "terraform").glob("*.py"), REPO / ".ci" / "run"]
    sources += [REPO / "pyproject.toml", REPO / "Makefile", *(REPO / "examples").rglob("*.tf")]
    return "\n".join(source.read_text() for source in sources)


@pytest.mark.parametrize("path", docs_and_readme(), ids=lambda path: path.name)
def test_every_identifier_named_exists_in_the_code(path: Path) -> None:
    """Variables, their fields, record attributes, environment variables: a backticked
    snake_case or UPPER_CASE name (with an underscore) is named by the code somewhere; `a.b`
    with `a` a variable of the module has `b` among its fields."""
    document = text(path).split("<!-- BEGIN_TF_DOCS -->")[0]
    code = code_text()
    variables = text(REPO / "variables.tf")
    declared = set(re.findall(r'^variable "(\w+)"', variables, re.M))
    named = {
        name
        for name in re.findall(r"`([A-Za-z]\w*(?:\.\w+)*)`", document)
        if "_" in name or "." in name
    }
    files = {source.name for source in REPO.rglob("*") if ".venv" not in source.parts}
    unknown = []
    for name in sorted(named):
        head, *fields = name.split(".")
        if fields == ["lambda_handler"]:  # a function's handler: its entry module
            if not (LAMBDA_SOURCE / f"{head}.py").is_file():
                unknown.append(name)
        elif re.fullmatch(r"\w+\.(py|tf|md|toml|hcl)", name):
            if name not in files:
                unknown.append(name)
        elif head in declared and fields:
            block = variables.split(f'variable "{head}"', 1)[1].split("\nvariable ", 1)[0]
            if not re.search(rf"\b{fields[0]}\s+=\s+optional\(", block):
                unknown.append(name)
        elif head not in code:
            unknown.append(name)

    assert unknown == []
