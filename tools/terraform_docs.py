"""Inputs and Outputs tables of README.md, rendered from variables.tf and outputs.tf.

terraform-docs cannot be installed here, so this does its job: `make docs` rewrites the
block between the markers, and a test fails when the README and the .tf files disagree.
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _expression(value: Any) -> str:
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return re.sub(r"\s+", " ", text)


def _default(block: dict[str, Any]) -> str:
    if "default" not in block:
        return "n/a"
    value = block["default"]
    if value is None or value == "null":
        return "`null`"
    return f"`{json.dumps(_unquote(value) if isinstance(value, str) else value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    document = hcl2.load(path.open())
    entries = document.get(kind, [])
    return [(_unquote(name), body) for entry in entries for name, body in entry.items()]


def render(root: Path = ROOT) -> str:
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |"]
    lines.append("|---|---|---|---|:---:|")
    for name, block in _blocks(root / "variables.tf", "variable"):
        description = _cell(_unquote(block.get("description", "")))
        type_ = _cell(_expression(block.get("type", "any")))
        default = _cell(_default(block))
        required = "no" if "default" in block else "yes"
        lines.append(f"| `{name}` | {description} | `{type_}` | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, block in _blocks(root / "outputs.tf", "output"):
        lines.append(f"| `{name}` | {_cell(_unquote(block.get('description', '')))} |")
    return "\n".join(lines)


def with_tables(readme: str, tables: str) -> str:
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return f"{readme[:start]}\n{tables}\n{readme[end:]}"


def main() -> int:
    readme = ROOT / "README.md"
    readme.write_text(with_tables(readme.read_text(), render()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
